"""How an artifact index is stored: a head document and the artifacts in parts, a blob each.

A rescan changes few documents, so most of an index is the previous scan's. The artifacts (in
path order) are cut into parts where a path's hash says so (about `size` artifacts a part, the
same cuts in every scan of the tree, whatever was added or removed elsewhere); a part names the
last changes of its artifacts by commit id, never by their place in the history, which moves
with every new commit. A rescan writes only the parts whose artifacts changed and refers to the
previous scan's blobs for the others (blobs are never changed once written); the head (commit,
history, problems, the parts' references) is written every time.

Read back, the parts give the index's compact JSON (`ScanIndex.to_json`, version 2): the
engine, the trace view and scan comparisons read that, whichever way it was stored.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from scanner.engine import ArtifactStore
from scanner.repository.model import INDEX_VERSION, Artifact, ScanIndex

STORED_VERSION = 3
_SMALLEST_PART = 512
_LARGEST_PART = 1 << 16
_WRITERS = 4  # parts written (and read) at once


def part_size(artifacts: int) -> int:
    """Artifacts a part holds on average: about an eighth of the index, as a power of two
    (the cuts stay where they were while the index grows or shrinks within a factor of two).
    Fewer, larger parts cost a first scan fewer writes; smaller ones a rescan fewer bytes."""
    wanted = max(1, artifacts // 8)
    return max(_SMALLEST_PART, min(_LARGEST_PART, 1 << (wanted.bit_length() - 1)))


def parts_of(artifacts: list[Artifact]) -> list[list[Artifact]]:
    """The artifacts cut into parts: after each artifact whose path hash is a multiple of the
    part size (and at four times the size, so that no part grows without bound)."""
    size = part_size(len(artifacts))
    mask, most = size - 1, size * 4
    parts: list[list[Artifact]] = []
    current: list[Artifact] = []
    for artifact in artifacts:
        current.append(artifact)
        if zlib.crc32(artifact.path.encode("utf-8")) & mask == 0 or len(current) >= most:
            parts.append(current)
            current = []
    if current:
        parts.append(current)
    return parts


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
    return {"paths": doc["paths"], "commits": list(commits), "rows": doc["rows"]}


def put(
    index: ScanIndex, store: ArtifactStore, name: str, previous: ScanIndex | None = None
) -> str:
    """Store the index (its parts, then its head) and return the head's reference; parts
    whose artifacts are those of a part of `previous` are not written again."""
    reused = {}
    if previous is not None:
        reused = {part[0].path: (part, ref) for part, ref in previous.stored if part}
    parts = parts_of(index.artifacts)
    refs: list[str | None] = []
    to_write: list[tuple[int, list[Artifact]]] = []
    for number, part in enumerate(parts):
        known = reused.get(part[0].path)
        if (
            known is not None
            and len(known[0]) == len(part)
            and all(a is b for a, b in zip(known[0], part, strict=True))
        ):
            refs.append(known[1])
            continue
        refs.append(None)
        to_write.append((number, part))

    def write(job: tuple[int, list[Artifact]]) -> tuple[int, str]:
        number, part = job
        stem = name.removesuffix(".json")
        return number, store.put_json(f"{stem}-part-{number}.json", _part_document(index, part))

    if len(to_write) > 1:
        with ThreadPoolExecutor(min(_WRITERS, len(to_write))) as pool:
            written = list(pool.map(write, to_write))
    else:
        written = [write(job) for job in to_write]
    for number, ref in written:
        refs[number] = ref
    head = _head(index)
    head.pop("paths", None)
    head.pop("rows", None)
    head["version"] = STORED_VERSION
    head["parts"] = refs
    head["artifacts"] = len(index.artifacts)
    reference = store.put_json(name, head)
    index.stored = [(tuple(part), str(ref)) for part, ref in zip(parts, refs, strict=True)]
    return reference


def _head(index: ScanIndex) -> dict[str, Any]:
    """The index's JSON without its artifacts."""
    shell = ScanIndex(
        commit=index.commit,
        ref=index.ref,
        artifacts=[],
        problems=index.problems,
        history=index.history,
        files_scanned=index.files_scanned,
        binary=index.binary,
        fields=index.fields,
        fingerprint=index.fingerprint,
        walked=index.walked,
    )
    return shell.to_json()


Loader = Callable[[str], Any]


def expand(document: Any, load: Loader) -> Any:
    """The index's compact JSON (`ScanIndex.to_json`) from what was stored: a head and its
    parts, or (stored before parts) the compact JSON itself. None when a part is gone."""
    expanded, _ = _expand(document, load)
    return expanded


def _expand(document: Any, load: Loader) -> tuple[Any, list[tuple[int, str]]]:
    if not isinstance(document, dict) or document.get("version") != STORED_VERSION:
        return document, []
    refs: list[str] = document["parts"]
    if len(refs) > 1:
        with ThreadPoolExecutor(min(_WRITERS, len(refs))) as pool:
            parts = list(pool.map(load, refs))
    else:
        parts = [load(ref) for ref in refs]
    if any(not isinstance(part, dict) for part in parts):
        return None, []
    ranks = {commit["sha"]: rank for rank, commit in enumerate(document["history"])}
    paths: list[str] = []
    rows: list[list[Any]] = []
    sizes: list[tuple[int, str]] = []
    for ref, part in zip(refs, parts, strict=True):
        offset = len(paths)
        commits = [ranks.get(sha, -1) for sha in part["commits"]]
        for row in part["rows"]:
            row = list(row)
            row[2] += offset
            row[11] = commits[row[11]] if row[11] >= 0 else -1
            rows.append(row)
        paths += part["paths"]
        sizes.append((len(part["rows"]), ref))
    expanded = {k: v for k, v in document.items() if k not in ("parts", "artifacts", "version")}
    expanded.update(version=INDEX_VERSION, paths=paths, rows=rows)
    return expanded, sizes


def read(document: Any, load: Loader) -> ScanIndex | None:
    """The index stored as `document` (its head), with its parts' references kept for the
    next rescan; None when it or a part is gone."""
    expanded, sizes = _expand(document, load)
    if expanded is None:
        return None
    index = ScanIndex.from_json(expanded)
    start = 0
    for size, ref in sizes:
        index.stored.append((tuple(index.artifacts[start : start + size]), ref))
        start += size
    return index
