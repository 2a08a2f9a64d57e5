"""scanctl with an Entra ID access token (SCAN_API_TOKEN, as `az account get-access-token`
prints it) against the service, which checks it with the fake tenant's keys."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli_service import SCANCTL
from tests.support.entra import FakeEntra
from tests.support.host_process import HostProcess
from tests.support.scan_api import scan_api_env, start_api


@pytest.fixture(scope="module")
def host(
    azurite: str, entra: FakeEntra, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HostProcess]:
    process = start_api(
        tmp_path_factory.mktemp("scanctl-token"), scan_api_env(azurite, **entra.env())
    )
    yield process
    process.stop()


def scanctl(host: HostProcess, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCAN_API")}
    env.update({"SCAN_API_URL": host.base_url, "SCAN_API_TOKEN": token, "COLUMNS": "200"})
    return subprocess.run(
        [str(SCANCTL), *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_a_token_with_a_role_reads_and_one_without_it_is_told_which(
    host: HostProcess, entra: FakeEntra, tmp_path: Path
) -> None:
    reader = entra.token(["Scans.Read"], user="auditor@contoso.example")
    listed = scanctl(host, reader, "targets", "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    refused = scanctl(host, reader, "targets", "add", "host", "scanner@db1.example.com:22")
    assert refused.returncode == 4
    assert "needs the admin role" in refused.stderr and reader not in refused.stderr
    admin = entra.token(["Scans.Admin"])
    added = scanctl(host, admin, "targets", "add", "host", "scanner@db1.example.com:22")
    assert added.returncode == 0, added.stderr


def test_a_refused_token_names_where_it_came_from_never_its_value(
    host: HostProcess, entra: FakeEntra
) -> None:
    expired = entra.token(["Scans.Admin"], lifetime_s=-3600)
    done = scanctl(host, expired, "scans", "list")
    assert done.returncode == 4
    assert "the token from SCAN_API_TOKEN was refused" in done.stderr
    assert "expired" in done.stderr and expired not in done.stderr + done.stdout
