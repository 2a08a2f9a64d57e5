"""One document of a repository at a commit, for people to read (the trace matrix's
click-through). Read from Git objects as a scan reads them (from the mirror cache when there is
one): no checkout, symbolic links never followed, the scan's size limit applies."""

from __future__ import annotations

from pygit2.enums import FileMode

from scanner.engine import ScanError, ScanTarget
from scanner.repository import git_source
from scanner.repository.engine import EngineOptions, fetched_commit, mirrors_of, source_of
from scanner.repository.git_source import SecretReader


class DocumentUnavailableError(ScanError):
    """The path names no readable document at that commit."""


def document_at(
    target: ScanTarget,
    commit_sha: str,
    path: str,
    options: EngineOptions,
    secrets: SecretReader | None = None,
) -> str:
    """The text of `path` at `commit_sha` of the target's repository."""
    source = source_of(target, options)
    with fetched_commit(source, commit_sha, options, secrets, mirrors_of(options)) as found:
        repo, commit, _, _ = found
        try:
            entry = commit.tree[path]
        except (KeyError, ValueError):
            raise DocumentUnavailableError(f"{path} is not in commit {commit_sha[:12]}") from None
        if entry.filemode not in (FileMode.BLOB, FileMode.BLOB_EXECUTABLE):
            raise DocumentUnavailableError(
                f"{path} is not a regular file at {commit_sha[:12]} (links are never followed)"
            )
        text, why, size = git_source.read_text(repo, entry.id, options.limits)
        if text is None:
            raise DocumentUnavailableError(f"{path} is {why} ({size} bytes); it is not shown")
        return text
