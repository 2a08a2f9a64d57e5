"""Git access for repository scans (pygit2 / libgit2): clone and fetch, resolve the commit, list
the tree, read documents. Straight from Git objects: no work tree is ever checked out.

A scan reads a bare mirror kept between scans (mirrors.py) or, without a mirror cache, a bare
copy in a temporary directory of its own, removed when the scan's plan ends (for a local path
libgit2 links the object files: instant). Symbolic links are never followed, submodules never
entered, binaries and oversized files never parsed.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pygit2
from pygit2.enums import FetchPrune, FileMode

from scanner.engine import ScanError, TransientScanError
from scanner.repository.urls import RepositoryUrlError, check_repository_url

_HEX = re.compile(r"^[0-9a-fA-F]{4,40}$")
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_TRANSIENT = (
    "timed out",
    "timeout",
    "could not resolve",
    "failed to connect",
    "connection reset",
    "connection refused",
    "unexpected eof",
    "early eof",
    " 502",
    " 503",
    " 504",
    " 429",
)
_AUTH = ("authentication", "401", "403", "credentials", "permission denied", "unauthorized")

# Resolves a credentials reference to its secret (a token for https, a private key for ssh).
SecretReader = Callable[[str], str | None]


class AccessDeniedError(ScanError):
    """The repository refused us or wants credentials we do not have (not retried)."""


def redact(text: str) -> str:
    """`text` with any user:password@ of a URL removed (messages, logs)."""
    return _USERINFO.sub("***@", text)


def is_local_path(url: str) -> bool:
    return url.startswith("/")


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 1_048_576
    max_documents: int = 100_000
    max_history_commits: int = 10_000
    max_log_commits: int = 500
    extensions: tuple[str, ...] = (".md", ".markdown", ".txt")


@dataclass(frozen=True)
class Source:
    """Where to fetch from: the registered repository's settings."""

    url: str
    branch: str = "main"
    credentials_ref: str | None = None
    token_username: str = "x-access-token"  # noqa: S105 - a user name


class _Callbacks(pygit2.RemoteCallbacks):
    """Credentials read lazily, only when the server asks, never kept after the fetch."""

    def __init__(self, source: Source, secrets: SecretReader | None) -> None:
        super().__init__()
        self.source = source
        self.secrets = secrets
        self.attempts = 0

    def credentials(self, url: str, username_from_url: str | None, allowed_types: Any) -> Any:
        self.attempts += 1
        if self.attempts > 1:  # libgit2 asks again after a rejected secret: give up
            raise AccessDeniedError(
                "the repository rejected the credentials of its credentials_ref"
            )
        ref = self.source.credentials_ref
        if not ref or self.secrets is None:
            raise AccessDeniedError("the repository asks for credentials and none are configured")
        secret = self.secrets(ref)
        if not secret:
            raise AccessDeniedError(f"credentials reference {ref!r} holds no secret")
        if allowed_types & pygit2.enums.CredentialType.SSH_MEMORY or allowed_types & (
            pygit2.enums.CredentialType.SSH_KEY
        ):
            return pygit2.KeypairFromMemory(username_from_url or "git", None, secret, "")
        return pygit2.UserPass(username_from_url or self.source.token_username, secret.strip())


def _classify(exc: Exception, source: Source) -> ScanError:
    message = redact(str(exc)) or type(exc).__name__
    lowered = message.lower()
    where = redact(source.url)
    if any(word in lowered for word in _AUTH):
        return AccessDeniedError(f"cannot fetch {where}: access denied ({message})")
    if any(word in lowered for word in _TRANSIENT):
        return TransientScanError(f"cannot fetch {where}: {message}")
    return ScanError(f"cannot fetch {where}: {message}")


def check_url(source: Source, allow_local_paths: bool) -> None:
    """Refuse what a scan must not fetch: local paths unless allowed, unknown schemes, urls
    that could smuggle options into a Git client (also for targets registered before the url
    was checked at registration)."""
    try:
        check_repository_url(source.url, allow_local_paths)
    except RepositoryUrlError as exc:
        raise ScanError(f"repository url refused: {exc}") from None
    local = is_local_path(source.url) or source.url.startswith("file://")
    if local and not os.path.isdir(source.url.removeprefix("file://")):
        raise ScanError(f"repository path {source.url} does not exist")


def clone(source: Source, directory: str, secrets: SecretReader | None) -> pygit2.Repository:
    """A bare clone of every branch into `directory` (for a local path libgit2 links the
    object files: instant)."""
    try:
        return pygit2.clone_repository(
            source.url, directory, bare=True, callbacks=_Callbacks(source, secrets), depth=0
        )
    except ScanError:
        raise
    except (pygit2.GitError, KeyError, ValueError, OSError) as exc:
        raise _classify(exc, source) from None


def update(repo: pygit2.Repository, source: Source, secrets: SecretReader | None) -> None:
    """Fetch what changed since the last fetch; branches deleted or force-pushed upstream
    follow (remote-tracking refs, pruned)."""
    try:
        repo.remotes["origin"].fetch(
            callbacks=_Callbacks(source, secrets), prune=FetchPrune.PRUNE, depth=0
        )
    except ScanError:
        raise
    except (pygit2.GitError, KeyError, ValueError, OSError) as exc:
        raise _classify(exc, source) from None


@contextlib.contextmanager
def fetched(
    source: Source,
    *,
    allow_local_paths: bool,
    secrets: SecretReader | None = None,
    work_dir: str | None = None,
) -> Iterator[pygit2.Repository]:
    """A bare copy of the repository in a temporary directory, removed on exit."""
    check_url(source, allow_local_paths)
    directory = tempfile.mkdtemp(prefix="repo-scan-", dir=work_dir or None)
    repo: pygit2.Repository | None = None
    try:
        repo = clone(source, directory, secrets)
        yield repo
    finally:
        if repo is not None:
            with contextlib.suppress(Exception):
                repo.free()
        shutil.rmtree(directory, ignore_errors=True)


def resolve_commit(
    repo: pygit2.Repository, branch: str, commit_sha: str | None
) -> tuple[pygit2.Commit, str]:
    """(commit, what was asked) for `commit_sha`, or the head of `branch` when it is None."""
    if commit_sha:
        if not _HEX.match(commit_sha):
            raise ScanError(f"commit {commit_sha[:64]!r} is not a hexadecimal commit id")
        try:
            found = repo.get(commit_sha)
        except (ValueError, KeyError, pygit2.GitError) as exc:
            if "ambiguous" in str(exc).lower():
                raise ScanError(f"commit {commit_sha} is ambiguous: give more digits") from None
            found = None
        if found is None:
            raise ScanError(f"commit {commit_sha} was not found in the repository")
        try:
            commit = found.peel(pygit2.Commit)
        except (ValueError, pygit2.GitError, TypeError):
            raise ScanError(f"{commit_sha} is not a commit") from None
        return commit, commit_sha
    # The remote-tracking branch first: a fetch moves it (also when it was force-pushed).
    for name in (f"refs/remotes/origin/{branch}", f"refs/heads/{branch}"):
        reference = repo.references.get(name)
        if reference is not None:
            return reference.peel(pygit2.Commit), branch
    raise ScanError(f"branch {branch!r} was not found in the repository")


@dataclass(slots=True)
class TreeListing:
    """Candidate documents of a tree: (path, blob id) in path order, and what was skipped."""

    documents: list[tuple[str, pygit2.Oid]] = field(default_factory=list)
    symlinks: list[str] = field(default_factory=list)
    files_seen: int = 0


def list_tree(repo: pygit2.Repository, tree: pygit2.Tree, limits: Limits) -> TreeListing:
    """Walk the tree (iteratively): documents by extension, symbolic links noted, never
    followed; submodules skipped."""
    listing = TreeListing()
    extensions = tuple(e.lower() for e in limits.extensions)
    stack: list[tuple[str, pygit2.Tree]] = [("", tree)]
    while stack:
        prefix, current = stack.pop()
        for entry in current:
            name = entry.name or ""
            path = prefix + name
            mode = entry.filemode
            if mode == FileMode.TREE:
                subtree = repo.get(entry.id)
                if isinstance(subtree, pygit2.Tree):
                    stack.append((path + "/", subtree))
                continue
            if mode == FileMode.COMMIT:  # submodule
                continue
            listing.files_seen += 1
            if not name.lower().endswith(extensions):
                continue
            if mode == FileMode.LINK:
                listing.symlinks.append(path)
            elif mode in (FileMode.BLOB, FileMode.BLOB_EXECUTABLE):
                listing.documents.append((path, entry.id))
        if len(listing.documents) > limits.max_documents:
            raise ScanError(
                f"the tree holds more than {limits.max_documents} candidate documents "
                "(REPO_MAX_FILES)"
            )
    listing.documents.sort()
    listing.symlinks.sort()
    return listing


def read_text(
    repo: pygit2.Repository, oid: pygit2.Oid, limits: Limits
) -> tuple[str | None, str | None, int]:
    """(text, None, size) or (None, why skipped: "oversized" | "binary", size)."""
    odb = repo.odb
    _, size = odb.read_header(oid)
    if size > limits.max_file_bytes:
        return None, "oversized", size
    _, data = odb.read(oid)
    if b"\x00" in data[:8000]:
        return None, "binary", size
    if data.startswith(codecs.BOM_UTF8):  # what "utf-8-sig" drops, without its slower codec
        data = data[3:]
    try:
        return data.decode("utf-8"), None, size
    except UnicodeDecodeError:
        return None, "binary", size
