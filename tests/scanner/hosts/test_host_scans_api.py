"""Host scans end to end: POST /api/v1/scans on the standalone host, against real sshd
processes on loopback (own host keys, port, authorized key; non-root login user).

Quick and full results are compared with this machine's own truth (the sshd runs here);
every failure of the taxonomy is provoked for real and must be named in errorMessage or in
the per-command status.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient

from tests.support.machine_facts import check_full_facts, check_quick_facts
from tests.support.scan_api import Api, scan_api_env, start_api
from tests.support.sshd import (
    BSD_FORCE_COMMAND,
    CONNECTION_LOST_ONCE_FORCE_COMMAND,
    LOGIN_USER,
    MEMINFO_FAILS_FORCE_COMMAND,
    MEMINFO_KILLED_FORCE_COMMAND,
    UPTIME_HANGS_FORCE_COMMAND,
    SilentServer,
    Sshd,
    closed_port,
    make_key,
    public_key,
)

CONNECT_TIMEOUT_S = 3
COMMAND_TIMEOUT_S = 3


@pytest.fixture(scope="module")
def client_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_key(tmp_path_factory.mktemp("ssh-client") / "id_ed25519")


@pytest.fixture(scope="module")
def env(azurite: str, client_key: Path) -> dict[str, str]:
    return scan_api_env(
        azurite,
        SSH_PRIVATE_KEY_PATH=str(client_key),
        SSH_DEFAULT_USERNAME=LOGIN_USER,
        SSH_CONNECT_TIMEOUT_S=str(CONNECT_TIMEOUT_S),
        SSH_COMMAND_TIMEOUT_S=str(COMMAND_TIMEOUT_S),
    )


@pytest.fixture(scope="module")
def api(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    host = start_api(tmp_path_factory.mktemp("host-scan-api"), env)
    yield Api(host)
    host.stop()


@pytest.fixture(scope="module")
def linux(client_key: Path) -> Iterator[Sshd]:
    with Sshd([public_key(client_key)]) as server:
        yield server


def scan(api: Api, port: int, hostname: str = "127.0.0.1", **body: Any) -> dict[str, Any]:
    response = api.post(
        "/api/v1/scans", {"targetType": "host", "hostname": hostname, "port": port, **body}
    )
    assert response.status_code == 202, response.text
    return api.wait(response.json()["scanId"], timeout=60)


def accepted_logins(server: Sshd) -> int:
    return server.log().count("Accepted publickey for")


# -- quick and full -----------------------------------------------------------------------------


def test_quick_scan_matches_the_machine(api: Api, linux: Sshd) -> None:
    logins = accepted_logins(linux)
    # The short spelling: no targetType, `type`; no username (SSH_DEFAULT_USERNAME).
    response = api.post(
        "/api/v1/scans", {"hostname": "127.0.0.1", "port": linux.port, "type": "quick"}
    )
    assert response.status_code == 202, response.text
    assert response.json()["targetId"] == linux.target_id
    done = api.wait(response.json()["scanId"])
    assert done["status"] == "completed", done
    assert done["errorMessage"] is None
    assert done["progress"] == 100
    assert done["commandsCompleted"] == done["totalCommands"] == 6
    assert done["counters"]["commandsFailed"] == 0
    assert {i["itemId"]: i["status"] for i in done["items"]} == dict.fromkeys(
        ["disk", "hostname", "kernel", "memory", "os", "uptime"], "passed"
    )

    results = done["results"]
    assert results["scanType"] == "quick"
    check_quick_facts(results)
    assert results["hostKey"] == {"type": "ssh-ed25519", "fingerprint": linux.host_key_fingerprint}
    assert "packages" not in results and "network" not in results
    # One connection for the scan's six commands, closed when the scan ended.
    assert accepted_logins(linux) == logins + 1
    deadline = time.monotonic() + 5
    while linux.connections():
        assert time.monotonic() < deadline, "the scan's connection is still open"
        time.sleep(0.05)

    report = api.get(f"/api/v1/scans/{done['scanId']}/report", params={"format": "json"})
    assert report.status_code == 200, report.text

    recorded = api.get(f"/api/v1/hosts/{linux.target_id}/host-key")
    assert recorded.status_code == 200
    key = recorded.json()["keys"][0]
    assert (key["keyType"], key["fingerprint"], key["source"]) == (
        "ssh-ed25519",
        linux.host_key_fingerprint,
        "first-contact",
    )


def test_full_scan_adds_packages_processes_and_network(
    api: Api, linux: Sshd, azurite: str, env: dict[str, str]
) -> None:
    logins = accepted_logins(linux)
    done = scan(api, linux.port, scanType="full", username=LOGIN_USER)
    assert done["status"] == "completed", done
    assert done["commandsCompleted"] == done["totalCommands"] == 9
    assert accepted_logins(linux) == logins + 1
    results = done["results"]
    assert results["scanType"] == "full"
    check_full_facts(results)
    packages = results["packages"]
    assert packages["count"] == done["counters"]["packagesFound"]
    blob_name = packages["listRef"].removeprefix("blob:")
    assert blob_name.startswith(f"scans/{done['scanId']}/")
    container = BlobServiceClient.from_connection_string(azurite).get_container_client(
        f"{env['SCAN_STORAGE_PREFIX'].lower()}-artifacts"
    )
    full_list = json.loads(container.download_blob(blob_name).readall())
    assert len(full_list) == packages["count"]
    assert full_list[: len(packages["sample"])] == packages["sample"]


# -- connection-level failures: the scan fails fast, the failure named ----------------------------


def ran_for(scan_status: dict[str, Any]) -> float:
    started = datetime.fromisoformat(scan_status["startedAt"])
    return (datetime.fromisoformat(scan_status["completedAt"]) - started).total_seconds()


def test_connection_refused(api: Api) -> None:
    port = closed_port()
    done = scan(api, port)
    assert done["status"] == "failed"
    assert done["errorMessage"] == f"connection refused: 127.0.0.1:{port}"
    assert ran_for(done) < CONNECT_TIMEOUT_S  # failed at once, not after the connect timeout


def test_a_host_that_accepts_and_never_speaks_times_out(api: Api) -> None:
    with SilentServer() as silent:
        began = time.monotonic()
        done = scan(api, silent.port)
        took = time.monotonic() - began
    assert done["status"] == "failed"
    assert done["errorMessage"] == (
        f"timeout: 127.0.0.1:{silent.port} accepted the connection but sent no SSH banner "
        f"within {CONNECT_TIMEOUT_S} s"
    )
    assert CONNECT_TIMEOUT_S <= took < CONNECT_TIMEOUT_S + 10
    assert ran_for(done) < CONNECT_TIMEOUT_S + 2  # the deadline held: no hang


def test_a_wrong_key_fails_authentication(api: Api, tmp_path: Path) -> None:
    other = make_key(tmp_path / "not-ours")
    with Sshd([public_key(other)]) as server:
        done = scan(api, server.port)
    assert done["status"] == "failed"
    assert done["errorMessage"] == (
        f"authentication failed: {LOGIN_USER}@127.0.0.1:{server.port}: "
        "the server rejected the public key"
    )
    assert ran_for(done) < CONNECT_TIMEOUT_S


def test_an_unresolvable_host_is_a_dns_failure(api: Api) -> None:
    done = scan(api, 22, hostname="no-such-host.invalid")
    assert done["status"] == "failed"
    assert done["errorMessage"].startswith("DNS failure: cannot resolve no-such-host.invalid")


def test_accept_new_refuses_a_changed_host_key_until_it_is_forgotten(
    api: Api, client_key: Path
) -> None:
    with Sshd([public_key(client_key)]) as server:
        first = scan(api, server.port)
        assert first["status"] == "completed", first
        old = server.host_key_fingerprint

        server.restart_with_new_host_key()
        changed = scan(api, server.port)
        assert changed["status"] == "failed"
        assert changed["errorMessage"].startswith(
            f"host key changed: 127.0.0.1:{server.port} presented ssh-ed25519 "
            f"{server.host_key_fingerprint}, but {old} is recorded"
        )
        assert changed["results"] is None  # nothing ran on a host we do not trust

        path = f"/api/v1/hosts/{server.target_id}/host-key"
        assert api.request("DELETE", path).status_code == 204
        assert api.get(path).status_code == 404
        gone = api.request("DELETE", path)
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "host_key_not_found"

        again = scan(api, server.port)
        assert again["status"] == "completed", again
        assert api.get(path).json()["keys"][0]["fingerprint"] == server.host_key_fingerprint


def test_strict_policy_scans_pinned_hosts_only(
    azurite: str, client_key: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = scan_api_env(
        azurite,
        SSH_PRIVATE_KEY_PATH=str(client_key),
        SSH_DEFAULT_USERNAME=LOGIN_USER,
        SSH_HOST_KEY_POLICY="strict",
    )
    host = start_api(tmp_path_factory.mktemp("strict-api"), env)
    strict = Api(host)
    try:
        with Sshd([public_key(client_key)]) as server:
            unknown = scan(strict, server.port)
            assert unknown["status"] == "failed"
            assert unknown["errorMessage"].startswith(
                f"host key unknown: 127.0.0.1:{server.port} presented ssh-ed25519 "
                f"{server.host_key_fingerprint}, which is not known and the policy is strict"
            )
            path = f"/api/v1/hosts/{server.target_id}/host-key"
            assert strict.get(path).status_code == 404  # strict never records on its own

            pin = {"keyType": "ssh-ed25519", "fingerprint": server.host_key_fingerprint}
            pinned = strict.request("PUT", path, json=pin)
            assert pinned.status_code == 200, pinned.text
            assert pinned.json()["keys"][0]["source"] == "api"
            assert scan(strict, server.port)["status"] == "completed"

            server.restart_with_new_host_key()
            changed = scan(strict, server.port)
            assert changed["status"] == "failed"
            assert changed["errorMessage"].startswith(f"host key changed: 127.0.0.1:{server.port}")
    finally:
        host.stop()


# -- command-level failures: the scan completes with partial results ----------------------------


def test_a_failing_command_gives_partial_results(api: Api, client_key: Path) -> None:
    with Sshd([public_key(client_key)], force_command=MEMINFO_FAILS_FORCE_COMMAND) as server:
        done = scan(api, server.port)
    assert done["status"] == "completed", done
    results = done["results"]
    assert results["memory"] is None
    assert results["hostname"] == socket.gethostname()
    assert results["kernel"] == os.uname().release
    assert results["commands"]["memory"] == "error"
    assert results["partial"] is True
    assert results["errors"] == [
        {
            "command": "memory",
            "code": "command_failed",
            "message": "command failed: memory: exit 1: cat: /proc/meminfo: Permission denied",
        }
    ]
    assert results["note"] == "partial results: 1 of 6 commands failed (memory)"
    items = {i["itemId"]: i for i in done["items"]}
    assert items["memory"]["status"] == "error"
    assert items["memory"]["error"].startswith("command failed: memory: exit 1")
    assert done["counters"]["commandsFailed"] == 1
    assert done["commandsCompleted"] == done["totalCommands"] == 6


def test_a_connection_lost_mid_answer_runs_the_command_again_and_keeps_no_half_answer(
    api: Api, client_key: Path
) -> None:
    with Sshd([public_key(client_key)], force_command=CONNECTION_LOST_ONCE_FORCE_COMMAND) as server:
        done = scan(api, server.port)
        assert Path(f"{server.force_command}.lost").is_dir()  # the connection did go down
        assert accepted_logins(server) >= 2  # and the scan opened another
    assert done["status"] == "completed", done
    assert {i["status"] for i in done["items"]} == {"passed"}
    check_quick_facts(done["results"])  # the kernel's release and architecture too


def test_a_command_killed_mid_answer_is_a_failed_command_not_a_fact(
    api: Api, client_key: Path
) -> None:
    with Sshd([public_key(client_key)], force_command=MEMINFO_KILLED_FORCE_COMMAND) as server:
        done = scan(api, server.port)
    assert done["status"] == "completed", done
    results = done["results"]
    assert results["memory"] is None  # its first line alone would have read as a total
    assert results["errors"] == [
        {
            "command": "memory",
            "code": "command_failed",
            "message": "command failed: memory: closed without an exit status "
            "(killed by a signal?)",
        }
    ]
    assert results["kernel"] == os.uname().release


def test_a_hanging_command_times_out_while_progress_counts_the_others(
    api: Api, client_key: Path
) -> None:
    with Sshd([public_key(client_key)], force_command=UPTIME_HANGS_FORCE_COMMAND) as server:
        response = api.post(
            "/api/v1/scans", {"targetType": "host", "hostname": "127.0.0.1", "port": server.port}
        )
        seen: list[dict[str, Any]] = []
        done = api.wait(response.json()["scanId"], seen=seen)
    running = [s for s in seen if s["status"] == "running" and s["currentPhase"] == "Collect"]
    assert running, [s["currentPhase"] for s in seen]
    assert all(s["totalCommands"] == 6 for s in running)
    assert any(s["commandsCompleted"] == 5 for s in running)  # all but the hanging one
    assert all(10 <= s["progress"] < 100 for s in running)
    assert done["status"] == "completed", done
    assert done["results"]["uptimeSeconds"] is None
    assert done["results"]["hostname"] == socket.gethostname()
    assert done["results"]["errors"] == [
        {
            "command": "uptime",
            "code": "command_timeout",
            "message": f"command timed out: uptime: no answer within {COMMAND_TIMEOUT_S} s",
        }
    ]


def test_a_non_linux_host_gets_a_clear_unsupported_note(api: Api, client_key: Path) -> None:
    with Sshd([public_key(client_key)], force_command=BSD_FORCE_COMMAND) as server:
        done = scan(api, server.port, scanType="full")
    assert done["status"] == "completed", done
    results = done["results"]
    assert results["unsupported"] is True
    assert results["kernelName"] == "FreeBSD"
    assert results["hostname"] == "bsd-test-host"
    assert results["note"].startswith(
        "unsupported OS: FreeBSD 14.1-RELEASE; host scans support Linux only, so results are "
        "partial (7 of 9 commands failed)"
    )
    assert results["memory"] is None and results["packages"] is None
    assert {e["code"] for e in results["errors"]} == {"command_failed"}


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"hostname": "bad host; rm -rf /", "port": 22},
        {"hostname": "example.com", "port": 0},
        {"hostname": "example.com", "username": "root; id"},
        {"hostname": "example.com", "scanType": "deep"},
        {"hostname": "example.com", "command": "id"},
    ],
)
def test_bad_host_scan_requests_are_422(api: Api, body: dict[str, Any]) -> None:
    response = api.post("/api/v1/scans", {"targetType": "host", **body})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_failed"


def test_host_key_routes_check_their_input(api: Api) -> None:
    for host_id in ("no-port", "example.com-99999", "bad_host!-22"):
        answer = api.get(f"/api/v1/hosts/{host_id}/host-key")
        assert answer.status_code == 400, host_id
        assert re.search("hostId must be", answer.json()["error"]["message"])
    bad = api.request(
        "PUT", "/api/v1/hosts/example.com-22/host-key", json={"keyType": "ssh-ed25519"}
    )
    assert bad.status_code == 422
    wrong_key = Api(api.host, key="not-the-key")
    assert wrong_key.request("DELETE", "/api/v1/hosts/example.com-22/host-key").status_code == 401
