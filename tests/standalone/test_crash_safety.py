"""Nothing acknowledged is lost when every process of the host dies at once.

The service runs on the standalone host with its default store (the embedded database in the
data folder). A client registers targets and triggers scans (among them fan-outs of many items)
while, at a random moment, every process of the host is SIGKILLed together, as a power cut or an
OOM-killed process group would; then the host starts again on the same data folder. Twenty
rounds, each with its own moment. Checked after every restart: every registration answered 201
and every scan answered 202 is there, and a scan seen ended keeps its end. At the end: every
acknowledged scan completed (all of its items), none ended twice, and every target's lease is
free (a new scan of each target starts and completes).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from common.storage import eq
from common.storage.sqlite_storage import SqliteStorage
from standalone.durable.history import EventType
from standalone.store_location import STORE_FILE
from tests.support.host_process import HostProcess
from tests.support.scan_api import Api, scan_api_env, start_api

ROUNDS = 20
FAN_OUT_TARGETS = [f"fan-{n}" for n in range(3)]
TERMINAL = ("completed", "failed", "cancelled")


@dataclass
class Ledger:
    """What the service acknowledged, and the end of each scan as first seen."""

    targets: set[str] = field(default_factory=set)
    scans: dict[str, str] = field(default_factory=dict)  # scan id -> target
    items: dict[str, int] = field(default_factory=dict)  # scan id -> items asked for
    ends: dict[str, tuple[str, str]] = field(default_factory=dict)  # scan id -> status, at
    lock: threading.Lock = field(default_factory=threading.Lock)


class Client(threading.Thread):
    """Registers targets and triggers scans until the host dies under it."""

    def __init__(self, api: Api, ledger: Ledger, rng: random.Random, round_number: int) -> None:
        super().__init__(name=f"client-{round_number}", daemon=True)
        self.api, self.ledger, self.rng, self.round = api, ledger, rng, round_number
        self.session = requests.Session()
        self.session.headers.update(api.headers)

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        return self.session.post(self.api.host.base_url + path, json=body, timeout=10)

    def run(self) -> None:
        step = 0
        try:
            while True:
                step += 1
                self.act(step)
                time.sleep(self.rng.uniform(0.0, 0.03))
        except requests.RequestException:
            return  # the host is gone: whatever was not answered was not acknowledged

    def act(self, step: int) -> None:
        choice = self.rng.random()
        if choice < 0.35:
            name = f"reg-{self.round}-{step}"
            answer = self.post("/api/v1/synthetics", {"name": name, "items": 3, "itemDelayMs": 20})
            assert answer.status_code == 201, answer.text
            with self.ledger.lock:
                self.ledger.targets.add(name)
            return
        if choice < 0.7 and self.ledger.targets:
            with self.ledger.lock:
                name = self.rng.choice(sorted(self.ledger.targets))
            items = 3  # a registered target's scan takes its items from the registry
        else:
            name, items = self.rng.choice(FAN_OUT_TARGETS), 30
        answer = self.post(
            "/api/v1/scans",
            {"targetType": "synthetic", "name": name, "items": items, "itemDelayMs": 20},
        )
        assert answer.status_code in (202, 409), answer.text
        if answer.status_code == 202:
            with self.ledger.lock:
                self.ledger.scans[answer.json()["scanId"]] = name
                self.ledger.items[answer.json()["scanId"]] = items


def every(api: Api, path: str, limit: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token = None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if token:
            params["continuationToken"] = token
        answer = api.get(path, params=params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        found += body["items"]
        token = body.get("continuationToken")
        if not token:
            return found


def check_nothing_acknowledged_is_lost(api: Api, ledger: Ledger, round_number: int) -> None:
    registered = {t["id"] for t in every(api, "/api/v1/synthetics", 200)}
    missing = ledger.targets - registered
    assert not missing, f"round {round_number}: registrations lost: {sorted(missing)}"
    scans = {s["scanId"]: s for s in every(api, "/api/v1/scans", 100)}
    lost = set(ledger.scans) - set(scans)
    assert not lost, f"round {round_number}: acknowledged scans lost: {sorted(lost)}"
    for scan_id, scan in scans.items():
        if scan["status"] not in TERMINAL:
            continue
        end = (scan["status"], scan["completedAt"])
        first = ledger.ends.setdefault(scan_id, end)
        assert first == end, f"round {round_number}: scan {scan_id} ended again: {first} {end}"


def wait_all_ended(api: Api, scan_ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        scans = {s["scanId"]: s for s in every(api, "/api/v1/scans", 100)}
        running = [i for i in scan_ids if scans[i]["status"] not in TERMINAL]
        if not running or time.monotonic() > deadline:
            return scans
        time.sleep(0.2)


def test_every_acknowledged_write_survives_sigkill_of_every_host_process(tmp_path: Path) -> None:
    seed = int(os.environ.get("CRASH_TEST_SEED") or time.time_ns() % 1_000_000)
    rng = random.Random(seed)
    env = scan_api_env("", SCAN_LEASE_GRACE_SECONDS="1")  # "": the default store
    data = tmp_path / "data"
    ledger = Ledger()
    host: HostProcess = start_api(data, env)
    moments = []
    try:
        for round_number in range(ROUNDS):
            client = Client(Api(host), ledger, random.Random(rng.random()), round_number)
            client.start()
            moment = rng.uniform(0.05, 1.5)
            moments.append(round(moment, 2))
            time.sleep(moment)
            assert len(host.processes()) >= 3, host.log()  # the host, its engine, a worker
            host.kill()
            assert host.processes() == []
            client.join(15)
            host = start_api(data, env, port=host.port)
            check_nothing_acknowledged_is_lost(Api(host), ledger, round_number)

        api = Api(host)
        assert len(ledger.scans) >= ROUNDS, f"too few scans acknowledged (seed {seed})"
        scans = wait_all_ended(api, list(ledger.scans), timeout=90)
        for scan_id, items in ledger.items.items():
            scan = scans[scan_id]
            assert scan["status"] == "completed", (seed, moments, scan, host.log()[-3000:])
            assert scan["itemsCompleted"] == scan["totalItems"] == items, (seed, scan)
        check_nothing_acknowledged_is_lost(api, ledger, ROUNDS)

        # Every target's lease is free or taken over: a new scan of each starts and completes.
        fresh = {}
        for name in sorted(ledger.targets | set(FAN_OUT_TARGETS)):
            answer = api.scan(name=name, items=1, itemDelayMs=0)
            assert answer.status_code == 202, (name, answer.text)
            fresh[answer.json()["scanId"]] = name
        ended = wait_all_ended(api, list(fresh), timeout=60)
        assert all(ended[i]["status"] == "completed" for i in fresh), (seed, ended)
    finally:
        host.stop()

    store = SqliteStorage(data / STORE_FILE)
    try:
        prefix, hub = env["SCAN_STORAGE_PREFIX"], env["TASKHUB_NAME"]
        leases = list(store.table(f"{prefix}ScanLeases").query())
        assert leases == [], f"leases left behind: {leases}"
        # Each orchestration ended at most once in its history (a new scan of a target starts
        # a new execution; earlier executions' history is deleted).
        for instance in store.table(f"{hub}Instances").query([eq("RowKey", "")]):
            history = store.table(f"{hub}History").query(
                [eq("PartitionKey", instance["PartitionKey"])]
            )
            events = [event for row in history for event in json.loads(row["Events"])]
            ends = sum(1 for event in events if event["EventType"] == EventType.EXECUTION_COMPLETED)
            assert ends <= 1, f"{instance['PartitionKey']} ended {ends} times"
    finally:
        store.close()
