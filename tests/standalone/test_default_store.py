"""`make run`'s shape: no storage configured, so all state lives in an embedded database in the
data folder (no other process to start); a data folder that an embedded Azurite wrote (the
default of earlier versions) is moved into the database on the first start, once."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

from standalone.azurite import Azurite
from standalone.store_location import STORE_FILE
from tests.support.host_process import ROOT, HostProcess
from tests.support.scan_api import Api, running_api, scan_api_env


def command_lines(pids: list[int]) -> list[str]:
    lines = []
    for pid in pids:
        try:
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return lines


def test_two_hosts_run_side_by_side_each_on_its_own_database(tmp_path: Path) -> None:
    hosts = [
        HostProcess(ROOT, tmp_path / f"data{i}", {"AzureWebJobsStorage": ""}).start(timeout=90)
        for i in range(2)
    ]
    try:
        for host in hosts:
            health = host.get("/api/health")
            assert health.status_code == 200
            assert health.json()["status"] == "ok"
            database = host.data_dir / STORE_FILE
            assert f"state in the embedded database {database}" in host.log()
            with sqlite3.connect(database) as connection:
                assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert not any("azurite" in line for line in command_lines(host.processes()))
            assert not (host.data_dir / "azurite").exists()
        assert hosts[0].port != hosts[1].port
    finally:
        codes = [host.stop(signal.SIGINT) for host in hosts]
    assert codes == [0, 0]
    for host in hosts:
        assert host.processes() == [], host.log()


def register_and_scan(api: Api, name: str) -> dict[str, object]:
    answer = api.post("/api/v1/synthetics", {"name": name, "items": 3, "itemDelayMs": 0})
    assert answer.status_code == 201, answer.text
    started = api.scan(name=name)
    assert started.status_code == 202, started.text
    return api.wait(started.json()["scanId"])


def test_a_data_folder_azurite_wrote_moves_into_the_database_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    azurite = Azurite(data / "azurite")  # where the host of earlier versions kept its Azurite
    env = scan_api_env(azurite.start())
    try:
        with running_api(data, env) as api:
            before = register_and_scan(api, "kept")
    finally:
        azurite.stop()  # gracefully: Azurite writes its data out
    assert before["status"] == "completed"

    env["AzureWebJobsStorage"] = ""  # the default now: the embedded database
    with running_api(data, env) as api:
        log = api.host.log()
        assert f"moving the state Azurite kept in {data / 'azurite'}" in log
        assert f"from Azurite into {data / STORE_FILE}" in log
        assert api.get("/api/v1/synthetics/kept").status_code == 200
        after = api.get(f"/api/v1/scans/{before['scanId']}", params={"include": "items"}).json()
        assert after["status"] == "completed"
        assert after["itemsCompleted"] == after["totalItems"] == 3
        assert after["completedAt"] == before["completedAt"]
        again = api.wait(api.scan(name="kept").json()["scanId"])  # its lease was free
        assert again["status"] == "completed"
    assert (data / "azurite.migrated").is_dir()
    assert not (data / "azurite").exists()

    with running_api(data, env, port=api.host.port) as api:  # the same log file: moved once
        assert api.host.log().count("moving the state Azurite kept") == 1
        assert api.get(f"/api/v1/scans/{again['scanId']}").json()["status"] == "completed"
