"""Host scans of the servers small devices run: Dropbear with a BusyBox-only userland (routers,
NAS boxes, appliances, Alpine), an OpenSSH that allows two sessions per connection, hosts
with no package database and with Alpine's. Through the API on the standalone host, each
fact held against this machine's own truth (the servers run here)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.support.dropbear import Dropbear
from tests.support.machine_facts import check_full_facts, check_quick_facts
from tests.support.scan_api import Api, running_api, scan_api_env
from tests.support.sshd import LOGIN_USER, Sshd, make_key, public_key

ROUNDS = 20
APK_DATABASE = Path(__file__).parent / "fixtures" / "alpine-3.14-armv7-installed"


@pytest.fixture(scope="module")
def client_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_key(tmp_path_factory.mktemp("ssh-client") / "id_ed25519")


@pytest.fixture(scope="module")
def api(azurite: str, client_key: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    env = scan_api_env(
        azurite,
        SSH_PRIVATE_KEY_PATH=str(client_key),
        SSH_DEFAULT_USERNAME=LOGIN_USER,
        OSV_ENRICHMENT="false",  # the facts are the subject here, not their CVEs
    )
    with running_api(tmp_path_factory.mktemp("small-devices-api"), env) as api:
        yield api


@pytest.fixture(scope="module")
def dropbear(client_key: Path) -> Iterator[Dropbear]:
    with Dropbear(public_key(client_key)) as server:
        yield server


def scan(api: Api, hostname: str, port: int, scan_type: str) -> dict[str, Any]:
    response = api.post(
        "/api/v1/scans",
        {"targetType": "host", "hostname": hostname, "port": port, "scanType": scan_type},
    )
    assert response.status_code == 202, response.text
    return api.wait(response.json()["scanId"], timeout=90)


def completed_cleanly(done: dict[str, Any], commands: int) -> dict[str, Any]:
    assert done["status"] == "completed", done
    assert done["errorMessage"] is None
    assert done["commandsCompleted"] == done["totalCommands"] == commands
    assert {i["status"] for i in done["items"]} == {"passed"}, done["items"]
    results: dict[str, Any] = done["results"]
    return results


def quick_and_full_scans_in_rounds(api: Api, port: int) -> list[dict[str, Any]]:
    """Quick scans of `localhost` and full scans of `127.0.0.1` side by side (two targets,
    two connections to the one server), ROUNDS times; every fact true every time. Returns
    the results."""
    seen = []
    with ThreadPoolExecutor(2) as pool:
        for _ in range(ROUNDS):
            quick = pool.submit(scan, api, "localhost", port, "quick")
            full = pool.submit(scan, api, "127.0.0.1", port, "full")
            quick_results = completed_cleanly(quick.result(), 6)
            check_quick_facts(quick_results)
            full_results = completed_cleanly(full.result(), 9)
            check_full_facts(full_results)  # packages from the dpkg database
            seen += [quick_results, full_results]
    return seen


def test_dropbear_with_busybox_quick_and_full_scans_twenty_times_in_a_row(
    api: Api, dropbear: Dropbear
) -> None:
    for results in quick_and_full_scans_in_rounds(api, dropbear.port):
        assert results["sshServer"].startswith("SSH-2.0-dropbear")
        assert results["hostKey"]["fingerprint"] == dropbear.host_key_fingerprint


def test_an_openssh_allowing_two_sessions_gives_the_same_result(api: Api, client_key: Path) -> None:
    with Sshd([public_key(client_key)], extra_config=("MaxSessions 2",)) as server:
        seen = quick_and_full_scans_in_rounds(api, server.port)
    assert all(r["sshServer"].startswith("SSH-2.0-OpenSSH") for r in seen)


def test_a_host_without_a_package_database_says_so(api: Api, client_key: Path) -> None:
    # BusyBox still has an `rpm` applet, which cannot list anything: not a package manager.
    with Dropbear(public_key(client_key), hide=("/var/lib/dpkg",)) as bare:
        done = scan(api, "127.0.0.1", bare.port, "full")
    results = completed_cleanly(done, 9)
    assert results["packages"] == {
        "manager": None,
        "count": 0,
        "sample": [],
        "note": "no package manager found (no dpkg, rpm or apk database)",
    }
    assert done["counters"]["packagesFound"] == 0
    assert "vulnerabilities" not in results


def test_an_alpine_package_database_is_read(api: Api, client_key: Path) -> None:
    with Dropbear(
        public_key(client_key),
        hide=("/var/lib/dpkg",),
        add={"/lib/apk/db/installed": APK_DATABASE},
    ) as alpine:
        done = scan(api, "127.0.0.1", alpine.port, "full")
    packages = completed_cleanly(done, 9)["packages"]
    assert (packages["manager"], packages["count"]) == ("apk", 26)
    assert {"name": "apk-tools", "version": "2.12.6-r0", "arch": "armv7"} in packages["sample"]
    assert packages["listRef"].startswith("blob:scans/")
