"""Azure Resource Manager: Resource Graph paged queries for everything it holds (one paged
query for all resources of the needed types, one per other table), azure-mgmt-resource for
what it does not (provider registrations, the subscription's activity-log diagnostic
settings). Clients are built once per engine; retries (429 with Retry-After, 5xx) are the
azure-core pipeline's."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, TypeVar

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
LOCATIONS_QUERY = "resources | summarize resources = count() by location | project location"


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
    """Resource Graph and ARM reads for one subscription."""

    def __init__(
        self, config: ScanConfig, credential: Any, subscription_id: str, counter: RequestCounter
    ) -> None:
        from azure.mgmt.resource.resources import ResourceManagementClient
        from azure.mgmt.resourcegraph import ResourceGraphClient

        self.config = config
        self.subscription_id = subscription_id
        self.counter = counter
        options: dict[str, Any] = {
            "base_url": config.origin(config.arm_endpoint),
            "credential_scopes": [config.arm_scope],
            "retry_total": config.retries,
            "retry_backoff_factor": config.retry_backoff_s,
            "connection_timeout": min(config.timeout_s, 30.0),
            "read_timeout": config.timeout_s,
        }
        self.resource_graph = ResourceGraphClient(credential, **options)
        self.arm = ResourceManagementClient(credential, subscription_id, **options)

    def close(self) -> None:
        self.resource_graph.close()
        self.arm.close()

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
        """All rows of a Resource Graph query, following `$skipToken` page by page."""
        from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

        rows: list[dict[str, Any]] = []
        token: str | None = None
        operation = (
            f"POST /providers/Microsoft.ResourceGraph/resources ({query.split('|')[0].strip()})"
        )
        while True:
            request = QueryRequest(
                subscriptions=[self.subscription_id],
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

    def locations(self) -> list[str]:
        return sorted({str(r.get("location", "")).lower() for r in self.query(LOCATIONS_QUERY)})

    # -- ARM (azure-mgmt-resource) ----------------------------------------------------------

    def providers(self) -> list[dict[str, Any]]:
        """Resource provider registrations. The first ARM call of a scan: it also proves the
        identity can read the subscription (404/403 here fail the scan with that message)."""
        operation = f"GET /subscriptions/{self.subscription_id}/providers"

        def read_all() -> list[dict[str, Any]]:
            pages = self.arm.providers.list().by_page()
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

    def activity_log_diagnostics(self) -> list[dict[str, Any]]:
        """The subscription's diagnostic settings (Resource Graph does not hold them)."""
        from azure.core.rest import HttpRequest

        path = (
            f"/subscriptions/{self.subscription_id}/providers/Microsoft.Insights/diagnosticSettings"
        )
        request = HttpRequest("GET", path, params={"api-version": DIAGNOSTICS_API})

        def read() -> list[dict[str, Any]]:
            response = self.arm.send_request(request)
            response.raise_for_status()
            body = response.json()
            return [s for s in body.get("value", []) if isinstance(s, dict)]

        return self._call(ARM, f"GET {path}", read, soft=True)
