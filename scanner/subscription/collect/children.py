"""Per-resource ARM reads: what Resource Graph does not hold (SQL firewall rules, auditing
settings, database configurations, blob service properties, Key Vault key and secret
attributes, diagnostic settings, ...), read for every parent of a type, and subscription-level
ARM reads (security contacts, auto-provisioning).

`CHILD_READS` is the table of known reads: adding a read is one line (parent type, path under
the parent, api-version, whether the answer is a list or a single resource). Each read is an
inventory section whose rows are the child resources, each annotated with `parentId` and
`parentName` so a rule can report the parent. Sections are named
`children:<parent type>/<path>` (e.g. `children:microsoft.sql/servers/firewallRules`) and
`subscription:<path>` for subscription-level reads.

Requests go through azure-mgmt-core's async ARM pipeline (azure-mgmt-resource's async client:
the same credential, the SDK's retry policy honouring Retry-After, ARM challenge
authentication), with at most `concurrency` requests in flight. A 404 means the parent has no
such child; a 403 makes the section unavailable (its rules report a soft error); anything else
that still fails after the retries fails the collection.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from scanner.subscription import inventory as inv
from scanner.subscription.collect.arm import ARM, RequestCounter
from scanner.subscription.collect.credentials import AsyncCredential
from scanner.subscription.collect.errors import (
    CredentialError,
    SectionUnavailableError,
    ServiceFailureError,
)
from scanner.subscription.config import ScanConfig

log = logging.getLogger(__name__)

_RETRYABLE = {408, 429, 500, 502, 503, 504}
# A list answer that keeps pointing to a next page beyond this is a service bug, not data.
_MAX_PAGES = 1000


@dataclass(frozen=True)
class ChildRead:
    """One ARM read per parent resource of `parent_type` (or once, for the subscription)."""

    parent_type: str  # lower-case ARM type, or inv.SUBSCRIPTION for subscription-level reads
    path: str  # under the parent id, e.g. `firewallRules`, `blobServices/default`
    api_version: str
    single: bool = False  # a single resource (GET body) rather than a list (`value` items)

    @property
    def section(self) -> str:
        if self.parent_type == inv.SUBSCRIPTION:
            return inv.subscription_section(self.path)
        return inv.children(self.parent_type, self.path)


SQL = "microsoft.sql/servers"
STORAGE = "microsoft.storage/storageaccounts"
VAULTS = "microsoft.keyvault/vaults"
DIAGNOSTICS = "providers/Microsoft.Insights/diagnosticSettings"

# The known reads. Rule writers add a line here and name its `section` in their rule.
CHILD_READS: tuple[ChildRead, ...] = (
    ChildRead(SQL, "firewallRules", "2021-11-01"),
    ChildRead(SQL, "administrators", "2021-11-01"),
    ChildRead(SQL, "azureADOnlyAuthentications/Default", "2021-11-01", single=True),
    ChildRead(SQL, "auditingSettings/default", "2021-11-01", single=True),
    ChildRead(SQL, "securityAlertPolicies/Default", "2021-11-01", single=True),
    ChildRead(SQL, "encryptionProtector/current", "2021-11-01", single=True),
    ChildRead(SQL, "vulnerabilityAssessments/default", "2021-11-01", single=True),
    ChildRead(SQL, "sqlVulnerabilityAssessments/default", "2023-08-01", single=True),
    ChildRead(
        "microsoft.sql/servers/databases",
        "transparentDataEncryption/current",
        "2021-11-01",
        single=True,
    ),
    ChildRead("microsoft.dbforpostgresql/flexibleservers", "configurations", "2022-12-01"),
    ChildRead("microsoft.dbforpostgresql/flexibleservers", "firewallRules", "2022-12-01"),
    ChildRead("microsoft.dbformysql/flexibleservers", "configurations", "2023-12-30"),
    ChildRead(STORAGE, "blobServices/default", "2023-05-01", single=True),
    ChildRead(STORAGE, "fileServices/default", "2023-05-01", single=True),
    ChildRead(STORAGE, f"blobServices/default/{DIAGNOSTICS}", "2021-05-01-preview"),
    ChildRead(STORAGE, f"queueServices/default/{DIAGNOSTICS}", "2021-05-01-preview"),
    ChildRead(STORAGE, f"tableServices/default/{DIAGNOSTICS}", "2021-05-01-preview"),
    ChildRead(VAULTS, "keys", "2023-07-01"),
    ChildRead(VAULTS, "secrets", "2023-07-01"),
    ChildRead(VAULTS, DIAGNOSTICS, "2021-05-01-preview"),
    ChildRead("microsoft.web/sites", "config/authsettingsV2", "2023-12-01", single=True),
    ChildRead("microsoft.web/sites", "basicPublishingCredentialsPolicies", "2023-12-01"),
    ChildRead(
        inv.SUBSCRIPTION, "providers/Microsoft.Security/securityContacts", "2023-12-01-preview"
    ),
    ChildRead(
        inv.SUBSCRIPTION,
        "providers/Microsoft.Security/autoProvisioningSettings",
        "2017-08-01-preview",
    ),
    ChildRead(inv.SUBSCRIPTION, "providers/Microsoft.Security/settings", "2022-05-01"),
)

_BY_SECTION: dict[str, ChildRead] = {read.section.lower(): read for read in CHILD_READS}
if len(_BY_SECTION) != len(CHILD_READS):
    raise ValueError("two child reads share a section name")


def child_read(section: str) -> ChildRead | None:
    """The read behind a section name (case-insensitive), or None when it is not one."""
    return _BY_SECTION.get(section.lower())


def _detail(body: Any, fallback: str) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message")
        return f"{code}: {message}" if code else str(message or fallback)
    return fallback


class ChildReader:
    """Reads child sections of one subscription on one event loop."""

    def __init__(
        self, config: ScanConfig, credential: Any, subscription_id: str, counter: RequestCounter
    ) -> None:
        import aiohttp
        from azure.core.pipeline.transport import AioHttpTransport
        from azure.mgmt.resource.resources.aio import ResourceManagementClient

        self.config = config
        self.subscription_id = subscription_id
        self.counter = counter
        self.semaphore = asyncio.Semaphore(max(1, config.concurrency))
        # One TLS context and one connection pool for every read: per-request TLS settings
        # would make aiohttp open (and handshake) a new connection for each request. The
        # context is built now so that the CA bundle SSL_CERT_FILE names is read now (aiohttp's
        # own default context is built once per process).
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                ssl=ssl.create_default_context(), limit=max(1, config.concurrency)
            ),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=True,
        )
        # azure-mgmt-resource's async client is an AsyncARMPipelineClient with the SDK's
        # policies (retry honouring Retry-After, ARM challenge authentication, logging);
        # `send_request` sends our generic GETs through it.
        self.client: Any = ResourceManagementClient(
            AsyncCredential(credential),
            subscription_id,
            base_url=config.origin(config.arm_endpoint),
            credential_scopes=[config.arm_scope],
            retry_total=config.retries,
            retry_backoff_factor=config.retry_backoff_s,
            connection_timeout=min(config.timeout_s, 30.0),
            read_timeout=config.timeout_s,
            transport=AioHttpTransport(session=self.session, session_owner=False),
        )

    async def close(self) -> None:
        await self.client.close()
        await self.session.close()

    async def _get(self, url: str, api_version: str | None) -> tuple[int, Any]:
        """One GET through the pipeline (retries included): (status, JSON body)."""
        from azure.core.exceptions import (
            ClientAuthenticationError,
            ServiceRequestError,
            ServiceResponseError,
        )
        from azure.core.rest import HttpRequest

        params = {"api-version": api_version} if api_version else None
        request = HttpRequest("GET", url, params=params)
        async with self.semaphore:
            self.counter.add(ARM)
            try:
                response = await self.client.send_request(request)
                await response.read()
            except ClientAuthenticationError as exc:
                raise CredentialError(ARM, str(exc)) from exc
            except (ServiceRequestError, ServiceResponseError) as exc:
                raise ServiceFailureError(ARM, f"GET {url}", None, str(exc)) from exc
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        return response.status_code, body

    async def read(self, read: ChildRead, parent_id: str) -> list[dict[str, Any]]:
        """The children of one parent (an empty list when the parent has none)."""
        path = f"{parent_id.rstrip('/')}/{read.path}"
        operation = f"GET {path}"
        rows: list[dict[str, Any]] = []
        url: str | None = quote(path, safe="/")
        api_version: str | None = read.api_version
        pages = 0
        while url:
            status, body = await self._get(url, api_version)
            if status == 404:
                return []
            if status == 403:
                raise SectionUnavailableError(ARM, operation, status, _detail(body, "forbidden"))
            if status >= 400 or not isinstance(body, dict):
                attempts = self.config.retries + 1 if status in _RETRYABLE else 1
                detail = _detail(body, "the answer is not a JSON object")
                raise ServiceFailureError(ARM, operation, status, detail, attempts)
            if read.single:
                return [_annotated(body, parent_id)]
            rows += [_annotated(item, parent_id) for item in body.get("value") or []]
            # nextLink carries its own api-version and skip token.
            url, api_version = body.get("nextLink") or None, None
            pages += 1
            if pages >= _MAX_PAGES:
                raise ServiceFailureError(ARM, operation, status, "too many pages", 1)
        return rows

    async def section(
        self, read: ChildRead, parents: Iterable[str]
    ) -> list[dict[str, Any]] | SectionUnavailableError:
        tasks = [asyncio.ensure_future(self.read(read, parent)) for parent in parents]
        try:
            results = await asyncio.gather(*tasks)
        except SectionUnavailableError as exc:
            return exc
        finally:
            for task in tasks:
                task.cancel()
        return [row for rows in results for row in rows]


def _annotated(item: Any, parent_id: str) -> dict[str, Any]:
    row = dict(item) if isinstance(item, dict) else {"value": item}
    row["parentId"] = parent_id
    row["parentName"] = parent_id.rstrip("/").rsplit("/", 1)[-1]
    return row


async def _read_sections(
    config: ScanConfig,
    credential: Any,
    counter: RequestCounter,
    wanted: Mapping[str, ChildRead],
    parents: Mapping[str, Mapping[str, list[str]]],
) -> dict[str, dict[str, Any]]:
    # One reader (one event loop, one connection pool, one bound on requests in flight) for
    # every subscription: a read's URL is its parent's id, whatever the client's subscription.
    reader = ChildReader(config, credential, next(iter(parents)), counter)
    try:
        keys = [(sub, name) for sub in parents for name in sorted(wanted)]
        results = await asyncio.gather(
            *(
                reader.section(wanted[name], parents[sub].get(wanted[name].parent_type, []))
                for sub, name in keys
            )
        )
        out: dict[str, dict[str, Any]] = {sub: {} for sub in parents}
        for (sub, name), result in zip(keys, results, strict=True):
            out[sub][name] = result
        return out
    finally:
        await reader.close()


def read_children_by_subscription(
    config: ScanConfig,
    credential: Any,
    counter: RequestCounter,
    wanted: Mapping[str, ChildRead],
    parents: Mapping[str, Mapping[str, list[str]]],
) -> dict[str, dict[str, Any]]:
    """Subscription -> section name -> rows (or SectionUnavailableError) for each wanted
    read. `parents` maps each subscription to its parent types' resource ids; its
    subscription-level reads need no parents. A 403 makes the section unavailable in that
    subscription only."""
    with_subscription = {
        sub: {**by_type, inv.SUBSCRIPTION: [f"/subscriptions/{sub}"]}
        for sub, by_type in parents.items()
    }
    if not wanted or not parents:
        return {sub: {} for sub in parents}
    return asyncio.run(_read_sections(config, credential, counter, wanted, with_subscription))


def read_children(
    config: ScanConfig,
    credential: Any,
    subscription_id: str,
    counter: RequestCounter,
    wanted: Mapping[str, ChildRead],
    parents: Mapping[str, list[str]],
) -> dict[str, Any]:
    """Section name -> rows (or SectionUnavailableError) for each wanted read of one
    subscription. `parents` maps a parent type to its resource ids."""
    return read_children_by_subscription(
        config, credential, counter, wanted, {subscription_id: parents}
    )[subscription_id]
