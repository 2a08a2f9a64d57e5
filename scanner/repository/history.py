"""When each document last changed, for suspect links: the position (rank, 0 = newest) of the
newest commit that changed it in the history of the scanned commit, walked newest first
(topological, then by time) and at most `max_commits` deep.

A commit changes a path when the path differs from its parent; a merge only when it differs
from every parent (else the branch that changed it did); the root commit adds what it holds.

Cost: one tree diff per walked commit. `git diff-tree --stdin` does them in C, far faster
than libgit2's diff, so it is used when a `git` executable is installed, in the background
while the documents are parsed; libgit2 gives the same answer without it. A rescan whose new
commits sit in a straight line on top of the previous scan's commit only diffs those commits
and carries every other document's last change over (`extend`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import pygit2
from pygit2.enums import DiffOption, SortMode

DIFF_FLAGS = DiffOption.SKIP_BINARY_CHECK
_READ_CHUNK = 1 << 16
# Fewer commits than this are diffed by one git process (another one costs more than it saves).
_MIN_RUN = 1000
_LOG_TEXT = 200  # characters kept of a commit's author name and subject line


class HistoryError(Exception):
    """`git diff-tree` failed (a damaged mirror reads as this too)."""


@dataclass(slots=True)
class Placement:
    """Ranks of the paths placed in the walked history, and the walked commits the ranks
    refer to ({"sha", "time"}, newest first)."""

    ranks: dict[str, int]
    history: list[dict[str, Any]]


def newest_commits(repo: pygit2.Repository, commit: pygit2.Commit, limit: int) -> list[Any]:
    """The first `limit` commits of the walk from `commit`."""
    commits: list[Any] = []
    for current in repo.walk(commit.id, SortMode.TOPOLOGICAL | SortMode.TIME):
        if len(commits) >= limit:
            break
        commits.append(current)
    return commits


def history_of(commits: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"sha": str(c.id), "time": c.commit_time} for c in commits]


def log_entries(commits: Iterable[Any]) -> list[dict[str, Any]]:
    """Sha, parents, time, author name and subject line of each commit: what a later
    comparison lists as the commits between two scans."""
    return [
        {
            "sha": str(c.id),
            "parents": [str(p) for p in c.parent_ids],
            "time": c.commit_time,
            "author": (c.author.name or "")[:_LOG_TEXT],
            "subject": (c.message or "").strip().split("\n", 1)[0][:_LOG_TEXT],
        }
        for c in commits
    ]


def trimmed(history: list[dict[str, Any]], last_changes: Iterable[str | None]) -> int:
    """How much of the walk an index keeps: up to the oldest last change when every document
    was placed (the walk could stop there), the whole walk otherwise."""
    lasts = list(last_changes)
    if not lasts:
        return 0
    if any(sha is None for sha in lasts):
        return len(history)
    ranks = {commit["sha"]: rank for rank, commit in enumerate(history)}
    return max(ranks[sha] for sha in lasts if sha is not None) + 1


@functools.lru_cache(maxsize=1)
def git_executable() -> str | None:
    return shutil.which("git")


class FirstChanges:
    """The position of the first commit of `commits` (a walk, newest first) that changed each
    path asked for.

    With `git`, `start(paths)` runs the diffs in child processes (the walk cut in runs, one per
    core), so the caller can parse documents meanwhile; the newest run's output is read until
    every one of `paths` is placed (the older runs are then not needed). Without `git` (or
    without `start`), `ranks` diffs with libgit2.
    """

    def __init__(
        self, repo: pygit2.Repository, commits: list[Any], use_git: bool | None = None
    ) -> None:
        self.repo = repo
        self.commits = commits
        self.use_git = git_executable() is not None if use_git is None else use_git
        self._runs: list[_DiffTree] = []

    def start(self, paths: Iterable[str]) -> None:
        """Begin diffing in the background for (a superset of) the paths `ranks` will ask for."""
        pending = set(paths)
        if self.use_git and self.commits and pending and not self._root_only():
            self._start_git(pending)

    def _root_only(self) -> bool:
        """The walk is one root commit: it added every path of its tree, nothing to diff."""
        return len(self.commits) == 1 and not self.commits[0].parent_ids

    def ranks(self, paths: Iterable[str]) -> dict[str, int]:
        """Position of the first change of each of `paths` that the walk placed."""
        wanted = set(paths)
        if self._root_only() or not wanted:
            return dict.fromkeys(wanted, 0) if self._root_only() else {}
        if not self._runs:
            if not (self.use_git and self.commits):
                return self._read_libgit2(wanted)
            self._start_git(wanted)
        try:
            found: dict[str, int] = {}
            for run in self._runs:  # newest first: a path placed by a newer run stays there
                run.wait()
                found.update((p, r) for p, r in run.found.items() if p in wanted and p not in found)
                if wanted.issubset(found):
                    break
            return found
        finally:
            self.close()

    def close(self) -> None:
        """Stop the child processes (done, or the scan failed meanwhile)."""
        for run in self._runs:
            run.stop()

    def _read_libgit2(self, pending: set[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for rank, commit in enumerate(self.commits):
            if not pending:
                break
            for path in changed_paths(commit) & pending:
                pending.discard(path)
                found[path] = rank
        return found

    def _start_git(self, pending: set[str]) -> None:
        cores = os.cpu_count() or 1
        runs = max(1, min(cores, len(self.commits) // _MIN_RUN))
        size = -(-len(self.commits) // runs)
        self._runs = [
            _DiffTree(self.repo.path, self.commits, offset, offset + size, pending)
            for offset in range(0, len(self.commits), size)
        ]


class _DiffTree:
    """`git diff-tree --stdin` over positions [begin, end) of a walk: the first position in
    that run at which each pending path changed."""

    def __init__(
        self, git_dir: str, commits: list[Any], begin: int, end: int, pending: set[str]
    ) -> None:
        executable = git_executable()
        assert executable is not None
        self.commits = commits[begin:end]
        self.begin = begin
        self.pending = set(pending)
        self.found: dict[str, int] = {}
        self.error: BaseException | None = None
        # stderr to a file: a pipe nobody reads could fill up and stall git
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        # Fixed arguments, our own mirror, no user configuration: nothing here runs hooks,
        # external diff drivers or pagers. One commit id per line in, for each commit its id
        # then status/path pairs out (-z), merges compared with every parent (-c).
        self._process = subprocess.Popen(
            [
                executable,
                "--git-dir",
                git_dir,
                "diff-tree",
                "--stdin",
                "-r",
                "-c",
                "--root",
                "--no-renames",
                "--name-status",
                "-z",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._errors,
            env=_git_environment(),
        )
        self._threads = [
            threading.Thread(target=self._feed, name="history-feed", daemon=True),
            threading.Thread(target=self._collect, name="history-read", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _feed(self) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        try:
            for start in range(0, len(self.commits), 512):
                batch = self.commits[start : start + 512]
                stdin.write("".join(f"{c.id}\n" for c in batch).encode("ascii"))
            stdin.close()
        except (BrokenPipeError, ValueError, OSError):
            return  # the reader stopped git: every path was placed

    def _collect(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        positions = {str(c.id): self.begin + n for n, c in enumerate(self.commits)}
        try:
            for rank, paths in _diff_tree_records(stdout, positions):
                for path in paths:
                    if path in self.pending:
                        self.pending.discard(path)
                        self.found[path] = rank
                if not self.pending:
                    return  # the rest of this run cannot change the answer
            code = self._process.wait()
            if code != 0:
                self._errors.seek(0)
                message = self._errors.read(2000).decode("utf-8", "replace").strip()
                self.error = HistoryError(f"git diff-tree exited with {code}: {message}")
        except Exception as exc:  # raised by wait()
            self.error = exc

    def wait(self) -> None:
        """Until this run is read (to its end, or until every path was placed)."""
        self._threads[1].join()
        self.stop()  # git may still be writing what nobody needs: stopping it frees the feeder
        if self.error is not None:
            raise HistoryError(str(self.error)) from self.error

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for thread in self._threads:
            thread.join()
        for stream in (self._process.stdin, self._process.stdout, self._errors):
            if stream is not None:
                with contextlib.suppress(OSError, ValueError):
                    stream.close()


def _git_environment() -> dict[str, str]:
    """Nothing of the app's settings: git is called by its full path and reads no config."""
    return {
        "PATH": os.defpath,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
    }


def _diff_tree_records(
    stream: IO[bytes], positions: dict[str, int]
) -> Iterator[tuple[int, list[str]]]:
    """(rank, changed paths) per commit from `git diff-tree --stdin -z --name-status` output.

    Tokens are NUL-terminated: a commit id, then (status, path) pairs. A status is upper-case
    letters (one per parent for merges), a commit id lower-case hex: they cannot be confused.
    """
    rank: int | None = None
    paths: list[str] = []
    expect_path = False
    rest = b""
    while True:
        chunk = stream.read(_READ_CHUNK)
        if not chunk:
            break
        tokens = (rest + chunk).split(b"\0")
        rest = tokens.pop()
        for token in tokens:
            if expect_path:
                paths.append(token.decode("utf-8", "surrogateescape"))
                expect_path = False
            elif token[:1].isupper():
                expect_path = True
            else:
                if rank is not None:
                    yield rank, paths
                sha = token.decode("ascii")
                if sha not in positions:
                    raise HistoryError(f"git diff-tree answered for an unknown commit {sha[:12]}")
                rank, paths = positions[sha], []
    if rank is not None:
        yield rank, paths


def changed_paths(commit: Any) -> set[str]:
    """Paths `commit` changed (libgit2)."""
    parents = commit.parents
    if not parents:  # the root commit added everything it holds
        return _diff(None, commit.tree)
    changed = _diff(parents[0].tree, commit.tree)
    for other in parents[1:]:
        changed &= _diff(other.tree, commit.tree)
    return changed


def _diff(old: pygit2.Tree | None, new: pygit2.Tree) -> set[str]:
    # Tree.diff_to_tree() without a tree compares with the empty tree.
    if old is None:
        diff = new.diff_to_tree(flags=DIFF_FLAGS)
    else:
        diff = old.diff_to_tree(new, flags=DIFF_FLAGS)
    changed: set[str] = set()
    for delta in diff.deltas:
        changed.add(delta.new_file.path)
        changed.add(delta.old_file.path)
    return changed


def straight_line(commit: pygit2.Commit, ancestor: str, limit: int) -> list[Any] | None:
    """The commits from `commit` back to (not including) `ancestor` when each has exactly one
    parent and `ancestor` is reached within `limit` commits; None otherwise (a merge, another
    history, an older commit)."""
    line: list[Any] = []
    current: Any = commit
    while str(current.id) != ancestor:
        if len(line) >= limit or len(current.parent_ids) != 1:
            return None
        line.append(current)
        current = current.parents[0]
    return line
