"""The standalone host runs a Durable Functions app end to end on real Azurite."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.host_process import ROOT, HostProcess

DEMO_APP = ROOT / "tests" / "apps" / "durable_demo"


@pytest.fixture(scope="module")
def demo(azurite: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    data = tmp_path_factory.mktemp("demo-host")
    host = HostProcess(
        DEMO_APP,
        data,
        {
            "AzureWebJobsStorage": azurite,
            "TASKHUB_NAME": "Demo" + str(int(time.time() * 1000))[-9:],
            "DEMO_SCRATCH_DIR": str(data / "scratch"),
        },
    ).start()
    yield host
    host.stop()


def scratch(host: HostProcess) -> Path:
    return Path(host.env["DEMO_SCRATCH_DIR"])


def start(
    host: HostProcess, name: str, payload: Any = None, instance_id: str = ""
) -> requests.Response:
    path = f"/api/start/{name}" + (f"/{instance_id}" if instance_id else "")
    return host.post(path, json=payload)


def poll(
    url: str, done: Callable[[requests.Response], bool], timeout: float = 30.0
) -> requests.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = requests.get(url, timeout=10)
        if done(response) or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def finished(url: str, timeout: float = 30.0) -> requests.Response:
    return poll(url, lambda r: r.status_code != 202, timeout)


def test_fan_out_of_50_activities_returns_the_right_output(demo: HostProcess) -> None:
    started = start(demo, "fan_out", {"n": 50})
    assert started.status_code == 202
    links = started.json()
    assert started.headers["Location"] == links["statusQueryGetUri"]
    assert {"id", "sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri"} <= set(links)

    done = finished(links["statusQueryGetUri"])
    assert done.status_code == 200
    body = done.json()
    assert body["runtimeStatus"] == "Completed"
    assert body["output"]["squares"] == [i * i for i in range(50)]
    assert body["output"]["sum"] == sum(i * i for i in range(50))
    assert body["customStatus"] == {"phase": "done", "n": 50}
    assert body["input"] == {"n": 50}

    history = requests.get(links["statusQueryGetUri"] + "&showHistory=true", timeout=10).json()
    kinds = [e["EventType"] for e in history["historyEvents"]]
    assert kinds.count("TaskScheduled") == 50
    assert kinds.count("TaskCompleted") == 50
    assert kinds[-1] == "OrchestratorCompleted"


def test_custom_status_is_visible_while_running_and_raise_event_releases(demo: HostProcess) -> None:
    links = start(demo, "wait_for_go").json()
    running = poll(
        links["statusQueryGetUri"],
        lambda r: (r.json().get("customStatus") or {}).get("phase") == "waiting",
    )
    assert running.status_code == 202
    assert running.headers["Location"]
    assert running.headers["Retry-After"] == "5"
    assert running.json()["runtimeStatus"] == "Running"
    assert running.json()["customStatus"] == {"phase": "waiting", "instance": links["id"]}

    # The SDK client's get_status and raise_event, through the RPC endpoint.
    via_sdk = demo.post(f"/api/client/{links['id']}/status").json()
    assert via_sdk["runtimeStatus"] == "Running"
    assert via_sdk["customStatus"]["phase"] == "waiting"
    raised = demo.post(f"/api/client/{links['id']}/raise", params={"event": "go"}, json={"x": 7})
    assert raised.status_code == 200

    done = finished(links["statusQueryGetUri"])
    assert done.status_code == 200
    assert done.json()["output"] == {"received": {"x": 7}}
    assert done.json()["customStatus"] == {"phase": "released"}


def test_raise_event_through_the_public_webhook(demo: HostProcess) -> None:
    links = start(demo, "wait_for_go").json()
    url = links["sendEventPostUri"].replace("{eventName}", "go")
    response = requests.post(url, json=[1, 2, 3], timeout=10)
    assert response.status_code == 202
    done = finished(links["statusQueryGetUri"])
    assert done.json()["output"] == {"received": [1, 2, 3]}
    # The instance is gone now: raising again answers 410.
    assert requests.post(url, json=1, timeout=10).status_code == 410


def test_status_codes_and_errors_match_azure(demo: HostProcess) -> None:
    failed = start(demo, "fails", "status").json()
    response = finished(failed["statusQueryGetUri"])
    assert response.status_code == 400
    assert response.json()["runtimeStatus"] == "Failed"
    assert "boom-status" in response.json()["output"]
    with_500 = requests.get(
        failed["statusQueryGetUri"] + "&returnInternalServerErrorOnFailure=true", timeout=10
    )
    assert with_500.status_code == 500

    unknown = failed["statusQueryGetUri"].replace(failed["id"], "no-such-instance")
    assert requests.get(unknown, timeout=10).status_code == 404

    keyless = failed["statusQueryGetUri"].split("&code=")[0]
    assert requests.get(keyless, timeout=10).status_code == 401
    wrong_key = keyless + "&code=wrong"
    assert requests.get(wrong_key, timeout=10).status_code == 401

    not_an_orchestrator = start(demo, "square", {"i": 1})
    assert not_an_orchestrator.status_code == 409  # the SDK raised; the app maps it
    assert "doesn't exist" in not_an_orchestrator.json()["error"]


def test_twenty_concurrent_starts_of_one_instance_id_start_exactly_one(demo: HostProcess) -> None:
    instance_id = f"single-{time.time_ns()}"
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: start(demo, "wait_for_go", None, instance_id), range(20)))
    codes = sorted(a.status_code for a in answers)
    assert codes.count(202) == 1, codes
    assert codes.count(409) == 19, codes
    assert all("already exists" in a.json()["error"] for a in answers if a.status_code == 409)

    links = next(a.json() for a in answers if a.status_code == 202)
    history = poll(
        links["statusQueryGetUri"] + "&showHistory=true",
        lambda r: any(
            e["EventType"] == "ExecutionStarted" for e in r.json().get("historyEvents", [])
        ),
    ).json()["historyEvents"]
    assert [e["EventType"] for e in history].count("ExecutionStarted") == 1

    # Once it has ended, the same id can be started again (NonRunningStates).
    demo.post(f"/api/client/{instance_id}/raise", params={"event": "go"}, json="done")
    assert finished(links["statusQueryGetUri"]).status_code == 200
    again = start(demo, "wait_for_go", None, instance_id)
    assert again.status_code == 202
    demo.post(f"/api/client/{instance_id}/terminate", params={"reason": "cleanup"})


def test_activity_exception_reaches_the_orchestrator(demo: HostProcess) -> None:
    links = start(demo, "catches_failure").json()
    done = finished(links["statusQueryGetUri"])
    assert done.status_code == 200
    caught = done.json()["output"]["caught"]
    assert "Activity function 'explode' failed" in caught
    assert "ValueError: boom-caught" in caught


def test_uncaught_exception_ends_the_instance_failed_with_its_message(demo: HostProcess) -> None:
    links = start(demo, "fails", "uncaught").json()
    done = finished(links["statusQueryGetUri"])
    assert done.json()["runtimeStatus"] == "Failed"
    assert "Orchestrator function 'fails' failed" in done.json()["output"]
    assert "boom-uncaught" in done.json()["output"]


@pytest.mark.parametrize(
    ("failures", "attempts", "status", "runs"),
    [(2, 3, "Completed", 3), (5, 2, "Failed", 2)],
)
def test_retries_are_honoured(
    demo: HostProcess, failures: int, attempts: int, status: str, runs: int
) -> None:
    key = f"k{time.time_ns()}"
    settings = {"key": key, "failures": failures, "attempts": attempts}
    links = start(demo, "retrying", settings).json()
    done = finished(links["statusQueryGetUri"])
    assert done.json()["runtimeStatus"] == status
    assert int((scratch(demo) / f"flaky-{key}").read_text()) == runs
    if status == "Completed":
        assert done.json()["output"] == {"attempt": runs}
    else:
        assert f"flaky attempt {runs} failed" in done.json()["output"]
    events = requests.get(links["statusQueryGetUri"] + "&showHistory=true", timeout=10).json()
    kinds = [e["EventType"] for e in events["historyEvents"]]
    assert kinds.count("TaskScheduled") == runs
    assert kinds.count("TimerCreated") == min(failures, attempts)  # one back-off per failure


def test_terminate(demo: HostProcess) -> None:
    links = start(demo, "wait_for_go").json()
    poll(links["statusQueryGetUri"], lambda r: r.json().get("runtimeStatus") == "Running")
    url = links["terminatePostUri"].replace("{text}", "operator%20said%20so")
    assert requests.post(url, timeout=10).status_code == 202
    done = finished(links["statusQueryGetUri"])
    assert done.json()["runtimeStatus"] == "Terminated"
    assert done.json()["output"] == "operator said so"
    assert requests.post(url, timeout=10).status_code == 410


def test_create_timer_waits_in_orchestration_time(demo: HostProcess) -> None:
    began = time.monotonic()
    links = start(demo, "sleeps", 1.0).json()
    done = finished(links["statusQueryGetUri"])
    elapsed = time.monotonic() - began
    assert done.status_code == 200
    output = done.json()["output"]
    waited = datetime.fromisoformat(output["after"]) - datetime.fromisoformat(output["before"])
    assert waited.total_seconds() >= 1.0
    assert elapsed >= 1.0


def test_sub_orchestration(demo: HostProcess) -> None:
    links = start(demo, "parent", 5).json()
    done = finished(links["statusQueryGetUri"])
    assert done.status_code == 200
    assert done.json()["output"] == {"childSum": 30, "plusOne": 31}


def test_purge_removes_a_finished_instance(demo: HostProcess) -> None:
    links = start(demo, "fan_out", {"n": 3}).json()
    assert finished(links["statusQueryGetUri"]).status_code == 200
    purged = demo.post(f"/api/client/{links['id']}/purge").json()
    assert purged == {"instancesDeleted": 1}
    assert requests.get(links["statusQueryGetUri"], timeout=10).status_code == 404


def test_timer_trigger_fires_on_a_seconds_schedule(demo: HostProcess) -> None:
    ticks = scratch(demo) / "ticks"
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        if ticks.exists() and len(ticks.read_text().splitlines()) >= 3:
            break
        time.sleep(0.2)
    stamps = [float(line.split()[0]) for line in ticks.read_text().splitlines()]
    assert len(stamps) >= 3
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert all(0.5 < gap < 1.6 for gap in gaps[-2:]), gaps


def test_sigkill_mid_orchestration_then_restart_completes_with_every_result(
    tmp_path: Path,
) -> None:
    env = {
        "AzureWebJobsStorage": "",  # the default: the embedded database in the data folder
        "TASKHUB_NAME": "Kill" + str(time.time_ns())[-12:],
        "DEMO_SCRATCH_DIR": str(tmp_path / "scratch"),
    }
    host = HostProcess(DEMO_APP, tmp_path / "data", env).start()
    n = 40
    links = start(host, "fan_out", {"n": n, "sleep": 0.15, "log": "runs"}).json()
    runs = tmp_path / "scratch" / "runs"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if runs.exists() and len(runs.read_text().splitlines()) >= 12:
            break
        time.sleep(0.02)
    assert len(host.processes()) >= 3  # the host, its Durable engine, an activity worker
    host.kill()
    assert host.processes() == []
    ran_before_kill = len(runs.read_text().splitlines())
    assert ran_before_kill < n, "the orchestration finished before the kill; make it slower"

    restarted = HostProcess(DEMO_APP, tmp_path / "data", env, port=host.port).start()
    try:
        done = finished(links["statusQueryGetUri"], timeout=60)
        assert done.status_code == 200, restarted.log()
        assert done.json()["output"]["squares"] == [i * i for i in range(n)]
        executions = [int(x) for x in runs.read_text().splitlines()]
        assert set(executions) == set(range(n))
        # At-least-once: only activities whose results were not in the history yet may have
        # run twice: those running at the kill (maxConcurrentActivityFunctions of the demo
        # app: 8) and the few that ended while the last episode was being written.
        assert len(executions) - n <= 12
        events = requests.get(links["statusQueryGetUri"] + "&showHistory=true", timeout=10).json()[
            "historyEvents"
        ]
        completed = [e["TaskScheduledId"] for e in events if e["EventType"] == "TaskCompleted"]
        assert sorted(completed) == list(range(n))  # each result exactly once in the history
    finally:
        restarted.stop()


def test_continue_as_new_restarts_with_the_new_input(demo: HostProcess) -> None:
    links = start(demo, "counter", {"count": 0, "target": 3}).json()
    done = finished(links["statusQueryGetUri"])
    assert done.status_code == 200
    assert done.json()["output"] == {"count": 3, "target": 3}
    history = requests.get(links["statusQueryGetUri"] + "&showHistory=true", timeout=10).json()
    # Only the last execution's history remains, as in Azure.
    assert [e["EventType"] for e in history["historyEvents"]].count("ExecutionStarted") == 1


def test_payloads_larger_than_a_table_property_round_trip(demo: HostProcess) -> None:
    text = "é" * 40_000 + "end"  # over 64 KiB as UTF-16
    links = start(demo, "big_payload", text).json()
    done = finished(links["statusQueryGetUri"])
    assert done.status_code == 200
    assert done.json()["output"]["length"] == len(text)
    assert done.json()["output"]["text"] == text
    assert done.json()["input"] == text


def test_list_instances_filters_and_pages(demo: HostProcess) -> None:
    prefix = f"page-{time.time_ns()}-"
    for i in range(5):
        links = start(demo, "fan_out", {"n": 1}, f"{prefix}{i}").json()
        finished(links["statusQueryGetUri"])
    code = demo.keys()["systemKey"]
    url = f"{demo.base_url}/runtime/webhooks/durabletask/instances"
    seen: list[str] = []
    token = None
    for _ in range(10):
        headers = {"x-ms-continuation-token": token} if token else {}
        page = requests.get(
            url,
            params={
                "code": code,
                "instanceIdPrefix": prefix,
                "top": 2,
                "runtimeStatus": "Completed",
            },
            headers=headers,
            timeout=10,
        )
        assert page.status_code == 200
        assert len(page.json()) <= 2
        seen += [item["instanceId"] for item in page.json()]
        token = page.headers.get("x-ms-continuation-token")
        if not token or token == "null":
            break
    assert sorted(seen) == [f"{prefix}{i}" for i in range(5)]

    bad = requests.get(
        url, params={"code": code}, headers={"x-ms-continuation-token": "zz"}, timeout=10
    )
    assert bad.status_code == 400

    purge = requests.delete(
        url,
        params={
            "code": code,
            "createdTimeFrom": "2000-01-01T00:00:00Z",
            "runtimeStatus": "Completed",
        },
        timeout=30,
    )
    assert purge.status_code == 200
    assert purge.json()["instancesDeleted"] >= 5
    left = requests.get(url, params={"code": code, "instanceIdPrefix": prefix}, timeout=10).json()
    assert left == []


def test_an_activity_whose_worker_process_dies_runs_again(demo: HostProcess) -> None:
    key = f"c{time.time_ns()}"
    links = start(demo, "survives_crash", key).json()
    done = finished(links["statusQueryGetUri"], timeout=60)
    assert done.status_code == 200, demo.log()[-3000:]
    output = done.json()["output"]
    assert output["pid"] != output["crashedPid"]  # a new worker process ran it
    assert "starting a new one" in demo.log()
