"""How an artifact index is stored: a head document and the artifacts in parts, a blob each.

A rescan changes few documents, so most of an index is the previous scan's. The artifacts (in
path order) are cut into parts where a path's hash says so (about `part_size` artifacts a part,
the same cuts in every scan of the tree, whatever was added or removed elsewhere); a part names
the last changes of its artifacts by commit id, never by their place in the history, which moves
with every new commit. The history (newest commit first) is cut the same way by commit id: a new
commit changes its first part, the oldest commit leaving the walk its last. A rescan writes only
the parts that changed and refers to the previous scan's blobs for the others (blobs are never
changed once written); the head (commit, problems, the parts' references) is written every
time.

Read back, the parts give the index's compact JSON (`ScanIndex.to_json`, version 2): the
engine, the trace view and scan comparisons read that, whichever way it was stored.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from scanner.engine import ArtifactStore
from scanner.repository.model import INDEX_VERSION, Artifact, ScanIndex

STORED_VERSION = 4  # 4: parts store each distinct value / line list once
_READABLE = (3, 4)
_VALUES, _LINES = 5, 7  # the columns of a compact row holding the value and line lists
BLOB_REF = "blob:"  # what a reference starts with; a part named without it is the head's sibling
_SMALLEST_PART = 512
_LARGEST_PART = 1 << 16
_WRITERS = 4  # parts written (and read) at once


def part_size(artifacts: int) -> int:
    """Artifacts a part holds on average: about a quarter of the index, as a power of two
    (the cuts stay where they were while the index grows or shrinks within a factor of two).
    Fewer, larger parts cost a first scan fewer writes; smaller ones a rescan fewer bytes."""
    wanted = max(1, artifacts // 4)
    return max(_SMALLEST_PART, min(_LARGEST_PART, 1 << (wanted.bit_length() - 1)))


def parts_of(artifacts: list[Artifact]) -> list[list[Artifact]]:
    """The artifacts cut into parts: after each artifact whose path hash is a multiple of the
    part size (and at four times the size, so that no part grows without bound)."""
    return _cut(artifacts, _path)


def _part_document(index: ScanIndex, artifacts: list[Artifact]) -> dict[str, Any]:
    """One part: the rows of `ScanIndex.to_json` with positions in the part and last changes
    as positions in the part's own list of commits."""
    shell = ScanIndex(commit=index.commit, ref=index.ref, artifacts=artifacts, fields=index.fields)
    commits: dict[str, int] = {}
    for artifact in artifacts:
        if artifact.last_change is not None and artifact.last_change not in commits:
            commits[artifact.last_change] = len(commits)
    shell.history = [{"sha": sha} for sha in commits]
    doc = shell.to_json()
    # Documents made from one template share their value and line lists (to_json hands out
    # one list per shared table): each is stored once, the rows name it by position (about
    # 40% of a large index's bytes).
    tables: dict[int, list[list[Any]]] = {_VALUES: [], _LINES: []}
    positions: dict[int, dict[int, int]] = {_VALUES: {}, _LINES: {}}
    for row in doc["rows"]:
        for column in (_VALUES, _LINES):
            listed = row[column]
            at = positions[column].get(id(listed))
            if at is None:
                at = positions[column][id(listed)] = len(tables[column])
                tables[column].append(listed)
            row[column] = at
    return {
        "paths": doc["paths"],
        "commits": list(commits),
        "rows": doc["rows"],
        "valueRows": tables[_VALUES],
        "lineRows": tables[_LINES],
    }


def _cut(entries: list[Any], key: Callable[[Any], str]) -> list[list[Any]]:
    """Entries cut after each one whose key hashes to a multiple of the part size (and at four
    times the size, so that no part grows without bound)."""
    size = part_size(len(entries))
    mask, most = size - 1, size * 4
    parts: list[list[Any]] = []
    current: list[Any] = []
    for entry in entries:
        current.append(entry)
        if zlib.crc32(key(entry).encode("utf-8")) & mask == 0 or len(current) >= most:
            parts.append(current)
            current = []
    if current:
        parts.append(current)
    return parts


def _reusable(
    parts: list[list[Any]], known: list[tuple[tuple[Any, ...], str]], key: Callable[[Any], str]
) -> list[str | None]:
    """For each part, the reference of a known part holding the very same entries, or None."""
    by_first = {key(entries[0]): (entries, ref) for entries, ref in known if entries}
    refs: list[str | None] = []
    for part in parts:
        found = by_first.get(key(part[0]))
        same = (
            found is not None
            and len(found[0]) == len(part)
            and all(a is b for a, b in zip(found[0], part, strict=True))
        )
        refs.append(found[1] if same and found is not None else None)
    return refs


def _path(artifact: Artifact) -> str:
    return artifact.path


def _sha(commit: dict[str, Any]) -> str:
    return str(commit["sha"])


def put(
    index: ScanIndex, store: ArtifactStore, name: str, previous: ScanIndex | None = None
) -> str:
    """Store the index (its parts, then its head) and return the head's reference; parts
    whose entries are those of a part of `previous` are not written again."""
    parts = _cut(index.artifacts, _path)
    chunks = _cut(index.history, _sha)
    refs = _reusable(parts, previous.stored if previous else [], _path)
    history_refs = _reusable(chunks, previous.stored_history if previous else [], _sha)
    stem = name.removesuffix(".json")
    # New parts are named in the head relative to it, so the head is written while they are.
    named = [r if r is not None else f"{stem}-part-{n}.json" for n, r in enumerate(refs)]
    history_named = [
        r if r is not None else f"{stem}-history-{n}.json" for n, r in enumerate(history_refs)
    ]
    head = _head(index)
    head.pop("paths", None)
    head.pop("rows", None)
    head.pop("history", None)
    head["version"] = STORED_VERSION
    head["parts"] = named
    head["historyParts"] = history_named
    head["artifacts"] = len(index.artifacts)
    # (where its reference goes, at which position, the blob's name, what it holds)
    jobs: list[tuple[list[str | None], int, str, Callable[[], Any]]] = []
    for number, part in enumerate(parts):
        if refs[number] is None:
            document = partial(_part_document, index, part)
            jobs.append((refs, number, named[number], document))
    for number, chunk in enumerate(chunks):
        if history_refs[number] is None:
            entries: Callable[[], Any] = partial(list, chunk)
            jobs.append((history_refs, number, history_named[number], entries))
    written: list[str | None] = [None]
    jobs.append((written, 0, name, partial(dict, head)))

    def write(job: tuple[list[str | None], int, str, Callable[[], Any]]) -> None:
        into, number, blob, value = job
        into[number] = store.put_json(blob, value())

    # Every blob is written before the head's reference is returned: until then nothing
    # refers to the head, so a failure leaves no index that names a missing part.
    if len(jobs) > 1:
        with ThreadPoolExecutor(min(_WRITERS, len(jobs))) as pool:
            list(pool.map(write, jobs))
    else:
        for job in jobs:
            write(job)
    index.stored = [(tuple(p), str(r)) for p, r in zip(parts, refs, strict=True)]
    index.stored_history = [(tuple(c), str(r)) for c, r in zip(chunks, history_refs, strict=True)]
    return str(written[0])


def _head(index: ScanIndex) -> dict[str, Any]:
    """The index's JSON without its artifacts."""
    shell = ScanIndex(
        commit=index.commit,
        ref=index.ref,
        artifacts=[],
        problems=index.problems,
        files_scanned=index.files_scanned,
        binary=index.binary,
        fields=index.fields,
        fingerprint=index.fingerprint,
        walked=index.walked,
    )
    return shell.to_json()


Loader = Callable[[str], Any]


def expand(document: Any, load: Loader, reference: str | None) -> Any:
    """The index's compact JSON (`ScanIndex.to_json`) from what was stored: a head and its
    parts, or (stored before parts) the compact JSON itself. None when a part is gone."""
    return _expand(document, load, reference)[0]


def _expand(
    document: Any, load: Loader, reference: str | None
) -> tuple[Any, list[tuple[int, str]], list[tuple[int, str]]]:
    """(the compact JSON, the parts' sizes and references, the history parts' sizes and
    references)."""
    if not isinstance(document, dict) or document.get("version") not in _READABLE:
        return document, [], []
    folder = (reference or "").rpartition("/")[0]

    def resolved(ref: str) -> str:  # a part written with the head is named relative to it
        return ref if ref.startswith(BLOB_REF) else f"{folder}/{ref}"

    refs = [resolved(ref) for ref in document["parts"]]
    history_refs = [resolved(ref) for ref in document["historyParts"]]
    every = refs + history_refs
    if len(every) > 1:
        with ThreadPoolExecutor(min(_WRITERS, len(every))) as pool:
            loaded = list(pool.map(load, every))
    else:
        loaded = [load(ref) for ref in every]
    parts, chunks = loaded[: len(refs)], loaded[len(refs) :]
    if any(not isinstance(p, dict) for p in parts) or any(not isinstance(c, list) for c in chunks):
        return None, [], []
    history = [commit for chunk in chunks for commit in chunk]
    ranks = {commit["sha"]: rank for rank, commit in enumerate(history)}
    paths: list[str] = []
    rows: list[list[Any]] = []
    for part in parts:
        offset = len(paths)
        commits = [ranks.get(sha, -1) for sha in part["commits"]]
        value_rows, line_rows = part.get("valueRows"), part.get("lineRows")
        for row in part["rows"]:
            row = list(row)
            row[2] += offset
            row[11] = commits[row[11]] if row[11] >= 0 else -1
            if value_rows is not None and line_rows is not None:  # not in parts before 4
                row[_VALUES] = value_rows[row[_VALUES]]
                row[_LINES] = line_rows[row[_LINES]]
            rows.append(row)
        paths += part["paths"]
    skipped = ("parts", "historyParts", "artifacts", "version")
    expanded = {k: v for k, v in document.items() if k not in skipped}
    expanded.update(version=INDEX_VERSION, paths=paths, rows=rows, history=history)
    sizes = [(len(p["rows"]), ref) for p, ref in zip(parts, refs, strict=True)]
    history_sizes = [(len(c), ref) for c, ref in zip(chunks, history_refs, strict=True)]
    return expanded, sizes, history_sizes


def read(document: Any, load: Loader, reference: str) -> ScanIndex | None:
    """The index stored as `document` (its head), with its parts' references kept for the
    next rescan; None when it or a part is gone."""
    expanded, sizes, history_sizes = _expand(document, load, reference)
    if expanded is None:
        return None
    index = ScanIndex.from_json(expanded)
    index.stored = _pieces(index.artifacts, sizes)
    index.stored_history = _pieces(index.history, history_sizes)
    return index


def _pieces(entries: list[Any], sizes: list[tuple[int, str]]) -> list[tuple[tuple[Any, ...], str]]:
    pieces, start = [], 0
    for size, ref in sizes:
        pieces.append((tuple(entries[start : start + size]), ref))
        start += size
    return pieces
