"""The service as the dashboard's tests and screenshots see it: the standalone host serving
dashboard/ and the API, a real sshd to scan, fake Azure services over TLS for a subscription,
and a real Git repository with GxP documents (complete chains and gaps)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.support import git_repos as docs
from tests.support.azure_fakes import (
    SUBSCRIPTION_ID,
    FakeAzure,
    planted_tenant,
    with_more_subscriptions,
)
from tests.support.host_process import ROOT, HostProcess
from tests.support.scan_api import API_KEY, SCAN_API_APP, scan_api_env
from tests.support.sshd import LOGIN_USER, Sshd, make_key, public_key

DASHBOARD_DIR = ROOT / "dashboard"
TERMINAL = ("completed", "failed", "cancelled")
# Synthetic scans (the slow ones) that run at once; more wait their turn.
SYNTHETIC_LIMIT = 2
MARKUP_TITLE = '<img src=x onerror="window.__injected=1">Batch release'


def gxp_tree() -> dict[str, str]:
    """Two complete chains, a story without a specification, a requirement without stories,
    a rejected specification and a test without a parent: every colour and gap of the matrix;
    and a title that looks like HTML."""
    files = {**docs.clean_tree("001"), **docs.clean_tree("002")}
    # Scanned text that looks like markup must reach the page as text.
    files["reqs/REQ-002.md"] = docs.requirement("REQ-002", title=MARKUP_TITLE)
    files["stories/US-002-002.md"] = docs.story("US-002-002", "REQ-002", status="IN_REVIEW")
    files["reqs/REQ-003.md"] = docs.requirement("REQ-003", status="DRAFT", validation_status=None)
    files["specs/SPEC-001-002.md"] = docs.specification(
        "SPEC-001-002", "US-001-001", validation_status="REJECTED"
    )
    files["tests/TC-009-001-001.md"] = docs.tc_document("TC-009-001-001", None)
    return files


@dataclass
class DashboardService:
    host: HostProcess
    repo: docs.GitRepo
    sshd: Sshd
    azure: FakeAzure
    client_key: Path  # the key the service logs in to hosts with

    @property
    def url(self) -> str:
        return self.host.base_url

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"X-API-Key": API_KEY, **kwargs.pop("headers", {})}
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def wait(self, scan_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            scan: dict[str, Any] = self.api("GET", f"/api/v1/scans/{scan_id}").json()
            if scan["status"] in TERMINAL or time.monotonic() > deadline:
                return scan
            time.sleep(0.2)

    def register_repository(self, repo_id: str = "gxp-docs") -> dict[str, Any]:
        body = {"id": repo_id, "name": "GxP documents", "url": str(self.repo.path)}
        response = self.api("POST", "/api/v1/repositories", json=body)
        assert response.status_code in (201, 409), response.text
        return dict(self.api("GET", f"/api/v1/repositories/{repo_id}").json())

    def scan(self, body: dict[str, Any], wait: bool = True) -> dict[str, Any]:
        response = self.api("POST", "/api/v1/scans", json=body)
        assert response.status_code == 202, response.text
        scan_id = response.json()["scanId"]
        return self.wait(scan_id) if wait else {"scanId": scan_id}

    def host_scan(self, scan_type: str = "full", sshd: Sshd | None = None) -> dict[str, Any]:
        """A scan of the test sshd, or of another one on this machine that logs the key in."""
        server = sshd or self.sshd
        return self.scan(
            {
                "targetType": "host",
                "hostname": "127.0.0.1",
                "port": server.port,
                "username": server.user,
                "scanType": scan_type,
            }
        )

    def subscription_scan(self) -> dict[str, Any]:
        return self.scan({"targetType": "subscription", "subscriptionId": SUBSCRIPTION_ID})

    def slow_scan(self, name: str = "slow", items: int = 40, delay_ms: int = 1000) -> str:
        """A scan that runs long enough to be cancelled (the test app's synthetic kind)."""
        body = {"targetType": "synthetic", "name": name, "items": items, "itemDelayMs": delay_ms}
        return str(self.scan(body, wait=False)["scanId"])


@contextlib.contextmanager
def dashboard_service(azurite: str, workdir: Path) -> Iterator[DashboardService]:
    client_key = make_key(workdir / "ssh-client" / "id_ed25519")
    azure = FakeAzure(with_more_subscriptions(planted_tenant()), workdir / "azure")
    repo = docs.GitRepo(workdir / "gxp-docs")
    repo.write_artifacts(gxp_tree())
    repo.commit("GxP documents")
    try:
        with Sshd([public_key(client_key)]) as sshd:
            env = scan_api_env(
                azurite,
                SSH_PRIVATE_KEY_PATH=str(client_key),
                SSH_DEFAULT_USERNAME=LOGIN_USER,
                SSH_CONNECT_TIMEOUT_S="5",
                SSH_COMMAND_TIMEOUT_S="10",
                SCAN_MAX_RUNNING=f"synthetic={SYNTHETIC_LIMIT}",
                **azure.env(),
            )
            host = HostProcess(
                SCAN_API_APP,
                workdir / "host",
                env,
                extra_args=["--dashboard-dir", str(DASHBOARD_DIR)],
            ).start()
            try:
                yield DashboardService(host, repo, sshd, azure, client_key)
            finally:
                host.stop()
    finally:
        azure.stop()
