"""The timers: scheduled scans of registered targets, and the history purge."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.support.scan_api import Api, running_api, scan_api_env


@pytest.fixture(scope="module")
def api(azurite: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    env = scan_api_env(
        azurite,
        SCAN_SCHEDULER_CRON="* * * * * *",
        HISTORY_PURGE_CRON="*/2 * * * * *",
        HISTORY_RETENTION_DAYS="0.00003",  # about 2.6 seconds
    )
    with running_api(tmp_path_factory.mktemp("timers-api"), env) as api:
        yield api


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def scans_of(api: Api, target_id: str) -> list[dict]:
    response = api.get(
        "/api/v1/scans", params={"targetType": "synthetic", "targetId": target_id, "limit": 100}
    )
    assert response.status_code == 200
    return response.json()["items"]


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
