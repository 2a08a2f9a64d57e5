"""The artifact index as stored: a head and parts. Read back it is the index that was stored,
field for field; a rescan writes only the parts whose artifacts changed and refers to the
previous scan's blobs for the others; the cuts between parts do not move when a document is
added or removed elsewhere."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from scanner.repository import stored_index
from scanner.repository.model import Artifact, FieldTable, Problem, ScanIndex
from tests.support.memory_store import MemoryStore

FIELDS = FieldTable(("gxp_id", "status"), ("status",))


class Stores:
    """One store per scan (its own folder), all in one blob space, as in the service."""

    def __init__(self) -> None:
        self.blobs: dict[str, str] = {}
        self.written: list[str] = []

    def scan(self, scan_id: str) -> MemoryStore:
        store = MemoryStore(scan_id)
        store.blobs = self.blobs
        put = store.put_json

        def counted(name: str, value: Any) -> str:
            self.written.append(f"{scan_id}/{name}")
            return put(name, value)

        store.put_json = counted  # type: ignore[method-assign]
        return store


def artifact(number: int, last_change: str | None) -> Artifact:
    gxp_id = f"REQ-{number:05d}"
    return Artifact(
        gxp_id=gxp_id,
        type="REQ",
        path=f"reqs/{gxp_id}.md",
        title=f"Requirement {number}",
        values={"status": "approved"},
        present=frozenset({"gxp_id", "status"}),
        lines={"gxp_id": 2, "status": 3},
        last_change=last_change,
    )


def index_of(artifacts: list[Artifact], commits: list[str]) -> ScanIndex:
    return ScanIndex(
        commit=commits[0],
        ref="main",
        artifacts=sorted(artifacts, key=lambda a: a.path),
        problems=[Problem("GXP-PARSE-FRONT-MATTER", "reqs/bad.md", 1, "reqs/bad.md: no")],
        history=[{"sha": sha, "time": 1_700_000_000 - rank} for rank, sha in enumerate(commits)],
        files_scanned=len(artifacts) + 1,
        fields=FIELDS,
        fingerprint="f" * 32,
        walked=len(commits),
    )


def test_an_index_read_back_is_the_index_stored() -> None:
    commits = [f"{n:040x}" for n in range(1, 41)]
    index = index_of([artifact(n, commits[n % 40]) for n in range(3000)], commits)
    stores = Stores()
    store = stores.scan("one")
    reference = stored_index.put(index, store, "artifact-index.json")
    head = store.get_json(reference)
    assert head["version"] == stored_index.STORED_VERSION and len(head["parts"]) > 1
    assert "rows" not in head and "history" not in head  # they are in the parts only
    read = stored_index.read(head, store.get_json, reference)
    assert read is not None and read.to_json() == index.to_json()
    assert stored_index.expand(head, store.get_json, reference) == index.to_json()
    # an index stored before parts existed is read as it is
    assert stored_index.expand(index.to_json(), store.get_json, reference) == index.to_json()


def test_a_rescan_writes_only_the_parts_that_changed() -> None:
    commits = [f"{n:040x}" for n in range(1, 41)]
    first = index_of([artifact(n, commits[n % 40]) for n in range(3000)], commits)
    stores = Stores()
    stored_index.put(first, stores.scan("one"), "artifact-index.json")
    parts = len(first.stored)
    assert parts >= 3 and len(first.stored_history) == 1
    assert len(stores.written) == parts + 2  # the parts, the history, the head

    # one new commit changes one document: every rank in the history moves, the rows do not
    newer = [f"{99:040x}", *commits]
    changed = replace(first.artifacts[1234], title="Reworded", last_change=newer[0])
    second = index_of(
        [changed if a is first.artifacts[1234] else a for a in first.artifacts], newer
    )
    second.history[1:] = first.history  # carried over, as an incremental update does
    stores.written.clear()
    store = stores.scan("two")
    reference = stored_index.put(second, store, "artifact-index.json", previous=first)
    assert sorted(stores.written) == [
        "two/artifact-index-history-0.json",  # the new commit is in the history's first part
        f"two/artifact-index-part-{_part_of(second, changed)}.json",
        "two/artifact-index.json",
    ]
    head = store.get_json(reference)
    assert "history" not in head and "rows" not in head
    assert sum(ref.startswith("blob:scans/one/") for ref in head["parts"]) == parts - 1
    read = stored_index.read(head, store.get_json, reference)
    assert read is not None and read.to_json() == second.to_json()

    # read back (another worker), the index still knows its parts: the next rescan reuses them
    stores.written.clear()
    stored_index.put(read, stores.scan("three"), "artifact-index.json", previous=read)
    assert stores.written == ["three/artifact-index.json"]


def test_a_long_history_is_written_again_only_where_it_changed() -> None:
    commits = [f"{n:040x}" for n in range(1, 20_001)]
    first = index_of([artifact(n, commits[n]) for n in range(1000)], commits)
    stores = Stores()
    stored_index.put(first, stores.scan("one"), "artifact-index.json")
    chunks = len(first.stored_history)
    assert chunks > 3
    # a new commit on top; the oldest one leaves the walk
    second = index_of(first.artifacts, [f"{0xABC:040x}", *commits[:-1]])
    second.history[1:] = first.history[:-1]
    stores.written.clear()
    store = stores.scan("two")
    reference = stored_index.put(second, store, "artifact-index.json", previous=first)
    history_written = [w for w in stores.written if "history" in w]
    assert 1 <= len(history_written) <= 2  # the newest part and the oldest
    read = stored_index.read(store.get_json(reference), store.get_json, reference)
    assert read is not None and read.to_json() == second.to_json()


def test_the_cuts_stay_where_they_were_when_a_document_is_added() -> None:
    artifacts = [artifact(n, None) for n in range(0, 6000, 2)]
    before = stored_index.parts_of(artifacts)
    added = sorted([*artifacts, artifact(2001, None)], key=lambda a: a.path)
    after = stored_index.parts_of(added)
    assert len(before) == len(after) > 2
    differing = [b for b, a in zip(before, after, strict=True) if b != a]
    assert len(differing) == 1  # only the part the new document falls into


def _part_of(index: ScanIndex, wanted: Artifact) -> str:
    for number, part in enumerate(stored_index.parts_of(index.artifacts)):
        if any(a is wanted for a in part):
            return str(number)
    raise AssertionError("not in any part")


def test_shared_value_and_line_lists_are_stored_once_and_parts_before_them_still_read() -> None:
    commits = [f"{n:040x}" for n in range(1, 4)]
    # Documents of one template share their tables (as the parser's Interner makes them).
    values, lines = {"status": "approved"}, {"gxp_id": 2, "status": 3}
    artifacts = [
        replace(artifact(n, commits[n % 3]), values=values, lines=lines) for n in range(600)
    ]
    artifacts += [replace(artifact(1000, commits[0]), values={"status": "draft"}, lines={})]
    index = index_of(artifacts, commits)
    stores = Stores()
    store = stores.scan("one")
    reference = stored_index.put(index, store, "artifact-index.json")
    head = store.get_json(reference)
    parts = [store.get_json(store.prefix + name) for name in head["parts"]]
    assert sum(len(p["rows"]) for p in parts) == 601
    assert all(len(p["valueRows"]) <= 2 and len(p["lineRows"]) <= 2 for p in parts)
    assert stored_index.expand(head, store.get_json, reference) == index.to_json()
    # Version 3 parts held each row's lists in the row: rewritten so, they read the same.
    for name, part in zip(head["parts"], parts, strict=True):
        value_rows, line_rows = part.pop("valueRows"), part.pop("lineRows")
        for row in part["rows"]:
            row[5], row[7] = value_rows[row[5]], line_rows[row[7]]
        store.put_json(name, part)
    old_head = {**head, "version": 3}
    read = stored_index.read(old_head, store.get_json, reference)
    assert read is not None and read.to_json() == index.to_json()
