"""Signing in to the dashboard with Microsoft Entra ID, in Chromium: MSAL for the browser (as
vendored by `make setup`) against a fake tenant over TLS (its certificate trusted by its key
alone), the authorization code with PKCE, the redirect back through signed-in.html, and every
call carrying an access token whose roles the service checks. The API key stays on offer."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.dashboard.browser import DESKTOP, Console, launch
from tests.dashboard.service import DASHBOARD_DIR
from tests.support.entra import OPERATOR, READER, FakeEntra
from tests.support.host_process import HostProcess
from tests.support.scan_api import API_KEY, SCAN_API_APP, scan_api_env
from tests.support.sshd import make_key

HOST_TARGET = {"hostname": "127.0.0.1", "port": 1, "name": "Unreachable box"}


@dataclass
class SignInService:
    host: HostProcess
    entra: FakeEntra

    @property
    def url(self) -> str:
        return self.host.base_url

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"X-API-Key": API_KEY}
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def service(
    azurite: str, entra: FakeEntra, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SignInService]:
    workdir = tmp_path_factory.mktemp("entra-dashboard")
    # The same pages, with the configuration a deployment to Azure writes (infra/dashboard_site).
    pages = workdir / "dashboard"
    shutil.copytree(DASHBOARD_DIR, pages)
    settings = {
        "apiBaseUrl": "",
        "entra": {
            "clientId": entra.client_id,
            "authority": f"{entra.authority}/{entra.tenant_id}",
            "scopes": [f"api://{entra.audience}/access_as_user"],
        },
    }
    (pages / "config.json").write_text(json.dumps(settings))
    host = HostProcess(
        SCAN_API_APP,
        workdir / "host",
        # A key for host scans (the target refuses connections: the scan only has to start).
        scan_api_env(azurite, SSH_PRIVATE_KEY_PATH=str(make_key(workdir / "id")), **entra.env()),
        extra_args=["--dashboard-dir", str(pages)],
    ).start()
    entra.redirect_uris.add(f"{host.base_url}/signed-in.html")
    try:
        running = SignInService(host, entra)
        registered = running.admin("POST", "/api/v1/hosts", json=HOST_TARGET)
        assert registered.status_code == 201, registered.text
        yield running
    finally:
        host.stop()


@pytest.fixture(scope="module")
def entra_browser(browser: Any, entra: FakeEntra) -> Iterator[Any]:
    """A second Chromium (from the package's Playwright) that trusts the fake tenant's
    certificate by its public key, nothing else."""
    trusting = launch(
        browser.browser_type, (f"--ignore-certificate-errors-spki-list={entra.spki_sha256()}",)
    )
    yield trusting
    trusting.close()


@pytest.fixture
def page(entra_browser: Any) -> Iterator[Any]:
    context = entra_browser.new_context(viewport=DESKTOP)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    tab.console = Console().attach(tab)
    yield tab
    context.close()


def sign_in_with_entra(page: Any, service: SignInService) -> None:
    page.goto(service.url + "/")
    page.get_by_role("button", name="Sign in with Microsoft Entra ID").click()
    page.get_by_role("heading", name="Overview").wait_for()


def scan_now(page: Any, service: SignInService) -> None:
    page.goto(service.url + "/#/targets/hosts")
    page.get_by_role("button", name="Scan now: Unreachable box").click()


def test_a_reader_signs_in_with_entra_id_and_cannot_start_a_scan(
    page: Any, service: SignInService, entra: FakeEntra
) -> None:
    entra.sign_in_as("rita@contoso.example", READER)
    before = entra.counts("authorize", "token")
    page.goto(service.url + "/")
    # Both ways in: the organisation's account and, still, an API key.
    page.get_by_label("API key").wait_for()
    sign_in_with_entra(page, service)
    assert page.locator(".signed-in-as").inner_text() == "Rita"
    after = entra.counts("authorize", "token")
    assert {k: after[k] - before[k] for k in after} == {"authorize": 1, "token": 1}
    # The pages' reads carry her token (reader), and the service names what a start needs.
    page.get_by_role("link", name="Targets").click()
    scan_now(page, service)
    page.get_by_role("alert").get_by_text("this call needs the operator role").wait_for()
    assert "user rita@contoso.example" in page.get_by_role("alert").inner_text()
    # No CSP violation, no failed request but the refused start.
    assert page.console.take() == [
        "console: Failed to load resource: the server responded with a status of 403 (Forbidden)"
    ]


def test_an_operator_starts_a_scan_and_the_audit_log_names_them(
    page: Any, service: SignInService, entra: FakeEntra
) -> None:
    entra.sign_in_as("otto@contoso.example", OPERATOR)
    sign_in_with_entra(page, service)
    assert page.locator(".signed-in-as").inner_text() == "Otto"
    scan_now(page, service)
    page.wait_for_function("() => location.hash.startsWith('#/scans/')")
    scan_id = page.url.rsplit("/", 1)[-1]
    entries = service.admin("GET", "/api/v1/audit", params={"limit": 20}).json()["items"]
    started = [e for e in entries if e["action"] == "scan.started" and e["scans"] == [scan_id]]
    assert [(e["actor"]["kind"], e["actor"]["name"], e["actor"]["role"]) for e in started] == [
        ("user", "otto@contoso.example", "operator")
    ]
    # Signing out forgets the account in this tab: the sign-in choice comes back.
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in with Microsoft Entra ID").wait_for()
    page.reload()
    page.get_by_role("button", name="Sign in with Microsoft Entra ID").wait_for()
    assert page.console.take() == []
