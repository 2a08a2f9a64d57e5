"""Wiring of the repository scan engine: its settings and where credentials come from.

A registered repository may name a `credentialsRef`: the name of an app setting, or of a Key
Vault secret (vault `KEY_VAULT_URL`), holding a token (https) or a private key (ssh). It is read
only when the server asks for credentials during the fetch, never logged, stored or returned.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from orchestrations.core.settings import AppSettings
from orchestrations.engines.secrets import SecretReader
from orchestrations.engines.wiring import load_settings
from scanner.engine import ScanEngine, ScanTarget
from scanner.repository.engine import EngineOptions, RepositoryEngine
from scanner.repository.git_source import Limits


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


def create_engine(settings: AppSettings) -> ScanEngine:
    repository = load_settings(RepositorySettings, "repository scans")
    return RepositoryEngine(
        repository.options(settings.repo_allow_local_paths),
        secrets=SecretReader(repository.key_vault_url),
    )


def read_document(settings: AppSettings, target: ScanTarget, commit_sha: str, path: str) -> str:
    """One document of a repository at a commit, read as a scan reads it (Git objects, the
    scan's size limit, credentials from the target's reference)."""
    from scanner.repository.documents import document_at

    repository = load_settings(RepositorySettings, "repository scans")
    options = repository.options(settings.repo_allow_local_paths)
    return document_at(target, commit_sha, path, options, SecretReader(repository.key_vault_url))
