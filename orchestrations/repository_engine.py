"""Wiring of the repository scan engine: its settings and where credentials come from.

A registered repository may name a `credentialsRef`: the name of an app setting, or of a Key
Vault secret (vault `KEY_VAULT_URL`), holding a token (https) or a private key (ssh). It is read
only when the server asks for credentials during the fetch, never logged, stored or returned.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from typing import Any

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from orchestrations.settings import AppSettings
from scanner.engine import ScanEngine, ScanError, TransientScanError
from scanner.repository import EngineOptions, Limits, RepositoryEngine

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
    # Parent folder of the per-scan temporary bare repositories (default: the system's).
    repo_work_dir: str = ""
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


def create_engine(settings: AppSettings) -> ScanEngine:
    repository = RepositorySettings()
    return RepositoryEngine(
        repository.options(settings.repo_allow_local_paths),
        secrets=SecretReader(repository.key_vault_url),
    )
