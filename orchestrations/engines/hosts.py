"""Wiring of the host scan engine: its settings, its private keys, its known-hosts store.

`HostSettings` are the SSH_* settings (docs/settings.md). The service-wide private key comes
from a file (`SSH_PRIVATE_KEY_PATH`, standalone host) or a Key Vault secret
(`SSH_PRIVATE_KEY_SECRET` in the vault at `KEY_VAULT_URL`). A host, or a jump host, may name its
own (`credentialsRef`, `passphraseRef`), read through the secret reader. Keys are read in the
worker that connects, kept in memory only, never logged or stored.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from orchestrations.core.settings import AppSettings
from orchestrations.engines.secrets import SecretReader
from orchestrations.engines.wiring import EngineUnavailableError, load_settings
from orchestrations.state.host_keys import TableKnownHostKeys
from orchestrations.state.storage import get_storage
from scanner.engine import ScanEngine
from scanner.hosts.failures import Failure, HostScanError
from scanner.hosts.host_keys import HostKeyPolicy


class HostSettings(BaseSettings):
    """Settings of host scans (environment / App Settings)."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    ssh_private_key_path: str = ""
    ssh_private_key_secret: str = ""
    ssh_private_key_passphrase: SecretStr = SecretStr("")
    ssh_default_username: str = ""
    ssh_host_key_policy: Literal["accept-new", "strict"] = "accept-new"
    ssh_connect_timeout_s: float = Field(10.0, gt=0, le=300)
    ssh_command_timeout_s: float = Field(30.0, gt=0, le=3600)
    key_vault_url: str = ""


def _file_reader(path: str) -> Callable[[], str]:
    def read() -> str:
        try:
            return Path(path).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise HostScanError(
                Failure.CONFIGURATION,
                f"SSH_PRIVATE_KEY_PATH cannot be read ({type(exc).__name__})",
            ) from exc

    return read


def _key_vault_reader(vault_url: str, secret_name: str) -> Callable[[], str]:
    secrets = SecretReader(vault_url)

    def read() -> str:
        try:
            value = secrets.from_key_vault(secret_name)
        except Exception as exc:
            raise HostScanError(
                Failure.CONFIGURATION,
                f"Key Vault secret {secret_name!r} cannot be read ({type(exc).__name__})",
            ) from exc
        if not value:
            raise HostScanError(Failure.CONFIGURATION, f"Key Vault secret {secret_name!r} is empty")
        return value

    return read


def has_service_key() -> bool:
    """Whether a service-wide key is set up (hosts without a credentialsRef need it)."""
    host = load_settings(HostSettings, "host scans")
    return bool(host.ssh_private_key_path or host.ssh_private_key_secret)


def create_engine(settings: AppSettings) -> ScanEngine:
    # Imported here: paramiko loads only in processes that scan hosts.
    from scanner.hosts.engine import HostEngineConfig, HostScanEngine
    from scanner.hosts.ssh import PrivateKeySource

    host = load_settings(HostSettings, "host scans")
    passphrase = host.ssh_private_key_passphrase.get_secret_value() or None
    # Without a service-wide key, only hosts that name their own can be scanned (the others
    # are refused when triggered, with the settings to set).
    key = None
    if host.ssh_private_key_path:
        key = PrivateKeySource(_file_reader(host.ssh_private_key_path), passphrase)
    elif host.ssh_private_key_secret:
        if not host.key_vault_url:
            raise EngineUnavailableError(
                "host scans are misconfigured: SSH_PRIVATE_KEY_SECRET needs KEY_VAULT_URL"
            )
        reader = _key_vault_reader(host.key_vault_url, host.ssh_private_key_secret)
        key = PrivateKeySource(reader, passphrase)
    config = HostEngineConfig(
        default_username=host.ssh_default_username,
        host_key_policy=HostKeyPolicy(host.ssh_host_key_policy),
        connect_timeout_s=host.ssh_connect_timeout_s,
        command_timeout_s=host.ssh_command_timeout_s,
    )
    return HostScanEngine(
        config,
        key,
        TableKnownHostKeys(get_storage(settings)),
        enrich_packages=_lazy_osv_enricher(settings),
        read_secret=SecretReader(host.key_vault_url),
    )


def _lazy_osv_enricher(settings: AppSettings) -> Callable[[list[tuple[str, str, str]]], Any]:
    """Full scans look their packages up in OSV with the subscription engine's enrichment
    (batched, cached in Table Storage; OSV_ENRICHMENT=false turns it off), built on first use."""
    built: list[Callable[[list[tuple[str, str, str]]], Any]] = []

    def enrich(packages: list[tuple[str, str, str]]) -> Any:
        if not built:
            from orchestrations.engines.subscriptions import create_osv_enricher

            built.append(create_osv_enricher(settings))
        return built[0](packages)

    return enrich
