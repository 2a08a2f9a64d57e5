"""The scan lifecycle over HTTP on the standalone host: trigger, poll, list, cancel, fail."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.support.scan_api import Api, scan_api_env, start_api

ORDER = {"pending": 0, "running": 1, "completed": 2, "failed": 2, "cancelled": 2}


@pytest.fixture(scope="module")
def api(azurite: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    host = start_api(tmp_path_factory.mktemp("scan-api"), scan_api_env(azurite))
    yield Api(host)
    host.stop()


def name() -> str:
    return f"t{time.time_ns()}"


def test_trigger_answers_at_once_and_the_scan_moves_forward(api: Api) -> None:
    began = time.monotonic()
    response = api.scan(name=name(), items=6, itemDelayMs=400, planDelayMs=300)
    answered = time.monotonic() - began
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "pending"
    assert body["message"] == f"Scan initiated. Poll /api/v1/scans/{body['scanId']} for status."
    assert response.headers["Location"] == body["statusUrl"]
    assert answered < 1.0  # the plan alone takes 0.3 s: the request did not wait for it

    seen: list[dict] = []
    final = api.wait(body["scanId"], seen=seen)
    statuses = [s["status"] for s in seen]
    assert "running" in statuses
    assert [ORDER[s] for s in statuses] == sorted(ORDER[s] for s in statuses)
    progress = [s["progress"] for s in seen]
    assert progress == sorted(progress), progress
    assert all(s["currentPhase"] for s in seen)
    assert any(0 < p < 100 for p in progress)
    assert any(s["currentPhase"] == "Run" and s["status"] == "running" for s in seen)

    assert final["status"] == "completed"
    assert final["progress"] == 100
    assert final["itemsCompleted"] == final["totalItems"] == 6
    assert final["counters"]["itemsPlanned"] == 6
    assert final["results"] == {
        "items": 6,
        "indexes": [0, 1, 2, 3, 4, 5],
        # The target's first scan: each of its findings is new.
        "comparison": {"baselineScanId": None, "newFindings": 6, "resolvedFindings": 0},
    }
    assert [i["itemId"] for i in final["items"]] == [f"item-{i:03d}" for i in range(6)]
    assert final["startedAt"] and final["completedAt"]
    assert final["instanceId"] == f"synthetic-{final['targetId']}"
    # Every log line of the scan's activities names it (the workbook counts these events).
    scan_lines = [line for line in api.host.log().splitlines() if body["scanId"] in line]
    assert any(f"target={final['targetId']} planning" in line for line in scan_lines)
    assert any("scan started" in line for line in scan_lines)
    assert any("scan finished" in line or "completed" in line for line in scan_lines)


def test_list_is_newest_first_filters_and_paginates(api: Api) -> None:
    prefix = name()
    ids = []
    for i in range(5):
        response = api.scan(name=f"{prefix}-{i}", items=1, itemDelayMs=0)
        ids.append(response.json()["scanId"])
    for scan_id in ids:
        api.wait(scan_id)

    collected: list[str] = []
    token = None
    for _ in range(50):
        params = {"limit": 2, "targetType": "synthetic"}
        if token:
            params["continuationToken"] = token
        page = api.get("/api/v1/scans", params=params)
        assert page.status_code == 200
        assert len(page.json()["items"]) <= 2
        collected += [s["scanId"] for s in page.json()["items"]]
        token = page.json()["continuationToken"]
        if not token:
            break
    mine = [scan_id for scan_id in collected if scan_id in ids]
    assert mine == list(reversed(ids))  # newest first
    assert collected == sorted(collected, reverse=True)

    one = api.get("/api/scans", params={"targetId": f"{prefix}-3"}).json()["items"]
    assert [s["scanId"] for s in one] == [ids[3]]
    completed = api.get("/api/v1/scans", params={"status": "completed", "limit": 100}).json()
    assert {s["status"] for s in completed["items"]} == {"completed"}
    assert api.get("/api/v1/scans", params={"status": "bogus"}).status_code == 400
    assert api.get("/api/v1/scans", params={"limit": 0}).status_code == 400
    assert api.get("/api/v1/scans", params={"continuationToken": "!!"}).status_code == 400


def test_twenty_concurrent_triggers_of_one_target_start_exactly_one(api: Api) -> None:
    target = name()
    with ThreadPoolExecutor(20) as pool:
        answers = list(
            pool.map(lambda _: api.scan(name=target, items=2, itemDelayMs=500), range(20))
        )
    codes = [a.status_code for a in answers]
    assert codes.count(202) == 1, codes
    assert codes.count(409) == 19, codes
    winner = next(a.json()["scanId"] for a in answers if a.status_code == 202)
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["activeScanId"] == winner
            assert answer.json()["error"]["code"] == "scan_active"
    assert api.wait(winner)["status"] == "completed"
    again = api.scan(name=target, items=1, itemDelayMs=0)
    assert again.status_code == 202
    api.wait(again.json()["scanId"])


def test_a_failing_item_fails_the_scan_but_keeps_other_results(api: Api) -> None:
    target = name()
    response = api.scan(name=target, items=5, itemDelayMs=50, failItems=[2], softFailItems=[4])
    final = api.wait(response.json()["scanId"])
    assert final["status"] == "failed"
    assert "item-002" in final["errorMessage"]
    assert "synthetic failure" in final["errorMessage"]
    items = {i["itemId"]: i for i in final["items"]}
    assert set(items) == {f"item-{i:03d}" for i in range(5)}
    assert items["item-002"]["status"] == "error"
    assert items["item-004"]["status"] == "error"
    assert items["item-000"]["status"] == "passed" and items["item-001"]["status"] == "failed"
    assert api.scan(name=target, items=1, itemDelayMs=0).status_code == 202  # lease released


def test_a_soft_item_error_still_completes_the_scan(api: Api) -> None:
    final = api.wait(
        api.scan(name=name(), items=3, itemDelayMs=0, softFailItems=[1]).json()["scanId"]
    )
    assert final["status"] == "completed"
    assert [i["status"] for i in final["items"]] == ["passed", "error", "passed"]


def test_cancel_ends_the_scan_cancelled_and_frees_the_target(api: Api) -> None:
    target = name()
    scan_id = api.scan(name=target, items=4, itemDelayMs=3000).json()["scanId"]
    api.wait(scan_id, done=lambda s: s["status"] == "running" and s["currentPhase"] == "Run")
    cancelled = api.post(f"/api/v1/scans/{scan_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert api.get(f"/api/v1/scans/{scan_id}").json()["status"] == "cancelled"
    assert api.post(f"/api/v1/scans/{scan_id}/cancel").status_code == 409
    follow_up = api.scan(name=target, items=1, itemDelayMs=0)
    assert follow_up.status_code == 202, follow_up.text
    api.wait(follow_up.json()["scanId"])
    time.sleep(3.5)  # the terminated scan's activities finish; its record must stay cancelled
    assert api.get(f"/api/v1/scans/{scan_id}").json()["status"] == "cancelled"
    assert api.post("/api/v1/scans/01ARZ3NDEKTSV4RRFFQ69G5FAV/cancel").status_code == 404


def test_unknown_and_invalid_requests_get_clear_4xx(api: Api) -> None:
    assert api.get("/api/v1/scans/01ARZ3NDEKTSV4RRFFQ69G5FAV").status_code == 404
    assert api.get("/api/v1/scans/not-a-scan-id").status_code == 404
    bad_json = requests.post(
        api.host.base_url + "/api/v1/scans", data=b"{nope", headers=api.headers, timeout=10
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["error"]["code"] == "invalid_json"
    missing = api.post("/api/v1/scans", {"foo": 1})
    assert missing.status_code == 422
    invalid = api.scan(name="bad name!", items=-1)
    assert invalid.status_code == 422
    fields = {d["field"] for d in invalid.json()["error"]["details"]}
    assert {"name", "items"} <= fields
    snake = api.post(
        "/api/v1/scans",
        {"target_type": "synthetic", "name": name(), "item_delay_ms": 0, "items": 1},
    )
    assert snake.status_code == 202  # snake_case is accepted too
    api.wait(snake.json()["scanId"])
    repo = api.post("/api/v1/repositories/nope/scan", {})
    assert repo.status_code == 404
    assert repo.json()["error"]["code"] == "target_not_found"
    no_subscriptions = api.post("/api/scans/trigger", {})
    assert no_subscriptions.status_code == 422


def test_report_formats(api: Api) -> None:
    scan_id = api.scan(name=name(), items=2, itemDelayMs=0).json()["scanId"]
    api.wait(scan_id)
    report = api.get(f"/api/v1/scans/{scan_id}/report").json()
    assert report["summary"]["findings"] == 2
    sarif = api.get(f"/api/v1/scans/{scan_id}/report", params={"format": "sarif"})
    assert sarif.headers["Content-Type"].startswith("application/sarif+json")
    run = sarif.json()["runs"][0]
    assert sarif.json()["version"] == "2.1.0"
    assert run["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1
    csv_text = api.get(f"/api/v1/scans/{scan_id}/report", params={"format": "csv"}).text
    assert csv_text.splitlines()[0].startswith("item,item_status,rule")
    assert len(csv_text.splitlines()) == 3
    html_text = api.get(f"/api/v1/scans/{scan_id}/report", params={"format": "html"}).text
    assert "<table>" in html_text and "SYN-001" in html_text
    assert api.get(f"/api/v1/scans/{scan_id}/report", params={"format": "pdf"}).status_code == 400


def test_every_endpoint_but_health_needs_the_api_key(api: Api) -> None:
    spec = api.get("/api/openapi.json").json()
    checked = 0
    for path, operations in spec["paths"].items():
        concrete = (
            path.replace("{scanId}", "01ARZ3NDEKTSV4RRFFQ69G5FAV")
            .replace("{repositoryId}", "r1")
            .replace("{targetId}", "x1")
        )
        for method in operations:
            for headers in ({}, {"X-API-Key": "wrong"}):
                answer = requests.request(
                    method.upper(),
                    api.host.base_url + concrete,
                    headers=headers,
                    json={},
                    timeout=10,
                )
                if path == "/api/health":
                    assert answer.status_code == 200
                else:
                    assert answer.status_code == 401, (method, path, answer.status_code)
                    assert answer.json()["error"]["code"] == "unauthorized"
                checked += 1
    assert checked >= 40


def test_sigkill_mid_scan_then_restart_completes_consistently(tmp_path: Path) -> None:
    env = scan_api_env("")  # the default store: the embedded database in the data folder
    host = start_api(tmp_path / "data", env)
    api = Api(host)
    target = name()
    # More items than the host runs at once (16): waves of 600 ms, so "running with an item
    # done" lasts a while even on a loaded machine (one wave would end all items together).
    items = 40
    scan_id = api.scan(name=target, items=items, itemDelayMs=600).json()["scanId"]
    api.wait(scan_id, done=lambda s: s["status"] == "running" and s.get("itemsCompleted", 0) >= 1)
    assert len(host.processes()) >= 3  # the host, its Durable engine, an activity worker
    host.kill()
    assert host.processes() == []

    restarted = start_api(tmp_path / "data", env, port=host.port)
    try:
        final = Api(restarted).wait(scan_id, timeout=90)
        assert final["status"] == "completed", restarted.log()
        assert final["progress"] == 100
        assert final["itemsCompleted"] == final["totalItems"] == items
        assert final["results"]["indexes"] == list(range(items))
        assert len(final["items"]) == items
        # the lease is free again and the record is terminal
        assert Api(restarted).scan(name=target, items=1, itemDelayMs=0).status_code == 202
    finally:
        restarted.stop()
