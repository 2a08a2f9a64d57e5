"""A bounded cache of bare mirrors of the scanned repositories on the worker's local disk.

One folder per repository URL (named by a hash of it, so no URL or credential is in a path),
updated by an incremental fetch before each scan instead of a whole clone. The cache is capped
in bytes; when it grows past the cap the least recently used mirrors are removed.

Safe under concurrent scans in threads and processes of one machine: each mirror has a lock
file, held (flock, exclusive) while a scan uses the mirror; eviction takes the same lock
without waiting and skips mirrors that are in use. Lock files are never deleted, so two
processes can never hold "the" lock of one mirror through two different files.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pygit2

from scanner.engine import ScanError, TransientScanError
from scanner.repository import git_source
from scanner.repository.git_source import SecretReader, Source

log = logging.getLogger(__name__)

_LOCK_POLL_S = 0.05
# What reading a damaged mirror raises (libgit2 errors, missing objects, unreadable files).
DAMAGE = (pygit2.GitError, KeyError, ValueError, OSError)


@dataclass
class Checkout:
    """A repository to read: `reused` when an existing mirror was updated, not cloned."""

    repo: pygit2.Repository
    reused: bool


def mirror_key(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under `folder` (hard-linked files count in full: an upper bound)."""
    total = 0
    for directory, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total


class MirrorCache:
    """Mirror folders under `root`, at most `max_bytes` in all (beyond the one in use)."""

    def __init__(self, root: str | os.PathLike[str], max_bytes: int, wait_s: float = 600.0):
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.wait_s = wait_s

    def _lock_file(self, key: str) -> Path:
        return self.root / f"{key}.lock"

    @contextlib.contextmanager
    def slot(self, url: str) -> Iterator[Path]:
        """The mirror folder of `url` (it may not exist yet), held exclusively until exit.
        On exit the mirror is marked as just used and the cache is trimmed to its cap."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)  # the worker's own, nobody else's
        key = mirror_key(url)
        lock_path = self._lock_file(key)
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            self._acquire(descriptor)
            folder = self.root / key
            try:
                yield folder
            finally:
                self._note_size(folder)
                with contextlib.suppress(OSError):
                    os.utime(lock_path)  # the lock file's mtime is the mirror's last use
                fcntl.flock(descriptor, fcntl.LOCK_UN)
        finally:
            os.close(descriptor)
        self.trim()

    def _acquire(self, descriptor: int) -> None:
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if time.monotonic() >= deadline:
                raise TransientScanError(
                    f"the local copy of the repository stayed busy for {self.wait_s:.0f} s"
                )
            time.sleep(_LOCK_POLL_S)

    def _size_file(self, folder: Path) -> Path:
        return self.root / f"{folder.name}.size"

    def _note_size(self, folder: Path) -> None:
        """Measured once per use, by the scan that used it; the others read the number."""
        with contextlib.suppress(OSError):
            if folder.is_dir():
                self._size_file(folder).write_text(str(folder_bytes(folder)), encoding="ascii")
            else:
                self._size_file(folder).unlink(missing_ok=True)

    def size_of(self, folder: Path) -> int:
        try:
            return int(self._size_file(folder).read_text(encoding="ascii"))
        except (OSError, ValueError):
            return folder_bytes(folder)

    def discard(self, folder: Path) -> None:
        """Remove a mirror folder (its slot must be held): moved aside first, so a half
        removed folder is never mistaken for a mirror."""
        if not folder.exists():
            return
        aside = self.root / f".removed-{folder.name}-{uuid.uuid4().hex[:8]}"
        try:
            folder.rename(aside)
        except OSError:
            aside = folder
        shutil.rmtree(aside, ignore_errors=True)

    def mirrors(self) -> list[tuple[float, Path]]:
        """(last use, folder) of every mirror, least recently used first."""
        found = []
        for lock_path in self.root.glob("*.lock"):
            folder = self.root / lock_path.stem
            if folder.is_dir():
                with contextlib.suppress(OSError):
                    found.append((lock_path.stat().st_mtime, folder))
        found.sort()
        return found

    def trim(self) -> None:
        """Remove least recently used mirrors that are not in use until the cache fits."""
        for leftover in self.root.glob(".removed-*"):  # from a process killed while removing
            shutil.rmtree(leftover, ignore_errors=True)
        mirrors = self.mirrors()
        sizes = {folder: self.size_of(folder) for _, folder in mirrors}
        total = sum(sizes.values())
        for _, folder in mirrors:
            if total <= self.max_bytes:
                return
            if self._remove_if_idle(folder):
                log.info("repository mirror cache: removed %s (%d bytes)", folder, sizes[folder])
                total -= sizes[folder]

    def _remove_if_idle(self, folder: Path) -> bool:
        descriptor = os.open(self._lock_file(folder.name), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return False  # a scan is using it
            try:
                self.discard(folder)
                self._size_file(folder).unlink(missing_ok=True)
                return True
            finally:
                fcntl.flock(descriptor, fcntl.LOCK_UN)
        finally:
            os.close(descriptor)

    @contextlib.contextmanager
    def checkout(
        self, source: Source, secrets: SecretReader | None, *, fresh: bool = False
    ) -> Iterator[Checkout]:
        """The mirror of `source`, updated by a fetch, or cloned when there is none, when it
        cannot be opened or updated (damaged), or when `fresh` is asked for."""
        with self.slot(source.url) as folder:
            repo = None if fresh else self._updated(folder, source, secrets)
            reused = repo is not None
            if repo is None:
                self.discard(folder)
                repo = git_source.clone(source, str(folder), secrets)
            try:
                yield Checkout(repo, reused)
            finally:
                with contextlib.suppress(Exception):
                    repo.free()

    def _updated(
        self, folder: Path, source: Source, secrets: SecretReader | None
    ) -> pygit2.Repository | None:
        if not folder.is_dir():
            return None
        try:
            repo = pygit2.Repository(str(folder))
            git_source.update(repo, source, secrets)
        except (TransientScanError, git_source.AccessDeniedError):
            raise  # the network or the credentials, not the mirror
        except (ScanError, *DAMAGE) as exc:
            log.warning(
                "repository mirror %s cannot be updated (%s); cloning it again",
                folder.name,
                git_source.redact(str(exc)) or type(exc).__name__,
            )
            return None
        return repo
