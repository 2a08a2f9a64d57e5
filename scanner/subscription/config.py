"""What the subscription engine needs to know about its environment (built by the wiring
module from settings; plain data so the engine stays free of settings machinery)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class ScanConfig:
    authority_host: str = "https://login.microsoftonline.com"
    arm_endpoint: str = "https://management.azure.com"
    graph_endpoint: str = "https://graph.microsoft.com"
    osv_endpoint: str = "https://api.osv.dev"
    # HTTP behaviour shared by every client: retries of 429/5xx (Retry-After is always
    # honoured), exponential back-off base, timeouts, calls in flight at once.
    retries: int = 4
    retry_backoff_s: float = 0.8
    timeout_s: float = 60.0
    concurrency: int = 4
    # Page sizes: Resource Graph allows 1000 rows per page, Microsoft Graph 999 users.
    graph_page_size: int = 999
    resource_graph_page_size: int = 1000
    # Managed identity is tried only where one exists: on Azure Functions/App Service (the
    # platform sets IDENTITY_ENDPOINT) or when enabled for a VM's IMDS. Elsewhere a missing
    # service principal fails the scan at once instead of probing the IMDS address.
    managed_identity: bool = False
    osv_enabled: bool = True
    osv_batch_size: int = 1000
    osv_cache_ttl_hours: float = 24.0
    # Details (aliases, summary, severity) are fetched for at most this many distinct
    # vulnerabilities per scan; the rest keep their OSV id only.
    osv_max_details: int = 200

    @staticmethod
    def origin(endpoint: str) -> str:
        """`https://host[:port]` of an endpoint, without path or trailing slash."""
        parts = urlsplit(endpoint.strip())
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def arm_scope(self) -> str:
        return f"{self.origin(self.arm_endpoint)}/.default"

    @property
    def graph_scope(self) -> str:
        return f"{self.origin(self.graph_endpoint)}/.default"
