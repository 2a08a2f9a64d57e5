"""Fake Azure for tests and benchmarks: Entra ID (token), ARM + Resource Graph, Microsoft
Graph and OSV as TLS servers on loopback, with a trustme CA the real SDK clients trust.

    with FakeAzure(planted_tenant(), tmp_path) as fake:
        env = fake.env()      # settings + CA bundle for the process that runs the scan
        fake.fail("graph", "/users", 429, times=1, retry_after="1")
        fake.counts()         # {"token": 2, "arm": 2, "resourceGraph": 9, "graph": 14, ...}
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import trustme

from tests.support.azure_fakes.dataset import (
    MANAGEMENT_GROUP_ID,
    SECOND_SUBSCRIPTION_ID,
    SUBSCRIPTION_ID,
    TENANT_ID,
    THIRD_SUBSCRIPTION_ID,
    UNREADABLE_SUBSCRIPTION_ID,
    Tenant,
    generated_tenant,
    multi_subscription_tenant,
    planted_tenant,
    with_more_subscriptions,
)
from tests.support.azure_fakes.server import Fault, Stats, TlsServer
from tests.support.azure_fakes.services import (
    ArmService,
    GraphService,
    OsvService,
    Tokens,
    TokenService,
)

LABELS = ("token", "arm", "resourceGraph", "graph", "osv")


class FakeAzure:
    def __init__(self, tenant: Tenant, workdir: Path, token_lifetime_s: float = 3600) -> None:
        self.tenant = tenant
        workdir.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA()
        self.ca_path = workdir / "fake-azure-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_path))
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(tls)
        self.stats = Stats()
        self.tokens = Tokens(token_lifetime_s)
        self.login = TlsServer(TokenService(tenant, self.tokens), tls, self.stats)
        self.arm = TlsServer(ArmService(tenant, self.tokens), tls, self.stats)
        self.graph = TlsServer(GraphService(tenant, self.tokens), tls, self.stats)
        self.osv = TlsServer(OsvService(tenant), tls, self.stats)

    def use(self, tenant: Tenant) -> None:
        """Serve another tenant from now on (same endpoints, same credentials required)."""
        self.tenant = tenant
        for server in (self.login, self.arm, self.graph, self.osv):
            server.server.service.tenant = tenant  # type: ignore[attr-defined]

    def env(self) -> dict[str, str]:
        """What a process needs to scan this tenant: the service principal (azure-identity's
        environment credential), the endpoints, and trust in the fake CA (requests reads
        REQUESTS_CA_BUNDLE, httpx reads SSL_CERT_FILE)."""
        return {
            "AZURE_TENANT_ID": self.tenant.tenant_id,
            "AZURE_CLIENT_ID": self.tenant.client_id,
            "AZURE_CLIENT_SECRET": self.tenant.client_secret,
            "AZURE_AUTHORITY_HOST": self.login.url,
            "ARM_ENDPOINT": self.arm.url,
            "GRAPH_ENDPOINT": self.graph.url,
            "OSV_ENDPOINT": self.osv.url,
            "REQUESTS_CA_BUNDLE": str(self.ca_path),
            "SSL_CERT_FILE": str(self.ca_path),
        }

    def fail(
        self,
        label: str,
        path_contains: str,
        status: int,
        times: int | None = None,
        retry_after: str | None = None,
    ) -> Fault:
        """Answer `status` to requests of `label` whose path contains `path_contains`:
        `times` times, or every time (None)."""
        fault = Fault(label, path_contains, status, times, retry_after)
        with self.stats.lock:
            self.stats.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.stats.lock:
            self.stats.faults.clear()

    def counts(self) -> dict[str, int]:
        with self.stats.lock:
            return {label: self.stats.counts.get(label, 0) for label in LABELS}

    def requests(self, label: str) -> list[tuple[str, str]]:
        with self.stats.lock:
            return [(m, p) for lab, m, p in self.stats.paths if lab == label]

    def reset_counts(self) -> None:
        with self.stats.lock:
            self.stats.counts.clear()
            self.stats.paths.clear()

    def stop(self) -> None:
        for server in (self.login, self.arm, self.graph, self.osv):
            server.stop()

    def __enter__(self) -> FakeAzure:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


__all__ = [
    "MANAGEMENT_GROUP_ID",
    "SECOND_SUBSCRIPTION_ID",
    "SUBSCRIPTION_ID",
    "TENANT_ID",
    "THIRD_SUBSCRIPTION_ID",
    "UNREADABLE_SUBSCRIPTION_ID",
    "FakeAzure",
    "Tenant",
    "generated_tenant",
    "multi_subscription_tenant",
    "planted_tenant",
    "with_more_subscriptions",
]
