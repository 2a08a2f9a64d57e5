"""`make run`'s shape: no storage configured, so the host starts and stops its own Azurite."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from tests.support.host_process import ROOT, HostProcess


def azurite_pids(location: Path) -> list[int]:
    found = subprocess.run(
        ["pgrep", "-f", f"azurite.js .*--location {location}( |$)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return [int(pid) for pid in found.stdout.split()]


def wait_gone(location: Path, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not azurite_pids(location):
            return True
        time.sleep(0.1)
    return False


def test_two_hosts_run_side_by_side_and_ctrl_c_stops_host_and_azurite(tmp_path: Path) -> None:
    hosts = [
        HostProcess(ROOT, tmp_path / f"data{i}", {"AzureWebJobsStorage": ""}).start(timeout=90)
        for i in range(2)
    ]
    try:
        for host in hosts:
            health = host.get("/api/health")
            assert health.status_code == 200
            assert health.json()["status"] == "ok"
            assert len(azurite_pids(host.data_dir / "azurite")) == 1
        assert hosts[0].port != hosts[1].port
    finally:
        codes = [host.stop(signal.SIGINT) for host in hosts]
    assert codes == [0, 0]
    for host in hosts:
        assert wait_gone(host.data_dir / "azurite"), host.log()
        assert "Azurite stopped" in host.log()


def test_sigkill_of_the_host_takes_its_azurite_down(tmp_path: Path) -> None:
    host = HostProcess(ROOT, tmp_path / "data", {"AzureWebJobsStorage": ""}).start(timeout=90)
    assert azurite_pids(host.data_dir / "azurite")
    host.kill()
    assert wait_gone(host.data_dir / "azurite")
