"""Full host scans look the installed packages up in OSV (the subscription engine's cached
enrichment), against a TLS fake of OSV; an OSV failure annotates the scan, never fails it."""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from scanner.hosts.engine import osv_ecosystem
from tests.support.azure_fakes import FakeAzure
from tests.support.azure_fakes.dataset import Builder, Tenant
from tests.support.scan_api import Api, scan_api_env, start_api
from tests.support.sshd import LOGIN_USER, Sshd, make_key, public_key

PLANTED_ID = "DSA-fake-host-0001"
PLANTED_CVE = "CVE-2099-0001"


def installed_version(package: str) -> str:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


@pytest.fixture(scope="module")
def ecosystem() -> str:
    release = platform.freedesktop_os_release()
    found = osv_ecosystem({"id": release.get("ID"), "versionId": release.get("VERSION_ID")})
    assert found is not None, "the tests run on Debian or Ubuntu"
    return found


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory, ecosystem: str) -> Iterator[FakeAzure]:
    tenant = Tenant()
    Builder(tenant).vulnerability(
        (ecosystem, "bash", installed_version("bash")), PLANTED_ID, PLANTED_CVE
    )
    with FakeAzure(tenant, tmp_path_factory.mktemp("osv")) as server:
        yield server


@pytest.fixture(scope="module")
def api(
    azurite: str, fake: FakeAzure, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Api, Sshd]]:
    key = make_key(tmp_path_factory.mktemp("key") / "id_ed25519")
    env = scan_api_env(
        azurite,
        SSH_PRIVATE_KEY_PATH=str(key),
        SSH_DEFAULT_USERNAME=LOGIN_USER,
        OSV_CACHE_TTL_HOURS="0",
        **fake.env(),
    )
    host = start_api(tmp_path_factory.mktemp("host-osv"), env)
    with Sshd([public_key(key)]) as server:
        yield Api(host), server
    host.stop()


def full_scan(api: Api, port: int) -> dict[str, Any]:
    answer = api.post("/api/v1/scans", {"hostname": "127.0.0.1", "port": port, "scanType": "full"})
    assert answer.status_code == 202, answer.text
    return api.wait(answer.json()["scanId"], timeout=90)


def test_installed_packages_with_known_vulnerabilities_are_reported(
    api: tuple[Api, Sshd], fake: FakeAzure, ecosystem: str
) -> None:
    client, server = api
    fake.reset_counts()
    done = full_scan(client, server.port)
    assert done["status"] == "completed", done
    found = done["results"]["vulnerabilities"]
    assert found["status"] == "ok"
    assert found["ecosystem"] == ecosystem
    assert found["packagesChecked"] == done["results"]["packages"]["count"] > 0
    assert found["packagesAffected"] == 1
    assert found["packages"] == [
        {
            "name": "bash",
            "version": installed_version("bash"),
            "ids": [PLANTED_ID],
            "cves": [PLANTED_CVE],
        }
    ]
    assert done["counters"]["vulnerablePackages"] == 1
    assert fake.counts()["osv"] >= 1  # batched: not one request per package
    assert fake.counts()["osv"] < 10


def test_an_osv_failure_annotates_and_the_scan_completes(
    api: tuple[Api, Sshd], fake: FakeAzure
) -> None:
    client, server = api
    fake.fail("osv", "/v1/querybatch", 503)
    try:
        done = full_scan(client, server.port)
    finally:
        fake.clear_faults()
    assert done["status"] == "completed", done
    found = done["results"]["vulnerabilities"]
    assert found["status"] == "error"
    assert "503" in (found["error"] or "")
    assert done["results"]["packages"]["count"] > 0  # the inventory itself is intact


@pytest.mark.parametrize(
    ("release", "expected"),
    [
        ({"id": "debian", "versionId": "12"}, "Debian:12"),
        ({"id": "debian", "versionId": "11.7"}, "Debian:11"),
        ({"id": "ubuntu", "versionId": "22.04"}, "Ubuntu:22.04:LTS"),
        ({"id": "ubuntu", "versionId": "23.10"}, "Ubuntu:23.10"),
        ({"id": "alpine", "versionId": "3.19.1"}, "Alpine:v3.19"),
        ({"id": "fedora", "versionId": "40"}, None),
        ({"id": "debian"}, None),
        (None, None),
    ],
)
def test_osv_ecosystem_names(release: Any, expected: str | None) -> None:
    assert osv_ecosystem(release) == expected
