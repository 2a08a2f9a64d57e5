"""The dashboard's static route: only regular files inside the folder, of the kinds a page
needs, never through a symbolic link or `..`; strict CSP and caching headers on every answer."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from standalone.dashboard_files import CONTENT_SECURITY_POLICY, MAX_FILE_BYTES, DashboardFiles


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Path]:
    """(dashboard folder, a secret file outside it)."""
    root = tmp_path / "dashboard"
    (root / "app" / "pages").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>x</title>" + "<p>hello</p>" * 100)
    (root / "app" / "main.js").write_text("export const answer = 42;\n" * 50)
    (root / "app" / "pages" / "one.js").write_text("export {};\n")
    (root / "app.css").write_text("body{}")
    (root / "tool.py").write_text("print('not for browsers')")
    (root / ".env").write_text("SECRET=1")
    secret = tmp_path / "secret.js"
    secret.write_text("const secret = 'outside';")
    return root, secret


def test_serves_only_regular_files_of_page_kinds_inside_the_folder(
    site: tuple[Path, Path],
) -> None:
    root, secret = site
    files = DashboardFiles(root)
    assert files.locate("") == root / "index.html"
    assert files.locate("app/pages/one.js") == root / "app" / "pages" / "one.js"
    for refused in (
        "../secret.js",
        "app/../../secret.js",
        "app/./main.js",
        ".env",
        "app//main.js",
        "tool.py",  # not a kind of file a page needs
        "app",  # a folder
        "app/pages",
        "missing.js",
        "app\\main.js",
        "app/main.js\x00.css",
        str(secret),
    ):
        assert files.locate(refused) is None, refused


def test_never_follows_a_symbolic_link(site: tuple[Path, Path]) -> None:
    root, secret = site
    (root / "linked.js").symlink_to(secret)
    (root / "outside").symlink_to(secret.parent)
    (root / "app" / "inner.js").symlink_to(root / "app" / "main.js")  # even one inside
    files = DashboardFiles(root)
    assert files.locate("linked.js") is None
    assert files.locate("outside/secret.js") is None
    assert files.locate("app/inner.js") is None


def test_refuses_files_over_the_size_limit(site: tuple[Path, Path]) -> None:
    root, _ = site
    with (root / "huge.js").open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    assert DashboardFiles(root).locate("huge.js") is None


def _client_run(root: Path, scenario: Any) -> Any:
    async def run() -> Any:
        app = web.Application()
        DashboardFiles(root).add_routes(app)

        async def api(request: web.Request) -> web.Response:
            return web.json_response({"api": request.match_info["tail"]})

        app.router.add_route("*", "/api/{tail:.*}", api)
        async with TestClient(TestServer(app)) as client:
            return await scenario(client)

    return asyncio.run(run())


def test_headers_compression_and_revalidation(site: tuple[Path, Path]) -> None:
    root, _ = site

    async def scenario(client: TestClient) -> dict[str, Any]:
        plain = await client.get("/", headers={"Accept-Encoding": "identity"})
        zipped = await client.get(
            "/app/main.js", headers={"Accept-Encoding": "gzip"}, auto_decompress=False
        )
        again = await client.get("/app/main.js", headers={"If-None-Match": zipped.headers["ETag"]})
        head = await client.head("/app.css")
        return {
            "plain": (plain.status, dict(plain.headers), await plain.text()),
            "zipped": (zipped.status, dict(zipped.headers), await zipped.read()),
            "again": (again.status, await again.read()),
            "head": (head.status, head.headers.get("Content-Type")),
        }

    seen = _client_run(root, scenario)
    status, headers, text = seen["plain"]
    assert status == 200 and text.startswith("<!doctype html>")
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Content-Encoding" not in headers
    status, headers, body = seen["zipped"]
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"].startswith("text/javascript")
    assert gzip.decompress(body) == (root / "app" / "main.js").read_bytes()
    assert seen["again"] == (304, b"")
    assert seen["head"] == (200, "text/css; charset=utf-8")


def test_traversal_in_the_raw_path_is_refused_and_api_routes_are_untouched(
    site: tuple[Path, Path],
) -> None:
    root, _ = site

    async def scenario(client: TestClient) -> list[tuple[str, int, str]]:
        out = []
        for path in (
            "/..%2fsecret.js",
            "/app/%2e%2e/%2e%2e/secret.js",
            "/%2e%2e/secret.js",
            "/.env",
            "/tool.py",
            "/api/v1/scans",
        ):
            response = await client.get(path)
            out.append((path, response.status, await response.text()))
        return out

    for path, status, body in _client_run(root, scenario):
        if path.startswith("/api/"):
            assert (status, body) == (200, '{"api": "v1/scans"}'), path
        else:
            assert status == 404, path
            assert "outside" not in body and "SECRET" not in body


def test_a_file_changed_on_disk_is_served_new(site: tuple[Path, Path]) -> None:
    root, _ = site

    async def scenario(client: TestClient) -> tuple[str, str]:
        first = await (await client.get("/app.css")).text()
        target = root / "app.css"
        target.write_text("body{color:red}")
        stamp = target.stat().st_mtime_ns + 1_000_000
        os.utime(target, ns=(stamp, stamp))
        second = await (await client.get("/app.css")).text()
        return first, second

    assert _client_run(root, scenario) == ("body{}", "body{color:red}")


def test_the_dashboard_preloads_every_module_it_ships() -> None:
    """index.html names each module for the browser to fetch at once (no import waterfall)."""
    import re

    from tests.support.host_process import ROOT

    dashboard = ROOT / "dashboard"
    index = (dashboard / "index.html").read_text()
    preloaded = set(re.findall(r'<link rel="modulepreload" href="([^"]+)">', index))
    modules = {str(p.relative_to(dashboard)) for p in dashboard.glob("app/**/*.js")}
    modules.discard("app/main.js")  # the entry point itself
    vendored = {"vendor/preact.mjs", "vendor/preact-hooks.mjs", "vendor/htm.mjs"}
    assert preloaded == modules | vendored
    assert "<script>" not in index and "style=" not in index  # nothing inline (CSP)


def test_the_sign_in_authority_config_json_names_joins_connect_src(
    site: tuple[Path, Path],
) -> None:
    root, _ = site
    authority = "https://login.microsoftonline.com/4f1c0d62-6a0e-4c53-9e55-1d1b4d8f0c11"
    config = {"apiBaseUrl": "", "entra": {"clientId": "c", "authority": authority}}
    (root / "config.json").write_text(json.dumps(config))
    (root / "signed-in.html").write_text("<!doctype html><title>Signing in</title>")

    async def scenario(client: TestClient) -> dict[str, Any]:
        index = await client.get("/")
        back = await client.get("/signed-in.html")
        return {"index": dict(index.headers), "back": dict(back.headers)}

    seen = _client_run(root, scenario)
    policy = seen["index"]["Content-Security-Policy"]
    assert "connect-src 'self' https://login.microsoftonline.com;" in policy
    assert policy.replace(" https://login.microsoftonline.com", "") == CONTENT_SECURITY_POLICY
    assert seen["index"]["Cross-Origin-Opener-Policy"] == "same-origin"
    # The page the tenant sends people back to holds a code: never cached; not isolated from
    # the window that asked (MSAL's redirect bridge); the same CSP.
    assert seen["back"]["Cache-Control"] == "no-store"
    assert seen["back"]["Cross-Origin-Opener-Policy"] == "unsafe-none"
    assert seen["back"]["Content-Security-Policy"] == policy


@pytest.mark.parametrize(
    "config",
    [
        {"entra": {"authority": "http://login.example/t"}},  # not https: never allowed
        {"entra": {"authority": "javascript:alert(1)"}},
        {"entra": "https://login.example"},
        ["https://login.example"],
        "not json at all",
    ],
)
def test_a_config_json_without_https_origins_adds_nothing(
    site: tuple[Path, Path], config: Any
) -> None:
    root, _ = site
    text = config if isinstance(config, str) else json.dumps(config)
    (root / "config.json").write_text(text)
    policy = DashboardFiles(root).headers["Content-Security-Policy"]
    assert policy == CONTENT_SECURITY_POLICY
