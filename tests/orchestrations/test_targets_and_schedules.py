"""Targets registry CRUD, scheduled scans by timer, and the history purge timer."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.support.scan_api import Api, scan_api_env, start_api


@pytest.fixture(scope="module")
def api(azurite: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    env = scan_api_env(
        azurite,
        SCAN_SCHEDULER_CRON="* * * * * *",
        HISTORY_PURGE_CRON="*/2 * * * * *",
        HISTORY_RETENTION_DAYS="0.00003",  # about 2.6 seconds
    )
    host = start_api(tmp_path_factory.mktemp("targets-api"), env)
    yield Api(host)
    host.stop()


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def scans_of(api: Api, target_id: str) -> list[dict]:
    response = api.get(
        "/api/v1/scans", params={"targetType": "synthetic", "targetId": target_id, "limit": 100}
    )
    assert response.status_code == 200
    return response.json()["items"]


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


def test_a_due_schedule_starts_a_scan_and_an_active_scan_is_skipped(api: Api) -> None:
    target = unique("sched")
    created = api.post(
        "/api/v1/synthetics",
        {"name": target, "items": 2, "itemDelayMs": 2500, "schedule": "* * * * * *"},
    )
    assert created.status_code == 201, created.text

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not scans_of(api, target):
        time.sleep(0.2)
    first = scans_of(api, target)
    assert len(first) == 1
    assert first[0]["trigger"] == "schedule"
    # The schedule fires every second, but the first scan runs for 2.5 s: ticks are skipped.
    time.sleep(2.0)
    during = scans_of(api, target)
    assert [s["scanId"] for s in during] == [first[0]["scanId"]]
    assert during[0]["status"] == "running"

    api.wait(first[0]["scanId"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(scans_of(api, target)) < 2:
        time.sleep(0.2)
    assert len(scans_of(api, target)) >= 2  # once free, the schedule started the next one
    api.request("PATCH", f"/api/v1/synthetics/{target}", json={"schedule": None})
    # The registry is updated right after the scan record (not atomically with it).
    deadline = time.monotonic() + 10
    registered = api.get(f"/api/v1/synthetics/{target}").json()
    while time.monotonic() < deadline and not registered["lastScanId"]:
        time.sleep(0.2)
        registered = api.get(f"/api/v1/synthetics/{target}").json()
    assert registered["lastScanId"] >= first[0]["scanId"]
    assert registered["lastStatus"] in ("completed", "running", None)
    assert registered["lastScannedAt"]


def test_history_purge_removes_old_orchestrations_but_keeps_scans(api: Api) -> None:
    scan = api.scan(name=unique("purge"), items=1, itemDelayMs=0).json()
    final = api.wait(scan["scanId"])
    assert final["status"] == "completed"
    keys = api.host.keys()
    url = (
        f"{api.host.base_url}/runtime/webhooks/durabletask/instances/{final['instanceId']}"
        f"?code={keys['systemKey']}"
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and requests.get(url, timeout=10).status_code != 404:
        time.sleep(0.3)
    assert requests.get(url, timeout=10).status_code == 404  # the Durable history is gone
    assert api.get(f"/api/v1/scans/{scan['scanId']}").json()["status"] == "completed"
