"""Azure Resource Manager: Resource Graph paged queries for everything it holds (one paged
query for all resources of the needed types, one per other table, each over every subscription
of the scan at once: rows name their subscription), azure-mgmt-resource for what it does not
(provider registrations, a subscription's activity-log diagnostic settings, a management
group's descendants). Retries (429 with Retry-After, 5xx) are the azure-core pipeline's."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

from scanner.subscription.collect.errors import (
    CredentialError,
    SectionUnavailableError,
    ServiceFailureError,
)
from scanner.subscription.config import ScanConfig

log = logging.getLogger(__name__)
T = TypeVar("T")

RESOURCE_GRAPH = "Azure Resource Graph"
ARM = "Azure Resource Manager"
DIAGNOSTICS_API = "2021-05-01-preview"
MANAGEMENT_GROUPS_API = "2020-05-01"
SUBSCRIPTION_TYPE = "microsoft.management/managementgroups/subscriptions"
# Subscriptions one Resource Graph request names at most (the service's own limit is larger;
# smaller requests keep one page's cost bounded).
QUERY_SUBSCRIPTIONS = 1000
# A descendants answer that keeps pointing to a next page beyond this is a service bug.
_MAX_PAGES = 1000
_RETRYABLE = {408, 429, 500, 502, 503, 504}
# managedBy names a resource's owner (the VM a managed disk is attached to): a column of
# Resource Graph's resources table, outside `properties`.
_RESOURCE_COLUMNS = (
    "id, name, type, kind, location, resourceGroup, subscriptionId, managedBy, sku, identity, "
    "tags, properties"
)


def _quote(value: str) -> str:
    if not all(ch.isalnum() or ch in "./-_" for ch in value):
        raise ValueError(f"unexpected character in {value!r}")
    return f"'{value}'"


def resources_query(types: Iterable[str]) -> str:
    wanted = ", ".join(_quote(t.lower()) for t in sorted(set(types)))
    return f"resources | where type in~ ({wanted}) | project {_RESOURCE_COLUMNS}"


WEB_CONFIGS_QUERY = (
    "appserviceresources | where type =~ 'microsoft.web/sites/config' "
    "| project id, name, type, properties"
)
DEFENDER_PLANS_QUERY = (
    "securityresources | where type =~ 'microsoft.security/pricings' "
    "| project id, name, type, properties"
)
CUSTOM_ROLES_QUERY = (
    "authorizationresources | where type =~ 'microsoft.authorization/roledefinitions' "
    "| where properties.type =~ 'CustomRole' | project id, name, type, properties"
)
LOCATIONS_QUERY = (
    "resources | summarize resources = count() by location, subscriptionId "
    "| project location, subscriptionId"
)


def _detail(exc: Any) -> str:
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    message = getattr(error, "message", None) or getattr(exc, "message", None) or str(exc)
    return f"{code}: {message}" if code else str(message)


class RequestCounter:
    """Requests this process sent per service (pages, not resources), for the scan summary."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def add(self, service: str, n: int = 1) -> None:
        with self._lock:
            self.counts[service] = self.counts.get(service, 0) + n


class ArmCollector:
    """Resource Graph reads over the scan's subscriptions, ARM reads of each one."""

    def __init__(
        self,
        config: ScanConfig,
        credential: Any,
        subscriptions: Sequence[str],
        counter: RequestCounter,
    ) -> None:
        from azure.mgmt.resourcegraph import ResourceGraphClient

        self.config = config
        self.credential = credential
        self.subscriptions = list(subscriptions)
        # Tenant-level reads (a management group's descendants) need no subscription.
        self.subscription_id = self.subscriptions[0] if self.subscriptions else ""
        self.counter = counter
        self.options: dict[str, Any] = {
            "base_url": config.origin(config.arm_endpoint),
            "credential_scopes": [config.arm_scope],
            "retry_total": config.retries,
            "retry_backoff_factor": config.retry_backoff_s,
            "connection_timeout": min(config.timeout_s, 30.0),
            "read_timeout": config.timeout_s,
        }
        self.resource_graph = ResourceGraphClient(credential, **self.options)
        self._lock = threading.Lock()
        self._arm: dict[str, Any] = {}

    def arm(self, subscription_id: str | None = None) -> Any:
        """azure-mgmt-resource's client of one subscription (made on first use)."""
        from azure.mgmt.resource.resources import ResourceManagementClient

        key = subscription_id or self.subscription_id
        with self._lock:
            if key not in self._arm:
                self._arm[key] = ResourceManagementClient(self.credential, key, **self.options)
            return self._arm[key]

    def close(self) -> None:
        self.resource_graph.close()
        with self._lock:
            clients, self._arm = list(self._arm.values()), {}
        for client in clients:
            client.close()

    def _call(self, service: str, operation: str, call: Callable[[], T], soft: bool = False) -> T:
        """Run one SDK call; map what failed after the pipeline's retries to our errors."""
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            ServiceRequestError,
            ServiceResponseError,
        )

        self.counter.add(service)
        try:
            return call()
        except ClientAuthenticationError as exc:
            status = getattr(exc, "status_code", None)
            if getattr(exc, "response", None) is None or status is None:
                raise CredentialError(service, _detail(exc)) from exc
            raise ServiceFailureError(service, operation, status, _detail(exc)) from exc
        except HttpResponseError as exc:
            status = exc.status_code
            attempts = self.config.retries + 1 if status in _RETRYABLE else 1
            if soft and status is not None and 400 <= status < 500 and status not in _RETRYABLE:
                raise SectionUnavailableError(service, operation, status, _detail(exc)) from exc
            raise ServiceFailureError(service, operation, status, _detail(exc), attempts) from exc
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise ServiceFailureError(service, operation, None, str(exc)) from exc

    # -- Resource Graph ---------------------------------------------------------------------

    def query(self, query: str) -> list[dict[str, Any]]:
        """All rows of a Resource Graph query over the collector's subscriptions, following
        `$skipToken` page by page."""
        rows: list[dict[str, Any]] = []
        for start in range(0, len(self.subscriptions), QUERY_SUBSCRIPTIONS):
            rows += self._query(query, self.subscriptions[start : start + QUERY_SUBSCRIPTIONS])
        return rows

    def _query(self, query: str, subscriptions: list[str]) -> list[dict[str, Any]]:
        from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

        rows: list[dict[str, Any]] = []
        token: str | None = None
        operation = (
            f"POST /providers/Microsoft.ResourceGraph/resources ({query.split('|')[0].strip()})"
        )
        while True:
            request = QueryRequest(
                subscriptions=subscriptions,
                query=query,
                options=QueryRequestOptions(
                    top=self.config.resource_graph_page_size,
                    skip_token=token,
                    result_format="objectArray",
                ),
            )
            response: Any = self._call(
                RESOURCE_GRAPH, operation, partial(self.resource_graph.resources, request)
            )
            data: Any = response.data or []
            if isinstance(data, dict):  # table format: columns + rows
                columns = [c["name"] for c in data.get("columns", [])]
                data = [dict(zip(columns, row, strict=False)) for row in data.get("rows", [])]
            rows.extend(row for row in data if isinstance(row, dict))
            token = response.skip_token
            if not token:
                return rows

    def resources_by_type(self, types: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        wanted = sorted({t.lower() for t in types})
        grouped: dict[str, list[dict[str, Any]]] = {t: [] for t in wanted}
        if not wanted:
            return grouped
        for row in self.query(resources_query(wanted)):
            kind = str(row.get("type", "")).lower()
            if kind in grouped:
                grouped[kind].append(row)
        return grouped

    def web_configs(self) -> list[dict[str, Any]]:
        configs = []
        for row in self.query(WEB_CONFIGS_QUERY):
            rid = str(row.get("id", ""))
            cut = rid.lower().rfind("/config/")
            site_id = rid[:cut] if cut >= 0 else rid
            configs.append({**row, "siteId": site_id, "siteName": site_id.rsplit("/", 1)[-1]})
        return configs

    def defender_plans(self) -> list[dict[str, Any]]:
        return self.query(DEFENDER_PLANS_QUERY)

    def custom_roles(self) -> list[dict[str, Any]]:
        return self.query(CUSTOM_ROLES_QUERY)

    def locations(self) -> list[dict[str, Any]]:
        """One row per (region, subscription) with resources; `locations_of` makes a
        subscription's section of them."""
        return self.query(LOCATIONS_QUERY)

    # -- ARM (azure-mgmt-resource) ----------------------------------------------------------

    def providers(self, subscription_id: str | None = None) -> list[dict[str, Any]]:
        """Resource provider registrations. The first ARM call of a subscription: it also
        proves the identity can read it (404/403 here say it cannot)."""
        subscription = subscription_id or self.subscription_id
        operation = f"GET /subscriptions/{subscription}/providers"

        def read_all() -> list[dict[str, Any]]:
            pages = self.arm(subscription).providers.list().by_page()
            out: list[dict[str, Any]] = []
            for index, page in enumerate(pages):
                if index:
                    self.counter.add(ARM)
                out += [
                    {"namespace": p.namespace, "registrationState": p.registration_state}
                    for p in page
                ]
            return out

        return self._call(ARM, operation, read_all)

    def activity_log_diagnostics(self, subscription_id: str | None = None) -> list[dict[str, Any]]:
        """A subscription's diagnostic settings (Resource Graph does not hold them)."""
        from azure.core.rest import HttpRequest

        subscription = subscription_id or self.subscription_id
        path = f"/subscriptions/{subscription}/providers/Microsoft.Insights/diagnosticSettings"
        request = HttpRequest("GET", path, params={"api-version": DIAGNOSTICS_API})

        def read() -> list[dict[str, Any]]:
            response = self.arm(subscription).send_request(request)
            response.raise_for_status()
            body = response.json()
            return [s for s in body.get("value", []) if isinstance(s, dict)]

        return self._call(ARM, f"GET {path}", read, soft=True)

    def management_group_subscriptions(self, group_id: str) -> list[dict[str, str]]:
        """The subscriptions anywhere under a management group (its descendants of type
        subscription), in the order ARM lists them: `[{"subscriptionId", "displayName"}]`.

        Sent through azure-mgmt-resource's pipeline (the same credential, retries and ARM
        challenge authentication); pages are followed by `nextLink`."""
        from azure.core.rest import HttpRequest

        group = quote(group_id, safe="")
        path = f"/providers/Microsoft.Management/managementGroups/{group}/descendants"
        operation = f"GET {path}"

        def read_all() -> list[dict[str, str]]:
            found: dict[str, dict[str, str]] = {}
            request: HttpRequest | None = HttpRequest(
                "GET", path, params={"api-version": MANAGEMENT_GROUPS_API}
            )
            pages = 0
            while request is not None:
                if pages:
                    self.counter.add(ARM)
                response = self.arm().send_request(request)
                response.raise_for_status()
                body = response.json()
                for entry in body.get("value") or []:
                    if not isinstance(entry, dict):
                        continue
                    if str(entry.get("type", "")).lower() != SUBSCRIPTION_TYPE:
                        continue
                    subscription = str(entry.get("name", "")).lower()
                    properties = entry.get("properties") or {}
                    if subscription and subscription not in found:
                        found[subscription] = {
                            "subscriptionId": subscription,
                            "displayName": str(properties.get("displayName") or ""),
                        }
                link = body.get("nextLink")
                request = HttpRequest("GET", link) if link else None
                pages += 1
                if pages >= _MAX_PAGES:
                    raise ServiceFailureError(ARM, operation, None, "too many pages", 1)
            return list(found.values())

        return self._call(ARM, operation, read_all)


def locations_of(rows: Iterable[dict[str, Any]]) -> list[str]:
    """A subscription's `locations` section from its rows of LOCATIONS_QUERY."""
    return sorted({str(r.get("location", "")).lower() for r in rows})
