"""The wiring's settings: host scans refuse to start (a 4xx at trigger time, not a failed scan
later) when they are misconfigured, and say which setting is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrations.core.settings import AppSettings
from orchestrations.engines.hosts import HostSettings, create_engine, has_service_key
from orchestrations.engines.wiring import EngineUnavailableError

SETTINGS = (
    "SSH_PRIVATE_KEY_PATH",
    "SSH_PRIVATE_KEY_SECRET",
    "SSH_PRIVATE_KEY_PASSPHRASE",
    "SSH_DEFAULT_USERNAME",
    "SSH_HOST_KEY_POLICY",
    "SSH_CONNECT_TIMEOUT_S",
    "SSH_COMMAND_TIMEOUT_S",
    "KEY_VAULT_URL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    settings = HostSettings()
    assert settings.ssh_host_key_policy == "accept-new"
    assert settings.ssh_connect_timeout_s == 10
    assert settings.ssh_command_timeout_s == 30


def test_without_a_service_key_the_engine_is_built_for_hosts_with_their_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert not has_service_key()
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    monkeypatch.setenv("SCAN_STORAGE_PREFIX", "wiringnokey")
    assert create_engine(AppSettings()).info.target_type == "host"
    monkeypatch.setenv("SSH_PRIVATE_KEY_PATH", "/keys/id_ed25519")
    assert has_service_key()


def test_a_secret_name_without_a_vault_is_not_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSH_PRIVATE_KEY_SECRET", "ssh-private-key")
    with pytest.raises(EngineUnavailableError, match="KEY_VAULT_URL"):
        create_engine(AppSettings())


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SSH_HOST_KEY_POLICY", "trust-everything"),
        ("SSH_CONNECT_TIMEOUT_S", "-7"),
        ("SSH_COMMAND_TIMEOUT_S", "soon"),
    ],
)
def test_invalid_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str
) -> None:
    monkeypatch.setenv("SSH_PRIVATE_KEY_PATH", str(tmp_path / "key"))
    monkeypatch.setenv(name, value)
    with pytest.raises(EngineUnavailableError) as caught:
        create_engine(AppSettings())
    assert str(caught.value).startswith(f"host scans are misconfigured: {name}:")
    assert value not in str(caught.value)  # inputs are not echoed (they could be secrets)


def test_a_configured_engine_names_its_counters(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SSH_PRIVATE_KEY_PATH", str(tmp_path / "key"))
    monkeypatch.setenv("SSH_HOST_KEY_POLICY", "strict")
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    monkeypatch.setenv("SCAN_STORAGE_PREFIX", "wiringtest")  # its own storage-client cache key
    engine = create_engine(AppSettings())
    assert engine.target_type == "host"
    assert (engine.completed_counter, engine.total_counter) == (
        "commandsCompleted",
        "totalCommands",
    )
