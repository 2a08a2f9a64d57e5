"""Wiring of the repository scan engine: its settings, where credentials come from, and where
the previous scan's artifact index is found.

A registered repository may name a `credentialsRef`: the name of an app setting, or of a Key
Vault secret (vault `KEY_VAULT_URL`), holding a token (https) or a private key (ssh). It is read
only when the server asks for credentials during the fetch, never logged, stored or returned.

A rescan starts from the artifact index of the repository's last completed scan (its scan
record names the blob), so only what changed since is parsed.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
from typing import Any

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from orchestrations.scan_store import COMPLETED, ScanStore
from orchestrations.settings import AppSettings
from orchestrations.storage import get_storage
from orchestrations.target_store import TargetStore
from scanner.engine import ScanEngine, ScanError, ScanTarget, TransientScanError
from scanner.repository import EngineOptions, Limits, RepositoryEngine
from scanner.repository.engine import PreviousScan

log = logging.getLogger(__name__)
_REF = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")


class RepositorySettings(BaseSettings):
    """Limits and options of repository scans (docs/settings.md)."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    # Documents larger than this are not read (finding GXP-PARSE-FILE-SIZE).
    repo_max_file_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576)
    # More candidate documents than this in one tree: the scan fails rather than run for ever.
    repo_max_files: int = Field(100_000, ge=1, le=1_000_000)
    # Commits walked (newest first) to find each document's last change (suspect links).
    repo_max_history_commits: int = Field(10_000, ge=1, le=1_000_000)
    # Findings kept per rule (the count is always exact).
    repo_max_findings_per_rule: int = Field(10_000, ge=1, le=1_000_000)
    # Extensions of the files read as candidate documents (comma-separated).
    repo_document_extensions: str = ".md,.markdown,.txt"
    # User name sent with a token over https (GitHub: x-access-token; Azure DevOps: any).
    repo_token_username: str = "x-access-token"  # noqa: S105 - a user name
    # Parent folder of the mirror cache and of temporary bare clones (default: the system's).
    repo_work_dir: str = ""
    # Bare mirrors of the scanned repositories, kept between scans on the worker's disk and
    # updated by a fetch; at most this many MB (least recently used removed first). 0: no
    # cache, every scan clones into a temporary folder.
    repo_mirror_cache_mb: int = Field(2048, ge=0, le=1_048_576)
    key_vault_url: str = Field("", validation_alias=AliasChoices("KEY_VAULT_URL"))

    def options(self, allow_local_paths: bool) -> EngineOptions:
        extensions = tuple(
            e.strip().lower() if e.strip().startswith(".") else "." + e.strip().lower()
            for e in self.repo_document_extensions.split(",")
            if e.strip()
        )
        return EngineOptions(
            limits=Limits(
                max_file_bytes=self.repo_max_file_bytes,
                max_documents=self.repo_max_files,
                max_history_commits=self.repo_max_history_commits,
                extensions=extensions or Limits().extensions,
            ),
            allow_local_paths=allow_local_paths,
            token_username=self.repo_token_username,
            work_dir=self.repo_work_dir or None,
            max_findings_per_rule=self.repo_max_findings_per_rule,
            mirror_dir=os.path.join(self.repo_work_dir or tempfile.gettempdir(), "repo-mirrors")
            if self.repo_mirror_cache_mb
            else None,
            mirror_cache_bytes=self.repo_mirror_cache_mb << 20,
        )


class SecretReader:
    """Reads a credentials reference: an app setting of that name, else a Key Vault secret."""

    def __init__(self, key_vault_url: str) -> None:
        self.key_vault_url = key_vault_url
        self._client: Any = None
        self._lock = threading.Lock()

    def __call__(self, ref: str) -> str | None:
        if not _REF.match(ref):
            raise ScanError("credentials reference is not a valid setting or secret name")
        value = os.environ.get(ref)  # settings: dynamic (the reference names an app setting)
        if value:
            return value
        if not self.key_vault_url:
            raise ScanError(
                f"credentials reference {ref!r} names no app setting and KEY_VAULT_URL is not set"
            )
        return self._from_key_vault(ref)

    def _from_key_vault(self, ref: str) -> str | None:
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            ResourceNotFoundError,
        )

        with self._lock:
            if self._client is None:
                from azure.identity import DefaultAzureCredential
                from azure.keyvault.secrets import SecretClient

                self._client = SecretClient(self.key_vault_url, DefaultAzureCredential())
            client = self._client
        secret_name = ref.replace("_", "-").replace(".", "-")  # Key Vault names: letters, -
        try:
            value: str | None = client.get_secret(secret_name).value
        except ResourceNotFoundError:
            raise ScanError(f"Key Vault has no secret {secret_name!r}") from None
        except ClientAuthenticationError:
            raise ScanError("Key Vault refused this app's identity") from None
        except HttpResponseError as exc:
            if exc.status_code in (401, 403):
                raise ScanError("Key Vault refused this app's identity") from None
            raise TransientScanError(f"Key Vault: HTTP {exc.status_code}") from None
        return value


class LastCompletedScan:
    """The repository's last completed scan and its artifact index reference: the registry
    names the last scan; when that one did not complete, the newest completed one is looked
    up among the repository's recent scans."""

    recent = 10

    def __init__(self, settings: AppSettings) -> None:
        self.settings = settings

    def __call__(self, target: ScanTarget) -> PreviousScan | None:
        storage = get_storage(self.settings)
        scans = ScanStore(storage)
        registered = TargetStore(storage).get(target.target_type, target.target_id)
        if registered is None or not registered.last_scan_id:
            return None
        last = scans.get(registered.last_scan_id) if registered.last_status == COMPLETED else None
        if last is None:
            found, _ = scans.page(target.target_type, target.target_id, COMPLETED, self.recent)
            last = found[0] if found else None
        index = (last.results or {}).get("artifactIndex") if last is not None else None
        return PreviousScan(last.scan_id, str(index)) if last is not None and index else None


def create_engine(settings: AppSettings) -> ScanEngine:
    repository = RepositorySettings()
    return RepositoryEngine(
        repository.options(settings.repo_allow_local_paths),
        secrets=SecretReader(repository.key_vault_url),
        previous_scan=LastCompletedScan(settings),
    )
