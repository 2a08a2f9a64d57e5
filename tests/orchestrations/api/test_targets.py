"""The targets registry over HTTP: register, read, update, list, delete; URL checks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.scan_api import Api, running_api, scan_api_env


@pytest.fixture(scope="module")
def api(azurite: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with running_api(tmp_path_factory.mktemp("targets-api"), scan_api_env(azurite)) as api:
        yield api


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def test_register_get_update_list_delete(api: Api) -> None:
    created = api.post(
        "/api/v1/repositories",
        {
            "name": "Compliance Docs",
            "url": "https://example.com/org/docs.git",
            "defaultBranch": "main",
        },
    )
    assert created.status_code == 201, created.text
    repo = created.json()
    assert repo["id"] == "compliance-docs"
    assert repo["url"] == "https://example.com/org/docs.git"
    assert repo["defaultBranch"] == "main"
    assert created.headers["Location"].endswith("/api/v1/repositories/compliance-docs")
    duplicate = api.post(
        "/api/v1/repositories", {"name": "Compliance Docs", "url": "https://x.org/a.git"}
    )
    assert duplicate.status_code == 409

    updated = api.request(
        "PATCH", "/api/v1/repositories/compliance-docs", json={"schedule": "0 2 * * *"}
    )
    assert updated.status_code == 200
    assert updated.json()["schedule"] == "0 2 * * *"
    assert updated.json()["url"] == "https://example.com/org/docs.git"
    bad_schedule = api.request(
        "PUT", "/api/v1/repositories/compliance-docs", json={"schedule": "every day"}
    )
    assert bad_schedule.status_code == 422

    host = api.post(
        "/api/v1/hosts", {"hostname": "Web-1.Example.com", "port": 2222, "scan_type": "full"}
    )
    assert host.status_code == 201
    assert host.json()["id"] == "web-1.example.com-2222"
    assert host.json()["scanType"] == "full"
    sub_id = str(uuid.uuid4()).upper()
    subscription = api.post("/api/v1/subscriptions", {"subscriptionId": sub_id, "name": "prod"})
    assert subscription.status_code == 201
    assert subscription.json()["id"] == sub_id.lower()

    listing = api.get("/api/v1/repositories").json()["items"]
    assert "compliance-docs" in [r["id"] for r in listing]
    assert api.get("/api/v1/hosts/web-1.example.com-2222").json()["port"] == 2222
    assert api.request("DELETE", "/api/v1/hosts/web-1.example.com-2222").status_code == 204
    assert api.get("/api/v1/hosts/web-1.example.com-2222").status_code == 404
    assert api.request("DELETE", "/api/v1/hosts/web-1.example.com-2222").status_code == 404
    assert api.get("/api/v1/things").status_code == 404


def test_repository_urls_are_checked(api: Api) -> None:
    relative = api.post("/api/v1/repositories", {"name": unique("r"), "url": "some/relative/path"})
    assert relative.status_code == 422
    local = api.post("/api/v1/repositories", {"name": unique("r"), "url": "/srv/git/repo"})
    assert local.status_code == 201  # REPO_ALLOW_LOCAL_PATHS=true in this host
    for url, reason in (
        ("ssh://-oProxyCommand=touch%20/tmp/pwned/x", "cannot start with '-'"),
        ("git@-oProxyCommand=id:x", "cannot start with '-'"),
        ("ext::sh -c id", "remote helper"),
        ("https://example.com/docs\n.git", "control characters"),
        ("https://user:s3cret@example.com/docs.git", "cannot hold a password"),
    ):
        refused = api.post("/api/v1/repositories", {"name": unique("r"), "url": url})
        assert refused.status_code == 422, url
        error = refused.json()["error"]
        assert reason in error["message"] and error["details"][0]["field"] == "url"
        assert "s3cret" not in refused.text
        # The same on update: a registered repository cannot be pointed at one either.
        changed = api.request(
            "PATCH", f"/api/v1/repositories/{local.json()['id']}", json={"url": url}
        )
        assert changed.status_code == 422 and reason in changed.json()["error"]["message"]
    assert api.get(f"/api/v1/repositories/{local.json()['id']}").json()["url"] == "/srv/git/repo"
