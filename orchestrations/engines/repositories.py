"""Wiring of the repository scan engine: its settings, where credentials come from, and where
the previous scan's artifact index is found.

A registered repository may name a `credentialsRef`: the name of an app setting, or of a Key
Vault secret (vault `KEY_VAULT_URL`), holding a token (https) or a private key (ssh). It is read
only when the server asks for credentials during the fetch, never logged, stored or returned.

A rescan starts from the artifact index of the repository's last completed scan (its scan
record names the blob), so only what changed since is parsed.
"""

from __future__ import annotations

import os
import tempfile

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from orchestrations.core.lifecycle import COMPLETED
from orchestrations.core.settings import AppSettings
from orchestrations.engines.secrets import SecretReader
from orchestrations.engines.wiring import load_settings
from orchestrations.state.scans import ScanStore
from orchestrations.state.storage import get_storage
from orchestrations.state.targets import TargetStore
from scanner.engine import ScanEngine, ScanTarget
from scanner.repository.engine import EngineOptions, PreviousScan, RepositoryEngine
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


class LastCompletedScan:
    """The repository's last completed scan with its artifact index and commit log references:
    the registry names the last scan; when that one did not complete, the newest completed one
    is looked up among the repository's recent scans."""

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
        results = (last.results or {}) if last is not None else {}
        index, commit_log = results.get("artifactIndex"), results.get("commitLog")
        if last is None or not index:
            return None
        return PreviousScan(last.scan_id, str(index), str(commit_log) if commit_log else None)


def create_engine(settings: AppSettings) -> ScanEngine:
    repository = load_settings(RepositorySettings, "repository scans")
    return RepositoryEngine(
        repository.options(settings.repo_allow_local_paths),
        secrets=SecretReader(repository.key_vault_url),
        previous_scan=LastCompletedScan(settings),
    )


def read_document(settings: AppSettings, target: ScanTarget, commit_sha: str, path: str) -> str:
    """One document of a repository at a commit, read as a scan reads it (Git objects, the
    scan's size limit, credentials from the target's reference)."""
    from scanner.repository.documents import document_at

    repository = load_settings(RepositorySettings, "repository scans")
    options = repository.options(settings.repo_allow_local_paths)
    return document_at(target, commit_sha, path, options, SecretReader(repository.key_vault_url))
