"""Scans beyond a kind's limit wait their turn, in trigger order, on the standalone host.

With SCAN_MAX_RUNNING=2: five triggered scans run two at a time in trigger order, the waiting
ones show `queued` with their place through the API, a queued scan can be cancelled, and a
SIGKILL of the host while scans wait loses none of them.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.scan_api import Api, scan_api_env, start_api

LIMIT = 2
ENDED = ("completed", "failed", "cancelled")


@pytest.fixture(scope="module")
def api(azurite: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    env = scan_api_env(azurite, SCAN_MAX_RUNNING=f"synthetic={LIMIT}")
    host = start_api(tmp_path_factory.mktemp("queue"), env)
    yield Api(host)
    host.stop()


def trigger(api: Api, count: int, delay_ms: int = 700) -> list[str]:
    """`count` scans of distinct targets, one after the other (trigger order = list order)."""
    prefix = f"q{time.time_ns()}"
    ids = []
    for i in range(count):
        answer = api.scan(name=f"{prefix}-{i}", items=2, itemDelayMs=delay_ms)
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["scanId"])
    return ids


def statuses(api: Api, ids: list[str]) -> list[dict[str, Any]]:
    return [api.get(f"/api/v1/scans/{scan_id}").json() for scan_id in ids]


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


# Scans admitted in the same moment start side by side, in any order within this margin; a
# scan that jumped the queue would start a whole scan (over a second) too early.
SAME_MOMENT_S = 0.25


def assert_ran_in_turn(finals: list[dict[str, Any]]) -> None:
    """Started in trigger order, each waiting scan only once a place came free, never more
    than LIMIT at once (from the records' own times: a place is given back only once its scan
    has ended)."""
    starts = [at(s["startedAt"]) for s in finals]
    ends = sorted(at(s["completedAt"]) for s in finals)
    for index, began in enumerate(starts):
        assert all(earlier <= began + SAME_MOMENT_S for earlier in starts[:index]), starts
        if index >= LIMIT:
            assert began >= ends[index - LIMIT], (starts, ends)
    spans = [(at(s["startedAt"]), at(s["completedAt"])) for s in finals]
    for began, _ in spans:
        running = sum(1 for b, e in spans if b <= began < e)
        assert running <= LIMIT, spans


def test_five_scans_run_two_at_a_time_in_trigger_order(api: Api) -> None:
    ids = trigger(api, 5)
    first = statuses(api, ids)
    assert [s["status"] for s in first[2:]] == ["queued"] * 3
    assert [s["queuePosition"] for s in first[2:]] == [1, 2, 3]
    assert all(s["queuePosition"] is None for s in first[:2])
    assert all(s["status"] in ("pending", "running") for s in first[:2])
    assert all(s["currentPhase"] == "Queued" and s["progress"] == 0 for s in first[2:])
    # The list shows the same places, and filters on the status.
    listed = api.get("/api/v1/scans", params={"status": "queued", "targetType": "synthetic"})
    places = {s["scanId"]: s["queuePosition"] for s in listed.json()["items"]}
    assert places == {ids[2]: 1, ids[3]: 2, ids[4]: 3}

    seen: dict[str, list[int]] = {scan_id: [] for scan_id in ids}
    deadline = time.monotonic() + 60
    while True:
        now = statuses(api, ids)
        assert sum(s["status"] == "running" for s in now) <= LIMIT
        for status in now:
            if status["status"] == "queued":
                seen[status["scanId"]].append(status["queuePosition"])
        if all(s["status"] in ENDED for s in now):
            break
        assert time.monotonic() < deadline, now
        time.sleep(0.05)
    # The last scan moved up as the ones before it started.
    assert seen[ids[4]][0] == 3 and 1 in seen[ids[4]]
    assert seen[ids[4]] == sorted(seen[ids[4]], reverse=True)
    finals = [api.wait(scan_id) for scan_id in ids]
    assert [s["status"] for s in finals] == ["completed"] * 5
    assert all(s["itemsCompleted"] == 2 for s in finals)
    assert_ran_in_turn(finals)


def test_a_queued_scan_is_cancelled_and_the_next_takes_its_turn(api: Api) -> None:
    ids = trigger(api, 4, delay_ms=900)
    assert statuses(api, ids)[2]["queuePosition"] == 1
    answer = api.post(f"/api/v1/scans/{ids[2]}/cancel")
    assert answer.status_code == 200, answer.text
    cancelled = answer.json()
    assert cancelled["status"] == "cancelled" and cancelled["queuePosition"] is None
    assert cancelled["startedAt"] is None  # it never ran
    # The scan behind it moved up; the cancelled one is out of the queue.
    assert statuses(api, ids)[3]["queuePosition"] == 1
    assert api.post(f"/api/v1/scans/{ids[2]}/cancel").status_code == 409

    finals = [api.wait(scan_id) for scan_id in ids]
    assert [s["status"] for s in finals] == ["completed", "completed", "cancelled", "completed"]
    assert finals[2]["startedAt"] is None and finals[2]["itemsCompleted"] == 0
    assert_ran_in_turn([finals[0], finals[1], finals[3]])
    # Its target is free again.
    target = finals[2]["targetId"]
    again = api.scan(name=target, items=1, itemDelayMs=0)
    assert again.status_code == 202, again.text
    assert api.wait(again.json()["scanId"])["status"] == "completed"


def test_sigkill_while_scans_wait_loses_none(azurite: str, tmp_path: Path) -> None:
    env = scan_api_env(azurite, SCAN_MAX_RUNNING=f"synthetic={LIMIT}")
    host = start_api(tmp_path / "data", env)
    api = Api(host)
    ids = trigger(api, 5, delay_ms=800)
    api.wait(ids[0], done=lambda s: s["status"] == "running")
    assert [s["status"] for s in statuses(api, ids)[2:]] == ["queued"] * 3
    host.kill()

    restarted = start_api(tmp_path / "data", env, port=host.port)
    try:
        again = Api(restarted)
        finals = [again.wait(scan_id, timeout=90) for scan_id in ids]
        assert [s["status"] for s in finals] == ["completed"] * 5, restarted.log()[-3000:]
        assert all(s["itemsCompleted"] == s["totalItems"] == 2 for s in finals)
        starts = [at(s["startedAt"]) for s in finals[LIMIT:]]
        # The ones that waited still went in trigger order.
        assert all(a <= b + SAME_MOMENT_S for a, b in itertools.pairwise(starts))
        listed = again.get("/api/v1/scans", params={"status": "queued"}).json()["items"]
        assert not [s for s in listed if s["scanId"] in ids]
    finally:
        restarted.stop()
