"""The folder deployed to the dashboard's Static Web App: the same pages, the API's URL in
config.json, and the standalone host's security headers with that one API origin allowed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.dashboard_site import DASHBOARD, api_origin, build, entra_sign_in
from standalone.dashboard_files import SECURITY_HEADERS

API = "https://func-scan-abc123.azurewebsites.net"


def test_builds_the_pages_with_the_api_origin_pinned(tmp_path: Path) -> None:
    out = tmp_path / "site"
    build(out, API + "/")
    assert json.loads((out / "config.json").read_text()) == {"apiBaseUrl": API}
    served = {p.relative_to(DASHBOARD) for p in DASHBOARD.rglob("*.js")}
    assert served and served <= {p.relative_to(out) for p in out.rglob("*.js")}
    assert (out / "vendor" / "preact.mjs").is_file()
    headers = json.loads((out / "staticwebapp.config.json").read_text())["globalHeaders"]
    policy = headers["Content-Security-Policy"]
    assert f"connect-src 'self' {API};" in policy
    # Everything else is exactly the standalone host's policy.
    assert policy.replace(f" {API}", "") == SECURITY_HEADERS["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert not list(out.rglob(".*"))


@pytest.mark.parametrize(
    "url", ["http://func.azurewebsites.net", "https://", "https://x.net/api", "javascript:1"]
)
def test_refuses_an_api_url_that_is_not_an_https_origin(url: str) -> None:
    with pytest.raises(ValueError, match="https://host"):
        api_origin(url)


def test_entra_sign_in_goes_into_config_json_and_the_csp(tmp_path: Path) -> None:
    tenant, client = "4f1c0d62-6a0e-4c53-9e55-1d1b4d8f0c11", "6e0c2f51-8a5c-4d0e-9b71-3f1c2a9d4e80"
    out = tmp_path / "site"
    build(out, API, entra_sign_in(tenant, client))
    assert json.loads((out / "config.json").read_text())["entra"] == {
        "clientId": client,
        "authority": f"https://login.microsoftonline.com/{tenant}",
        "scopes": [f"api://{client}/access_as_user"],
    }
    site = json.loads((out / "staticwebapp.config.json").read_text())
    policy = site["globalHeaders"]["Content-Security-Policy"]
    assert f"connect-src 'self' {API} https://login.microsoftonline.com;" in policy
    assert site["routes"] == [
        {
            "route": "/signed-in.html",
            "headers": {"Cache-Control": "no-store", "Cross-Origin-Opener-Policy": "unsafe-none"},
        }
    ]
    assert (out / "signed-in.html").is_file() and (out / "signed-in.js").is_file()
    # A sovereign cloud's authority host; never a plain-http one.
    assert entra_sign_in(tenant, client, "https://login.microsoftonline.us")["authority"] == (
        f"https://login.microsoftonline.us/{tenant}"
    )
    with pytest.raises(ValueError, match="https://host"):
        entra_sign_in(tenant, client, "http://login.example")
