"""How the service reaches a host, end to end through the API on the standalone host: each
host's own private key named by a credentials reference (app settings here), with an optional
passphrase reference, and jump hosts to a host that only a bastion can reach (the loopback of
a network namespace). The key material is never stored, logged or returned."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from tests.support.machine_facts import check_quick_facts
from tests.support.netns import NetworkNamespace
from tests.support.scan_api import Api, running_api, scan_api_env
from tests.support.sshd import LOGIN_USER, Sshd, public_key

PASSPHRASE = "correct horse battery staple"


def new_key(path: Path, passphrase: str = "") -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-f", str(path)], check=True
    )
    return path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("host-keys")
    return {"a": new_key(folder / "a"), "b": new_key(folder / "b", PASSPHRASE)}


@pytest.fixture(scope="module")
def env(azurite: str, keys: dict[str, Path]) -> dict[str, str]:
    # No service-wide key: every host here names its own.
    return scan_api_env(
        azurite,
        SSH_DEFAULT_USERNAME=LOGIN_USER,
        SSH_CONNECT_TIMEOUT_S="5",
        HOST_KEY_A=keys["a"].read_text(),
        HOST_KEY_B=keys["b"].read_text(),
        HOST_KEY_B_PASSPHRASE=PASSPHRASE,
    )


@pytest.fixture(scope="module")
def api(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with running_api(tmp_path_factory.mktemp("host-access-api"), env) as api:
        yield api


def scan(api: Api, **body: Any) -> dict[str, Any]:
    response = api.post("/api/v1/scans", {"targetType": "host", "hostname": "127.0.0.1", **body})
    assert response.status_code == 202, response.text
    return api.wait(response.json()["scanId"], timeout=60)


def secret_fragments(keys: dict[str, Path]) -> list[str]:
    """Pieces of the private keys (lines of their base64 body) and the passphrase."""
    fragments = [PASSPHRASE]
    for path in keys.values():
        body = [line for line in path.read_text().splitlines() if not line.startswith("-----")]
        fragments += [line for line in body if len(line) >= 20]
    return fragments


def stored_text(azurite: str, env: dict[str, str]) -> str:
    """Everything this test's service wrote to storage: its tables (registry, scans, items,
    host keys, the Durable history) and blobs."""
    tag = env["SCAN_STORAGE_PREFIX"][1:].lower()
    tables = TableServiceClient.from_connection_string(azurite)
    text = []
    for table in tables.list_tables():
        if tag in table.name.lower():
            client = tables.get_table_client(table.name)
            text += [repr(dict(entity)) for entity in client.list_entities()]
    blobs = BlobServiceClient.from_connection_string(azurite)
    for container in blobs.list_containers():
        if tag in container.name.lower():
            client = blobs.get_container_client(container.name)
            text += [client.download_blob(b.name).readall().decode() for b in client.list_blobs()]
    assert len(text) > 10
    return "\n".join(text)


def test_each_host_logs_in_with_its_own_key_and_the_key_is_never_kept(
    api: Api, env: dict[str, str], keys: dict[str, Path], azurite: str
) -> None:
    with (
        Sshd([public_key(keys["a"])]) as server_a,
        Sshd([public_key(keys["b"])]) as server_b,
    ):
        # No key anywhere: refused when triggered, saying what to set.
        keyless = api.post("/api/v1/scans", {"hostname": "127.0.0.1", "port": server_a.port})
        assert keyless.status_code == 422
        assert keyless.json()["error"]["message"].startswith("no SSH private key: set SSH_PRIV")

        # An ad-hoc scan that names its key.
        done_a = scan(api, port=server_a.port, credentialsRef="HOST_KEY_A")
        assert done_a["status"] == "completed", done_a
        check_quick_facts(done_a["results"])

        # A registered host with its key and the key's passphrase; its scans use them.
        registered = api.post(
            "/api/v1/hosts",
            {
                "hostname": "127.0.0.1",
                "port": server_b.port,
                "credentialsRef": "HOST_KEY_B",
                "passphraseRef": "HOST_KEY_B_PASSPHRASE",
            },
        )
        assert registered.status_code == 201, registered.text
        host = registered.json()
        assert (host["credentialsRef"], host["passphraseRef"]) == (
            "HOST_KEY_B",
            "HOST_KEY_B_PASSPHRASE",
        )
        done_b = scan(api, port=server_b.port)
        assert done_b["status"] == "completed", done_b
        assert done_b["results"]["hostKey"]["fingerprint"] == server_b.host_key_fingerprint

        # Each server takes only its own key.
        crossed = scan(
            api,
            port=server_a.port,
            credentialsRef="HOST_KEY_B",
            passphraseRef="HOST_KEY_B_PASSPHRASE",
        )
        assert crossed["status"] == "failed"
        assert crossed["errorMessage"] == (
            f"authentication failed: {LOGIN_USER}@127.0.0.1:{server_a.port}: "
            "the server rejected the public key"
        )
        locked = scan(api, port=server_a.port, credentialsRef="HOST_KEY_B")
        assert locked["errorMessage"] == (
            "configuration: the SSH private key is encrypted and no passphrase is set"
        )
        nowhere = scan(api, port=server_a.port, credentialsRef="NO_SUCH_SETTING")
        assert nowhere["status"] == "failed"
        assert nowhere["errorMessage"] == (
            "configuration: credentialsRef 'NO_SUCH_SETTING': credentials reference "
            "'NO_SUCH_SETTING' names no app setting and KEY_VAULT_URL is not set"
        )

    # The references are names; the keys and the passphrase are nowhere to be found.
    answers = [done_a, done_b, crossed, locked, nowhere, host]
    kept = "\n".join([stored_text(azurite, env), api.host.log(), *(repr(a) for a in answers)])
    assert "HOST_KEY_B" in kept  # the check can see references where they are stored
    for fragment in secret_fragments(keys):
        assert fragment not in kept
    assert "PRIVATE KEY" not in kept


@pytest.fixture(scope="module")
def behind_a_bastion(keys: dict[str, Path]) -> Iterator[tuple[NetworkNamespace, Sshd, Sshd]]:
    """A target listening only on a namespace's loopback (key B), and a bastion in that
    namespace, reachable from here through the veth pair, that forwards (key A)."""
    with NetworkNamespace() as net:
        target = Sshd([public_key(keys["b"])], netns=net.prefix)
        bastion = Sshd(
            [public_key(keys["a"])],
            netns=net.prefix,
            listen_address=net.inside,
            allow_forwarding=True,
        )
        with target, bastion:
            yield net, target, bastion


def test_a_host_only_a_bastion_reaches_is_scanned_through_it(
    api: Api, behind_a_bastion: tuple[NetworkNamespace, Sshd, Sshd]
) -> None:
    net, target, bastion = behind_a_bastion
    jump = f"{net.inside}:{bastion.port}"
    direct = scan(api, port=target.port, credentialsRef="HOST_KEY_A")
    assert direct["errorMessage"] == f"connection refused: 127.0.0.1:{target.port}"

    access = {
        "credentialsRef": "HOST_KEY_B",
        "passphraseRef": "HOST_KEY_B_PASSPHRASE",
        "proxyJump": [
            {"hostname": net.inside, "port": bastion.port, "credentialsRef": "HOST_KEY_A"}
        ],
    }
    done = scan(api, port=target.port, **access)
    assert done["status"] == "completed", done
    results = done["results"]
    check_quick_facts(results)  # the namespace is this machine: same kernel, disks, memory
    assert results["via"] == [jump]
    assert results["hostKey"]["fingerprint"] == target.host_key_fingerprint
    for host_id, server in (
        (f"{net.inside}-{bastion.port}", bastion),
        (f"127.0.0.1-{target.port}", target),
    ):
        recorded = api.get(f"/api/v1/hosts/{host_id}/host-key").json()["keys"][0]
        assert recorded["fingerprint"] == server.host_key_fingerprint

    # OpenSSH's spelling; the jump host then logs in with the target's key, which it refuses.
    spelled = scan(
        api,
        port=target.port,
        credentialsRef="HOST_KEY_B",
        passphraseRef="HOST_KEY_B_PASSPHRASE",
        proxyJump=f"{LOGIN_USER}@{jump}",
    )
    assert spelled["errorMessage"] == (
        f"authentication failed: jump host {LOGIN_USER}@{jump}: the server rejected the public key"
    )

    old = bastion.host_key_fingerprint
    bastion.restart_with_new_host_key()
    changed = scan(api, port=target.port, **access)
    assert changed["status"] == "failed"
    assert changed["errorMessage"].startswith(
        f"host key changed: jump host {jump} presented ssh-ed25519 "
        f"{bastion.host_key_fingerprint}, but {old} is recorded; if the change is expected, "
        f"forget the old key (DELETE /api/v1/hosts/{net.inside}-{bastion.port}/host-key)"
    )
    assert changed["results"] is None


@pytest.mark.parametrize(
    ("proxy_jump", "field"),
    [
        ("-oProxyCommand=id", "proxyJump.0.hostname"),
        ("bastion.example.com:99999", "proxyJump"),
        ([{"hostname": "b.example.com", "passphraseRef": "X"}], "(body)"),
        ([{"hostname": "b.example.com"}] * 9, "proxyJump"),
    ],
)
def test_bad_jump_hosts_are_422(api: Api, proxy_jump: Any, field: str) -> None:
    response = api.post(
        "/api/v1/hosts",
        {"hostname": "example.com", "credentialsRef": "HOST_KEY_A", "proxyJump": proxy_jump},
    )
    assert response.status_code == 422, response.text
    fields = [d["field"] for d in response.json()["error"]["details"]]
    assert any(re.match(re.escape(field), f) for f in fields), fields


def test_a_registered_host_changes_its_key_and_jump_hosts_by_name(api: Api) -> None:
    created = api.post(
        "/api/v1/hosts",
        {"hostname": "db01.example.com", "credentialsRef": "HOST_KEY_A"},
    )
    assert created.status_code == 201, created.text
    path = "/api/v1/hosts/db01.example.com-22"
    changed = api.request(
        "PATCH",
        path,
        json={
            "credentialsRef": "HOST_KEY_B",
            "passphraseRef": "HOST_KEY_B_PASSPHRASE",
            "proxyJump": "ops@bastion.example.com:2222,10.0.0.1",
        },
    )
    assert changed.status_code == 200, changed.text
    host = api.get(path).json()
    assert (host["credentialsRef"], host["passphraseRef"]) == (
        "HOST_KEY_B",
        "HOST_KEY_B_PASSPHRASE",
    )
    assert host["proxyJump"] == [
        {"hostname": "bastion.example.com", "port": 2222, "username": "ops"},
        {"hostname": "10.0.0.1", "port": 22},
    ]
    cleared = api.request("PATCH", path, json={"proxyJump": None, "passphraseRef": None})
    assert cleared.status_code == 200, cleared.text
    assert "proxyJump" not in cleared.json() and "passphraseRef" not in cleared.json()
    # A passphrase without the key it unlocks is refused, on update too.
    orphan = api.request("PATCH", path, json={"credentialsRef": None, "passphraseRef": "P"})
    assert orphan.status_code == 422
