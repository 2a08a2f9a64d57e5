"""scanctl with an Entra ID access token (SCAN_API_TOKEN, as `az account get-access-token`
prints it) against the service, which checks it with the fake tenant's keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


# -- --entra-scope: the token from the Azure CLI ---------------------------------------------------

# Stands in for the Azure CLI (not installed here): records its arguments and answers as
# `az account get-access-token --query accessToken --output tsv` does, or as az does when
# nobody is signed in.
FAKE_AZ = """#!{python}
import json, pathlib, sys
here = pathlib.Path(__file__).parent
(here / "calls.jsonl").open("a").write(json.dumps(sys.argv[1:]) + "\\n")
tokens = here / "tokens"  # one a line, each given once
left = tokens.read_text().split() if tokens.exists() else []
if not left:
    sys.stderr.write("ERROR: Please run 'az login' to setup account.\\n")
    sys.exit(1)
tokens.write_text("\\n".join(left[1:]))
sys.stdout.write(left[0] + "\\n")
"""


def give_tokens(azure_cli: Path, *tokens: str) -> None:
    (azure_cli / "tokens").write_text("\n".join(tokens))


@pytest.fixture
def azure_cli(tmp_path: Path) -> Path:
    folder = tmp_path / "azure-cli"
    folder.mkdir()
    az = folder / "az"
    az.write_text(FAKE_AZ.format(python=sys.executable))
    az.chmod(0o755)
    return folder


def scanctl_with_az(
    host: HostProcess, azure_cli: Path, *args: str, scope_env: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCAN_API")}
    env.update({"SCAN_API_URL": host.base_url, "COLUMNS": "200"})
    env["PATH"] = f"{azure_cli}{os.pathsep}{env.get('PATH', '')}"
    if scope_env is not None:
        env["SCAN_API_ENTRA_SCOPE"] = scope_env
    return subprocess.run(
        [str(SCANCTL), *args], env=env, capture_output=True, text=True, timeout=60
    )


def az_calls(azure_cli: Path) -> list[list[str]]:
    calls = azure_cli / "calls.jsonl"
    return [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []


def test_entra_scope_asks_the_azure_cli_for_the_token(
    host: HostProcess, entra: FakeEntra, azure_cli: Path
) -> None:
    scope = f"api://{entra.audience}/.default"
    reader = entra.token(["Scans.Read"], user="auditor@contoso.example")
    give_tokens(azure_cli, reader, reader)
    listed = scanctl_with_az(
        host, azure_cli, "targets", "list", "-o", "json", "--entra-scope", scope
    )
    assert listed.returncode == 0, listed.stderr
    assert isinstance(json.loads(listed.stdout), (list, dict))
    # The same from the environment; the role the token holds is the caller's role.
    refused = scanctl_with_az(
        host, azure_cli, "targets", "add", "host", "db2.example.com", scope_env=scope
    )
    assert refused.returncode == 4 and "needs the admin role" in refused.stderr
    expected = ["account", "get-access-token", f"--scope={scope}"]
    expected += ["--query", "accessToken", "--output", "tsv"]
    assert az_calls(azure_cli) == [expected, expected]


def test_entra_scope_says_what_az_said_and_never_runs_it_with_a_bad_scope(
    host: HostProcess, azure_cli: Path
) -> None:
    scope = "api://6e0c2f51-8a5c-4d0e-9b71-3f1c2a9d4e80/.default"
    signed_out = scanctl_with_az(host, azure_cli, "scans", "list", "--entra-scope", scope)
    assert signed_out.returncode == 4
    assert "az account get-access-token failed for --entra-scope" in signed_out.stderr
    assert "az login" in signed_out.stderr
    for bad in ("--output=json", "api://x/.default --debug", "api://x;rm -rf /", ""):
        done = scanctl_with_az(host, azure_cli, "scans", "list", f"--entra-scope={bad}")
        assert done.returncode == 2, (bad, done.stderr)
        assert "is not an app id URI" in done.stderr
    assert len(az_calls(azure_cli)) == 1  # only the signed-out call reached az
    missing = subprocess.run(
        [str(SCANCTL), "scans", "list", "--entra-scope", scope],
        env={"PATH": "/nonexistent", "SCAN_API_URL": host.base_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "needs the Azure CLI (az)" in missing.stderr


def test_a_token_from_az_that_has_expired_is_renewed_once(
    host: HostProcess, entra: FakeEntra, azure_cli: Path
) -> None:
    scope = f"api://{entra.audience}/.default"
    expired = entra.token(["Scans.Read"], lifetime_s=-3600)
    give_tokens(azure_cli, expired, entra.token(["Scans.Read"]))
    listed = scanctl_with_az(host, azure_cli, "scans", "list", "--entra-scope", scope)
    assert listed.returncode == 0, listed.stderr
    assert len(az_calls(azure_cli)) == 2
    # Refused again after renewing: no loop, the usual message.
    give_tokens(azure_cli, expired, expired, expired)
    refused = scanctl_with_az(host, azure_cli, "scans", "list", "--entra-scope", scope)
    assert refused.returncode == 4 and "was refused" in refused.stderr
    assert len(az_calls(azure_cli)) == 4
