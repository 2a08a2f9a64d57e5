"""The per-target lease: stale leases are taken over safely, live ones are honoured."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from orchestrations.core.lifecycle import COMPLETED, RUNNING
from orchestrations.core.settings import AppSettings
from orchestrations.state.scans import ScanRecord, new_scan_id
from orchestrations.state.stores import Stores
from orchestrations.state.tables import utcnow
from tests.support.scan_api import Api, running_api, scan_api_env

GRACE_S = 2


@pytest.fixture(scope="module")
def env(azurite: str) -> dict[str, str]:
    return scan_api_env(azurite, SCAN_LEASE_GRACE_SECONDS=str(GRACE_S))


@pytest.fixture(scope="module")
def api(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with running_api(tmp_path_factory.mktemp("lease"), env) as api:
        yield api


@pytest.fixture(scope="module")
def stores(env: dict[str, str]) -> Stores:
    settings = AppSettings(
        AzureWebJobsStorage=env["AzureWebJobsStorage"],
        scan_storage_prefix=env["SCAN_STORAGE_PREFIX"],
    )
    return Stores.of(settings)


def plant_lease(stores: Stores, target: str, status: str | None, age_s: float = 0) -> str:
    """A lease held by a scan that no orchestration runs (as after a crash)."""
    scan_id = new_scan_id()
    if status is not None:
        record = ScanRecord(
            scan_id=scan_id,
            target_type="synthetic",
            target_id=target,
            instance_id=f"synthetic-{target}",
            status=status,
            created_at=utcnow() - timedelta(seconds=age_s),
        )
        stores.scans.create(record)
    stores.leases.acquire("synthetic", target, scan_id, f"synthetic-{target}")
    return scan_id


def test_a_lease_of_a_finished_scan_is_taken_over(api: Api, stores: Stores) -> None:
    target = f"done{time.time_ns()}"
    plant_lease(stores, target, COMPLETED)
    answer = api.scan(name=target, items=1, itemDelayMs=0)
    assert answer.status_code == 202, answer.text
    assert stores.leases.holder("synthetic", target) == answer.json()["scanId"]
    api.wait(answer.json()["scanId"])


def test_a_lease_whose_orchestration_is_gone_is_taken_over_after_the_grace(
    api: Api, stores: Stores
) -> None:
    young = f"young{time.time_ns()}"
    holder = plant_lease(stores, young, RUNNING)
    blocked = api.scan(name=young, items=1, itemDelayMs=0)
    assert blocked.status_code == 409  # it may still be starting: honoured
    assert blocked.json()["activeScanId"] == holder

    old = f"old{time.time_ns()}"
    lost = plant_lease(stores, old, RUNNING, age_s=GRACE_S + 5)
    answer = api.scan(name=old, items=1, itemDelayMs=0)
    assert answer.status_code == 202, answer.text
    assert api.get(f"/api/v1/scans/{lost}").json()["status"] == "failed"  # marked as lost
    assert "lost" in api.get(f"/api/v1/scans/{lost}").json()["errorMessage"]
    api.wait(answer.json()["scanId"])


def test_a_lease_without_a_record_is_honoured_only_while_young(api: Api, stores: Stores) -> None:
    target = f"norecord{time.time_ns()}"
    holder = plant_lease(stores, target, None)
    first = api.scan(name=target, items=1, itemDelayMs=0)
    assert first.status_code == 409
    assert first.json()["activeScanId"] == holder
    time.sleep(GRACE_S + 0.5)
    second = api.scan(name=target, items=1, itemDelayMs=0)
    assert second.status_code == 202, second.text
    api.wait(second.json()["scanId"])


def test_a_live_scan_keeps_its_lease(api: Api) -> None:
    target = f"live{time.time_ns()}"
    first = api.scan(name=target, items=2, itemDelayMs=GRACE_S * 1000 + 1500)
    assert first.status_code == 202
    time.sleep(GRACE_S + 0.5)  # older than the grace, but its orchestration runs
    second = api.scan(name=target, items=1, itemDelayMs=0)
    assert second.status_code == 409
    assert second.json()["activeScanId"] == first.json()["scanId"]
    assert api.wait(first.json()["scanId"])["status"] == "completed"


def test_a_start_whose_orchestration_cannot_run_fails_cleanly(api: Api, stores: Stores) -> None:
    """The lease was lost while its scan still runs: the target's orchestration id is busy, so
    a new trigger's orchestration cannot start. Its record says so and the target is freed."""
    target = f"busy{time.time_ns()}"
    running = api.scan(name=target, items=1, itemDelayMs=15000).json()["scanId"]
    api.wait(running, done=lambda s: s["status"] == "running")
    stores.leases.release("synthetic", target, running)  # as if an operator deleted it

    refused = api.scan(name=target, items=1, itemDelayMs=0)
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "scan_not_started"

    listed = api.get("/api/v1/scans", params={"targetType": "synthetic", "targetId": target})
    by_id = {s["scanId"]: s for s in listed.json()["items"]}
    assert set(by_id) - {running}, "the refused scan has no record"
    (refused_id,) = set(by_id) - {running}
    assert by_id[refused_id]["status"] == "failed"
    assert "could not start" in by_id[refused_id]["errorMessage"]
    assert by_id[running]["status"] == "running"  # the scan that holds the id is left alone
    assert stores.leases.holder("synthetic", target) is None

    cancelled = api.post(f"/api/v1/scans/{running}/cancel")
    assert cancelled.status_code in (200, 202), cancelled.text
