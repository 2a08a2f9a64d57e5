"""Wiring of the host scan engine: its settings, its private key, its known-hosts store.

- `HostSettings`: the SSH_* settings (docs/settings.md). The service-wide private key comes
  from a file (`SSH_PRIVATE_KEY_PATH`, standalone host) or a Key Vault secret
  (`SSH_PRIVATE_KEY_SECRET` in the vault at `KEY_VAULT_URL`, read with the app's managed
  identity). A host may name its own key instead (`credentialsRef`, `passphraseRef`: app
  settings or Key Vault secrets, see credential_refs.py). Keys are read in the worker that
  connects, kept in memory only, never logged or stored.
- `TableKnownHostKeys`: host-key fingerprints in Table Storage (`{prefix}HostKeys`,
  PartitionKey = host id `<hostname>-<port>`, RowKey = key type). Insert-only at first
  contact, so two workers racing on a new host cannot both win with different keys.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from orchestrations.credential_refs import SecretReader
from orchestrations.scan_store import safe_key, utcnow
from orchestrations.settings import AppSettings
from orchestrations.storage import Storage, get_storage
from orchestrations.target_kinds import EngineUnavailableError, InvalidTargetError
from scanner.engine import ScanEngine
from scanner.hosts.failures import NO_KEY, Failure, HostScanError
from scanner.hosts.host_keys import HostKeyPolicy, KnownHostKey

log = logging.getLogger(__name__)

HOST_KEYS_TABLE = "HostKeys"


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


def host_id(host: str, port: int) -> str:
    """The host's id, as in /api/v1/hosts/{hostId}: `<hostname>-<port>`."""
    return f"{host}-{port}"


class TableKnownHostKeys:
    """Known host keys in Table Storage (implements scanner.hosts.host_keys.KnownHostKeys)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    @property
    def _table(self) -> Any:
        return self.storage.table(HOST_KEYS_TABLE)

    def entries(self, host_key_id: str) -> list[dict[str, Any]]:
        return list(
            self._table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": safe_key(host_key_id)}
            )
        )

    def lookup(self, host: str, port: int) -> list[KnownHostKey]:
        return [
            KnownHostKey(str(e["KeyType"]), str(e["Fingerprint"]))
            for e in self.entries(host_id(host, port))
        ]

    def _entity(self, host: str, port: int, key: KnownHostKey, source: str) -> dict[str, Any]:
        return {
            "PartitionKey": safe_key(host_id(host, port)),
            "RowKey": safe_key(key.key_type),
            "Host": host,
            "Port": port,
            "KeyType": key.key_type,
            "Fingerprint": key.fingerprint,
            "RecordedAt": utcnow(),
            "Source": source,
        }

    def remember(self, host: str, port: int, key: KnownHostKey) -> bool:
        try:
            self._table.create_entity(self._entity(host, port, key, "first-contact"))
        except ResourceExistsError:
            return False
        log.info(
            "host key of %s recorded: %s %s", host_id(host, port), key.key_type, key.fingerprint
        )
        return True

    def pin(self, host: str, port: int, key: KnownHostKey) -> None:
        """Make `key` the host's only known key (an operator's decision)."""
        self.forget(host, port)
        self._table.upsert_entity(self._entity(host, port, key, "api"))
        log.info("host key of %s pinned: %s %s", host_id(host, port), key.key_type, key.fingerprint)

    def forget(self, host: str, port: int) -> int:
        """Forget every key of the host; how many there were."""
        forgotten = 0
        for entity in self.entries(host_id(host, port)):
            try:
                self._table.delete_entity(entity["PartitionKey"], entity["RowKey"])
            except ResourceNotFoundError:
                continue
            forgotten += 1
        if forgotten:
            log.info("host key(s) of %s forgotten: %d", host_id(host, port), forgotten)
        return forgotten


def _file_reader(path: str) -> Any:
    def read() -> str:
        try:
            return Path(path).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise HostScanError(
                Failure.CONFIGURATION,
                f"SSH_PRIVATE_KEY_PATH cannot be read ({type(exc).__name__})",
            ) from exc

    return read


def _key_vault_reader(vault_url: str, secret_name: str) -> Any:
    def read() -> str:
        # Imported here: only Azure deployments read keys from Key Vault.
        from azure.identity import DefaultAzureCredential
        from azure.keyvault.secrets import SecretClient

        try:
            client = SecretClient(vault_url=vault_url, credential=DefaultAzureCredential())
            value = client.get_secret(secret_name).value
        except Exception as exc:
            raise HostScanError(
                Failure.CONFIGURATION,
                f"Key Vault secret {secret_name!r} cannot be read ({type(exc).__name__})",
            ) from exc
        if not value:
            raise HostScanError(Failure.CONFIGURATION, f"Key Vault secret {secret_name!r} is empty")
        return str(value)

    return read


def load_host_settings() -> HostSettings:
    try:
        return HostSettings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise EngineUnavailableError(f"host scans are misconfigured: {problems}") from exc


def require_key(config: dict[str, Any]) -> None:
    """Refuse, when it is triggered, a scan that would have no key to log in with: the target
    names none (its jump hosts fall back to the target's) and the service has none."""
    if config.get("credentials_ref"):
        return
    host = load_host_settings()
    if not (host.ssh_private_key_path or host.ssh_private_key_secret):
        raise InvalidTargetError(NO_KEY)


def create_engine(settings: AppSettings) -> ScanEngine:
    # Imported here: paramiko loads only in processes that scan hosts (the API blueprints
    # import this module for the host-key routes).
    from scanner.hosts.engine import HostEngineConfig, HostScanEngine
    from scanner.hosts.ssh import PrivateKeySource

    host = load_host_settings()
    passphrase = host.ssh_private_key_passphrase.get_secret_value() or None
    # Without a service-wide key, only hosts that name their own (credentialsRef) can be
    # scanned; the others fail with a configuration error that says what to set.
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
            from orchestrations.subscription_engine import create_osv_enricher

            built.append(create_osv_enricher(settings))
        return built[0](packages)

    return enrich
