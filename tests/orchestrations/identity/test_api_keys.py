"""Scoped API keys: parsing, matching, rotation, the secret they may come from, and logs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from orchestrations.identity.api_keys import REFRESH_SECONDS, ApiKeyRing, parse_api_keys
from orchestrations.identity.authentication import Authenticator, Unauthenticated
from orchestrations.identity.roles import Role
from tests.support.azure_fakes import FakeAzure, planted_tenant
from tests.support.key_vault import FakeKeyVault

OLD = "pipeline-key-2024-0123456789"
NEW = "pipeline-key-2025-9876543210"
AUDIT = "auditor-key-abcdefghijklmnop"


def test_each_key_has_a_name_and_a_role() -> None:
    ring = ApiKeyRing(f"pipeline:operator:{OLD}, auditor:READER:{AUDIT}")
    pipeline, auditor = ring.match(OLD), ring.match(AUDIT)
    assert pipeline is not None and (pipeline.name, pipeline.role) == ("pipeline", Role.OPERATOR)
    assert auditor is not None and (auditor.name, auditor.role) == ("auditor", Role.READER)
    assert ring.match(NEW) is None
    assert ring.match(OLD[:-1]) is None and ring.match(OLD + "x") is None
    assert ring.match("") is None


def test_two_keys_under_one_name_are_both_valid_for_rotation() -> None:
    ring = ApiKeyRing(f"pipeline:operator:{OLD},pipeline:operator:{NEW}")
    assert [k.name for k in (ring.match(OLD), ring.match(NEW)) if k] == ["pipeline", "pipeline"]


def test_a_key_may_contain_colons() -> None:
    ring = ApiKeyRing("ops:admin:abc:def:ghi:jkl:mno:pqr")
    found = ring.match("abc:def:ghi:jkl:mno:pqr")
    assert found is not None and found.role is Role.ADMIN


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (OLD, "is not name:role:key"),
        (f"pipeline:{OLD}", "is not name:role:key"),
        (f"pipeline:owner:{OLD}", "must be reader, operator or admin"),
        ("pipeline:admin:short-key", "at least 12 characters"),
        (f"bad name:admin:{OLD}", "a key name is"),
    ],
)
def test_malformed_entries_are_left_out_and_reported_without_their_key(
    entry: str, problem: str
) -> None:
    keys, problems = parse_api_keys(f"{entry},auditor:reader:{AUDIT}", "SCAN_API_KEYS")
    assert [k.name for k in keys] == ["auditor"]
    assert len(problems) == 1 and problem in problems[0] and "entry 1 of 2" in problems[0]
    assert OLD not in problems[0] and "short-key" not in problems[0]


def test_one_name_cannot_hold_two_roles_nor_one_key_two_names() -> None:
    keys, problems = parse_api_keys(
        f"ci:reader:{OLD},ci:admin:{NEW},other:admin:{OLD}", "SCAN_API_KEYS"
    )
    assert [(k.name, k.role) for k in keys] == [("ci", Role.READER)]
    assert "already has the role reader" in problems[0]
    assert "the same key is listed before" in problems[1]


def test_keys_are_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret_reads = iter([f"pipeline:operator:{NEW},broken:{OLD}"])
    ring = ApiKeyRing(f"x:admin:{AUDIT},{OLD}", "api-keys", lambda _: next(secret_reads))
    ring.match(NEW)
    assert "API keys read from secret api-keys: pipeline" in caplog.text
    for key in (OLD, NEW, AUDIT):
        assert key not in caplog.text


def test_keys_from_the_secret_are_read_again_after_the_refresh_interval() -> None:
    now = [0.0]
    secret = {"api-keys": f"pipeline:operator:{OLD}"}
    reads: list[str] = []

    def read(name: str) -> str | None:
        reads.append(name)
        return secret.get(name)

    ring = ApiKeyRing("", "api-keys", read, refresh_seconds=300, clock=lambda: now[0])
    assert ring.match(OLD) is not None
    secret["api-keys"] = f"pipeline:operator:{OLD},pipeline:operator:{NEW}"  # 1. add the new key
    assert ring.match(NEW) is None  # not yet re-read
    now[0] += 300
    assert ring.match(NEW) is not None and ring.match(OLD) is not None  # both valid
    secret["api-keys"] = f"pipeline:operator:{NEW}"  # 2. drop the old one
    now[0] += 300
    assert ring.match(OLD) is None and ring.match(NEW) is not None
    assert reads == ["api-keys"] * 3


def test_a_failing_secret_read_keeps_the_keys_it_had(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    answers: list[object] = [f"pipeline:operator:{OLD}", RuntimeError("Key Vault: HTTP 503")]

    def read(_: str) -> str | None:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return str(answer)

    ring = ApiKeyRing("", "api-keys", read, clock=lambda: now[0])
    assert ring.match(OLD) is not None
    now[0] += 600
    assert ring.match(OLD) is not None
    assert "keeping the previous ones" in caplog.text


def test_the_authenticator_answers_who_holds_a_key() -> None:
    auth = Authenticator(ApiKeyRing(f"auditor:reader:{AUDIT}"), tokens=None)
    principal = auth.authenticate({"X-API-Key": AUDIT})
    assert (principal.kind, principal.name, principal.role) == ("key", "auditor", Role.READER)
    with pytest.raises(Unauthenticated, match="X-API-Key is required"):
        auth.authenticate({})
    with pytest.raises(Unauthenticated, match="is not valid"):
        auth.authenticate({"X-API-Key": NEW})
    with pytest.raises(Unauthenticated, match="not configured") as caught:
        auth.authenticate({"Authorization": "Bearer abc.def.ghi", "X-API-Key": AUDIT})
    assert caught.value.challenge == "invalid_token"
    with pytest.raises(Unauthenticated, match="'Bearer <token>'"):
        auth.authenticate({"Authorization": f"Basic {AUDIT}"})


def test_keys_are_read_from_key_vault_and_rotate_there(tmp_path: Path) -> None:
    """The real SecretClient against a fake Key Vault, authenticated by a fake Entra ID (the
    service principal of the fake tenant; the app uses its managed identity instead)."""
    from azure.identity import ClientSecretCredential
    from azure.keyvault.secrets import SecretClient

    with FakeAzure(planted_tenant(), tmp_path) as azure, FakeKeyVault(azure) as vault:
        credential = ClientSecretCredential(
            azure.tenant.tenant_id,
            azure.tenant.client_id,
            azure.tenant.client_secret,
            authority=azure.login.url,
            disable_instance_discovery=True,
            connection_verify=str(azure.ca_path),
        )
        client = SecretClient(vault.url, credential, connection_verify=str(azure.ca_path))

        def read(name: str) -> str | None:
            value: str | None = client.get_secret(name).value
            return value

        vault.secrets["scan-api-keys"] = f"pipeline:operator:{OLD}"
        now = [0.0]
        ring = ApiKeyRing("", "scan-api-keys", read, clock=lambda: now[0])
        found = ring.match(OLD)
        assert found is not None and (found.name, found.role) == ("pipeline", Role.OPERATOR)
        vault.secrets["scan-api-keys"] = f"pipeline:operator:{OLD},pipeline:operator:{NEW}"
        now[0] += REFRESH_SECONDS
        assert ring.match(NEW) is not None and ring.match(OLD) is not None
        del vault.secrets["scan-api-keys"]  # gone (or unreadable): the keys read before stay
        now[0] += REFRESH_SECONDS
        assert ring.match(NEW) is not None
        assert vault.reads() >= 4 and azure.counts()["token"] >= 1  # challenge + 3 reads
