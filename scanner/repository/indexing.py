"""The artifact index of a commit: built in full, or updated from the previous scan's index.

Full: list the tree, read and parse every candidate document, place every artifact in the
history (the diffs run in the background while the documents are parsed).

Incremental, when the previous completed scan's index was parsed the same way (same parser,
artifact schema, rule catalogue and limits: its `fingerprint`) at the scanned commit or at an
ancestor of it: only documents whose blobs differ between the two trees are read and parsed;
everything else is taken over. Last changes are carried over too when the new commits form a
straight line on top of the previous one (only those commits are diffed). An older commit, a
force-push to another history or a changed catalogue means a full parse. Either way the index
is the same, field for field (the tests compare them).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pygit2
from pygit2.enums import DeltaStatus, FileMode

from scanner.engine import ProgressCallback, ScanError
from scanner.repository import (
    frontmatter,
    git_source,
    history,
    model,
    parse_helper,
    reading,
    rules,
)
from scanner.repository.git_source import Limits
from scanner.repository.model import (
    Artifact,
    FieldTable,
    ScanIndex,
)

_PROGRESS_EVERY = 500  # documents between Parse progress calls
_DOCUMENT_MODES = (FileMode.BLOB, FileMode.BLOB_EXECUTABLE)


def _noop(phase: str, step: str | None) -> None:
    return None


def fingerprint(limits: Limits, fields: FieldTable) -> str:
    """What a parsed index depends on besides the documents: the parser's code, the artifact
    schema, the rule catalogue (it decides the recorded fields) and the limits."""
    digest = hashlib.sha256()
    sources = (
        model.SCHEMA_PATH,
        rules.CATALOGUE_PATH,
        Path(frontmatter.__file__),
        Path(model.__file__),
        Path(reading.__file__),
        Path(git_source.__file__),
        Path(history.__file__),
        Path(__file__),
    )
    for source in sources:
        digest.update(source.read_bytes())
    digest.update(repr((limits, fields, model.INDEX_VERSION)).encode("utf-8"))
    return digest.hexdigest()[:32]


@dataclass(frozen=True)
class _Job:
    """One index to build: the commit, where it is read from, and how."""

    repo: pygit2.Repository
    commit: pygit2.Commit
    ref: str
    limits: Limits
    fields: FieldTable
    stamp: str
    progress: ProgressCallback


@dataclass(frozen=True)
class Outcome:
    """How the index was built: `reparsed` documents were read and parsed; `reason` says why
    a previous index offered was not reused."""

    incremental: bool
    reparsed: int
    reason: str | None = None


def build(
    repo: pygit2.Repository,
    commit: pygit2.Commit,
    ref: str,
    limits: Limits,
    previous: ScanIndex | None = None,
    progress: ProgressCallback = _noop,
) -> tuple[ScanIndex, Outcome]:
    """The index of `commit`: from `previous` when it can be reused, else in full."""
    fields = rules.field_table()
    job = _Job(repo, commit, ref, limits, fields, fingerprint(limits, fields), progress)
    reason = None if previous is None else reuse_refused(repo, commit, previous, job.stamp)
    if previous is not None and reason is None:
        index, reparsed = _update(job, previous)
        return index, Outcome(incremental=True, reparsed=reparsed)
    index = _full(job)
    return index, Outcome(incremental=False, reparsed=index.files_scanned, reason=reason)


def reuse_refused(
    repo: pygit2.Repository, commit: pygit2.Commit, previous: ScanIndex, stamp: str
) -> str | None:
    """Why `previous` cannot be updated to `commit` (None: it can)."""
    if previous.fingerprint != stamp:
        return "the parser, artifact schema, rule catalogue or limits changed"
    if previous.commit == str(commit.id):
        return None
    try:
        base = repo.get(previous.commit)
        if base is not None and repo.descendant_of(commit.id, base.id):
            return None
    except (pygit2.GitError, KeyError, ValueError):
        pass
    return "the commit does not descend from the previous scan's commit"


def _full(job: _Job) -> ScanIndex:
    repo, commit, limits, progress = job.repo, job.commit, job.limits, job.progress
    progress("Discover", None)
    listing = git_source.list_tree(repo, commit.tree, limits)
    walk = history.newest_commits(repo, commit, limits.max_history_commits)
    changes = history.FirstChanges(repo, walk)
    changes.start(path for path, _ in listing.documents)
    mine, helper = listing.documents, None
    try:
        if parse_helper.wanted(len(mine)):
            split = len(mine) - int(len(mine) * parse_helper.SHARE)
            helper = parse_helper.Helper(repo.path, limits, job.fields, mine[split:])
            mine = mine[:split]
        parsed = reading.Parsed(documents=len(listing.documents))
        for path in listing.symlinks:
            parsed.symlink(path)
        total = len(mine)
        elsewhere = f" (and {len(helper.documents)} in a helper process)" if helper else ""
        progress("Parse", f"0/{total} documents{elsewhere}")
        for number, (path, oid) in enumerate(mine, 1):
            parsed.read(repo, path, oid, limits, job.fields)
            if number % _PROGRESS_EVERY == 0:
                count = len(parsed.artifacts)
                progress("Parse", f"{number}/{total} documents{elsewhere}, {count} artifacts found")
        if helper is not None:
            elsewhere_found = helper.result()
            if elsewhere_found is not None:
                parsed.add(*elsewhere_found)
            else:  # the helper failed: its documents are read here
                for path, oid in helper.documents:
                    parsed.read(repo, path, oid, limits, job.fields)
        progress("Parse", f"history of {len(parsed.artifacts)} artifacts")
        ranks = changes.ranks(parsed.artifacts)
    finally:
        changes.close()
        if helper is not None:
            helper.close()
    commits = history.history_of(walk)
    artifacts = [a for _, a in sorted(parsed.artifacts.items())]
    for artifact in artifacts:  # just parsed: nobody else holds them yet
        rank = ranks.get(artifact.path)
        artifact.last_change = commits[rank]["sha"] if rank is not None else None
    progress("Parse", f"{len(artifacts)} artifacts found")
    return _index(job, parsed, artifacts, commits, len(walk), _log_of(job, walk))


def _update(job: _Job, previous: ScanIndex) -> tuple[ScanIndex, int]:
    repo, commit, limits, progress = job.repo, job.commit, job.limits, job.progress
    progress("Discover", f"changes since {previous.commit[:12]}")
    base = repo.revparse_single(previous.commit).peel(pygit2.Commit)
    parsed = reading.Parsed.of(previous)
    changed = _changed_documents(repo, base.tree, commit.tree, parsed, limits)
    if parsed.documents > limits.max_documents:
        raise ScanError(
            f"the tree holds more than {limits.max_documents} candidate documents (REPO_MAX_FILES)"
        )
    total = len(changed)
    progress("Parse", f"0/{total} changed documents of {parsed.documents}")
    for number, (path, oid) in enumerate(changed, 1):
        parsed.read(repo, path, oid, limits, job.fields)
        if number % _PROGRESS_EVERY == 0:
            progress("Parse", f"{number}/{total} changed documents of {parsed.documents}")
    progress("Parse", f"history of {len(parsed.artifacts)} artifacts")
    line = history.straight_line(commit, previous.commit, limits.max_history_commits)
    placed = (
        None
        if line is None
        else _carried_last_changes(
            repo, line, previous, parsed.artifacts, limits.max_history_commits
        )
    )
    log = None if line is None else _carried_log(line, previous, limits)
    walk = None
    if placed is None:  # not a straight line of new commits: the whole walk, diffed again
        walk = history.newest_commits(repo, commit, limits.max_history_commits)
        ranks = history.FirstChanges(repo, walk).ranks(parsed.artifacts)
        commits, walked = history.history_of(walk), len(walk)
        last = {path: commits[rank]["sha"] for path, rank in ranks.items()}
    else:
        last, commits, walked = placed
    if log is None:
        if walk is None:
            walk = history.newest_commits(repo, commit, limits.max_log_commits)
        log = _log_of(job, walk)
    artifacts = [_changed_in(a, last.get(a.path)) for _, a in sorted(parsed.artifacts.items())]
    progress("Parse", f"{len(artifacts)} artifacts found")
    index = _index(job, parsed, artifacts, commits, walked, log)
    return index, total


def _log_of(job: _Job, walk: list[Any]) -> list[dict[str, Any]]:
    """The commit log from a walk of the history (walked again when it was cut shorter than
    the log)."""
    limit, depth = job.limits.max_log_commits, len(walk)
    if depth < limit and walk and depth >= job.limits.max_history_commits:
        walk = history.newest_commits(job.repo, job.commit, limit)
    return history.log_entries(walk[:limit])


def _carried_log(
    line: list[Any], previous: ScanIndex, limits: Limits
) -> list[dict[str, Any]] | None:
    """The new commits' log entries on top of the previous scan's log (None: not known)."""
    if not previous.log or previous.log[0].get("sha") != previous.commit:
        return None
    return (history.log_entries(line[: limits.max_log_commits]) + previous.log)[
        : limits.max_log_commits
    ]


def _changed_in(artifact: Artifact, last_change: str | None) -> Artifact:
    """The artifact with this last change (a copy: the previous index may still use it)."""
    if artifact.last_change == last_change:
        return artifact
    return replace(artifact, last_change=last_change)


def _index(
    job: _Job,
    parsed: reading.Parsed,
    artifacts: list[Artifact],
    commits: list[dict[str, Any]],
    walked: int,
    log: list[dict[str, Any]],
) -> ScanIndex:
    kept = history.trimmed(commits, (a.last_change for a in artifacts))
    return ScanIndex(
        commit=str(job.commit.id),
        ref=job.ref,
        artifacts=artifacts,
        problems=[p for _, p in sorted(parsed.problems.items())],
        history=commits[:kept],
        files_scanned=parsed.documents,
        binary=sorted(parsed.binary),
        fields=job.fields,
        fingerprint=job.stamp,
        walked=walked,
        log=log,
    )


def _is_candidate(path: str, limits: Limits) -> bool:
    return path.lower().endswith(tuple(e.lower() for e in limits.extensions))


def _changed_documents(
    repo: pygit2.Repository,
    old: pygit2.Tree,
    new: pygit2.Tree,
    parsed: reading.Parsed,
    limits: Limits,
) -> list[tuple[str, Any]]:
    """Forget what changed between the trees (updating `parsed`); the documents to read."""
    to_read: list[tuple[str, Any]] = []
    diff = old.diff_to_tree(new, flags=history.DIFF_FLAGS)
    for delta in diff.deltas:
        if delta.status != DeltaStatus.ADDED:
            gone = delta.old_file
            if _is_candidate(gone.path, limits):
                if gone.mode in _DOCUMENT_MODES:
                    parsed.documents -= 1
                parsed.forget(gone.path)
        if delta.status != DeltaStatus.DELETED:
            new_file = delta.new_file
            if not _is_candidate(new_file.path, limits):
                continue
            if new_file.mode == FileMode.LINK:
                parsed.symlink(new_file.path)
            elif new_file.mode in _DOCUMENT_MODES:
                parsed.documents += 1
                to_read.append((new_file.path, new_file.id))
    to_read.sort()
    return to_read


def _carried_last_changes(
    repo: pygit2.Repository,
    line: list[Any],
    previous: ScanIndex,
    artifacts: dict[str, Artifact],
    limit: int,
) -> tuple[dict[str, str | None], list[dict[str, Any]], int] | None:
    """(last change by path, walked commits, walk depth) from the previous index and the new
    commits only (`line`: a straight line on top of it); None when the whole walk must be
    diffed again."""
    if previous.history and previous.history[0]["sha"] != previous.commit:
        return None
    walked = min(limit, previous.walked + len(line))
    commits = (history.history_of(line) + previous.history)[:walked]
    in_walk = {c["sha"] for c in commits}  # older ones slid out of the walk's reach
    newly = history.FirstChanges(repo, line).ranks(artifacts)
    before = {a.path: a.last_change for a in previous.artifacts}
    last: dict[str, str | None] = {}
    for path in artifacts:
        rank = newly.get(path)
        if rank is not None:
            last[path] = commits[rank]["sha"]
        else:
            sha = before.get(path)
            last[path] = sha if sha in in_walk else None
    if len(commits) < walked and None in last.values():
        return None  # the previous index kept too little of its walk (not expected)
    return last, commits, walked
