"""The storage port's contract, run against both adapters: the embedded SQLite database and
Azure Table/Blob Storage (Azurite). Whatever a caller relies on is checked here for both."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from common.storage import (
    Entity,
    EntityChangedError,
    EntityExistsError,
    EntityNotFoundError,
    Storage,
    eq,
    ge,
    le,
    lt,
    ne,
    one_of,
    prefix,
)
from common.storage.azure_storage import AzureStorage
from common.storage.sqlite_storage import SqliteStorage

MOMENT = datetime(2024, 5, 17, 8, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "azurite"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    opened: Storage
    if request.param == "sqlite":
        opened = SqliteStorage(tmp_path / "store.sqlite3")
    else:
        opened = AzureStorage.from_connection_string(request.getfixturevalue("azurite"))
    yield opened
    opened.close()


def unique(name: str) -> str:
    return name + uuid.uuid4().hex[:12]


def entity(pk: str, rk: str, **props: object) -> dict[str, object]:
    return {"PartitionKey": pk, "RowKey": rk, **props}


def test_properties_keep_their_types(storage: Storage) -> None:
    table = storage.table(unique("types"))
    etag = table.insert(
        entity(
            "p",
            "r",
            Text="naïve 'quoted' — text",
            Count=42,
            Big=2**40,
            Ratio=0.25,
            Flag=True,
            Off=False,
            At=MOMENT,
            Raw=b"\x00\x01binary\xff",
        )
    )
    found = table.get("p", "r")
    assert isinstance(found, Entity) and found.etag == etag and etag
    assert found["Text"] == "naïve 'quoted' — text"
    assert found["Count"] == 42 and found["Big"] == 2**40 and found["Ratio"] == 0.25
    assert found["Flag"] is True and found["Off"] is False
    assert found["At"] == MOMENT and found["At"].tzinfo is not None
    assert found["Raw"] == b"\x00\x01binary\xff"
    assert table.get("p", "missing") is None


def test_insert_has_one_winner(storage: Storage) -> None:
    table = storage.table(unique("insert"))
    table.insert(entity("lease", "host:a", ScanId="first"))
    with pytest.raises(EntityExistsError):
        table.insert(entity("lease", "host:a", ScanId="second"))
    found = table.get("lease", "host:a")
    assert found is not None and found["ScanId"] == "first"


def test_insert_races_between_threads_have_exactly_one_winner(storage: Storage) -> None:
    table = storage.table(unique("race"))
    table.upsert(entity("warm", "up"))  # the table exists before the race
    winners: list[int] = []
    barrier = threading.Barrier(8)

    def attempt(number: int) -> None:
        barrier.wait()
        try:
            table.insert(entity("lease", "t", Holder=number))
            winners.append(number)
        except EntityExistsError:
            pass

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    found = table.get("lease", "t")
    assert found is not None and found["Holder"] == winners[0]


def test_replace_with_a_stale_etag_is_refused(storage: Storage) -> None:
    table = storage.table(unique("replace"))
    first = table.insert(entity("p", "r", Value=1, Extra="x"))
    second = table.replace(entity("p", "r", Value=2), first)
    assert second != first
    with pytest.raises(EntityChangedError):
        table.replace(entity("p", "r", Value=3), first)
    found = table.get("p", "r")
    assert found is not None and found["Value"] == 2 and "Extra" not in found  # replaced whole
    assert found.etag == second
    table.replace(entity("p", "r", Value=4))  # no ETag: unconditional
    with pytest.raises(EntityNotFoundError):
        table.replace(entity("p", "gone", Value=1))


def test_read_modify_write_loses_no_update_under_contention(storage: Storage) -> None:
    table = storage.table(unique("counter"))
    table.insert(entity("c", "c", Count=0))

    def add(times: int) -> None:
        for _ in range(times):
            while True:
                current = table.get("c", "c")
                assert current is not None
                try:
                    table.replace(entity("c", "c", Count=current["Count"] + 1), current.etag)
                    break
                except EntityChangedError:
                    continue

    threads = [threading.Thread(target=add, args=(10,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    found = table.get("c", "c")
    assert found is not None and found["Count"] == 40


def test_delete_with_an_etag_deletes_only_that_version(storage: Storage) -> None:
    table = storage.table(unique("delete"))
    taken = table.insert(entity("lease", "t", ScanId="a"))
    retaken = table.replace(entity("lease", "t", ScanId="b"))
    with pytest.raises(EntityChangedError):
        table.delete("lease", "t", taken)
    assert table.get("lease", "t") is not None
    table.delete("lease", "t", retaken)
    assert table.get("lease", "t") is None
    table.delete("lease", "t", retaken)  # gone already: fine
    table.delete("lease", "t")
    again = table.insert(entity("lease", "t", ScanId="c"))
    assert again not in (taken, retaken)  # a new entity never reuses an old ETag


def test_upsert_inserts_then_replaces(storage: Storage) -> None:
    table = storage.table(unique("upsert"))
    first = table.upsert(entity("p", "r", A=1, B=2))
    second = table.upsert(entity("p", "r", A=3))
    assert first != second
    found = table.get("p", "r")
    assert found is not None and found["A"] == 3 and "B" not in found


@pytest.fixture
def filled(storage: Storage) -> Storage:
    table = storage.table("query")
    if table.get("a", "00") is None:
        for pk in ("a", "ab", "b"):
            table.batch(
                [
                    (
                        "upsert",
                        entity(
                            pk,
                            f"{i:02d}",
                            Status="done" if i % 3 == 0 else "running",
                            Size=i,
                            Flag=i % 2 == 0,
                            At=MOMENT + timedelta(minutes=i),
                            Schedule="" if i % 4 else "0 * * * * *",
                        ),
                    )
                    for i in range(10)
                ]
            )
    return storage


def keys(found: list[Entity]) -> list[tuple[str, str]]:
    return [(e["PartitionKey"], e["RowKey"]) for e in found]


def test_queries_filter_and_come_in_key_order(filled: Storage) -> None:
    table = filled.table("query")
    everything = keys(list(table.query()))
    assert everything == sorted(everything) and len(everything) == 30
    in_a = list(table.query([eq("PartitionKey", "a")]))
    assert keys(in_a) == [("a", f"{i:02d}") for i in range(10)]
    ranged = table.query([eq("PartitionKey", "b"), ge("RowKey", "03"), lt("RowKey", "06")])
    assert keys(list(ranged)) == [("b", "03"), ("b", "04"), ("b", "05")]
    by_prefix = {e["PartitionKey"] for e in table.query([prefix("PartitionKey", "a")])}
    assert by_prefix == {"a", "ab"}
    done = table.query([eq("PartitionKey", "a"), one_of("Status", ["done", "failed"])])
    assert [e["Size"] for e in done] == [0, 3, 6, 9]
    timed = table.query(
        [
            eq("PartitionKey", "a"),
            ge("At", MOMENT + timedelta(minutes=2)),
            le("At", MOMENT + timedelta(minutes=4)),
        ]
    )
    assert [e["Size"] for e in timed] == [2, 3, 4]
    flagged = table.query([eq("PartitionKey", "ab"), eq("Flag", True), ge("Size", 5)])
    assert [e["Size"] for e in flagged] == [6, 8]
    scheduled = table.query([eq("PartitionKey", "b"), ne("Schedule", "")])
    assert [e["Size"] for e in scheduled] == [0, 4, 8]
    assert list(table.query([one_of("Status", [])])) == []
    only_keys = list(table.query([eq("PartitionKey", "a")], select=["RowKey"]))
    assert [e["RowKey"] for e in only_keys] == [f"{i:02d}" for i in range(10)]


def test_pages_continue_where_the_last_one_stopped(filled: Storage) -> None:
    table = filled.table("query")
    where = [one_of("Status", ["running"])]
    expected = keys(list(table.query(where)))
    seen: list[tuple[str, str]] = []
    position = None
    pages = 0
    while True:
        found, position = table.page(where, 4, position)
        assert len(found) <= 4
        seen += keys(found)
        pages += 1
        if position is None:
            break
    assert seen == expected and pages >= len(expected) // 4
    found, position = table.page([eq("PartitionKey", "nothing")], 5)
    assert found == [] and position is None


def test_a_batch_applies_upserts_and_deletes_of_one_partition(storage: Storage) -> None:
    table = storage.table(unique("batch"))
    table.batch([("upsert", entity("p", f"{i}", N=i)) for i in range(100)])
    table.batch(
        [("delete", entity("p", f"{i}")) for i in range(50)]
        + [("upsert", entity("p", f"{i}", N=-i)) for i in range(50, 60)]
    )
    found = {e["RowKey"]: e["N"] for e in table.query([eq("PartitionKey", "p")])}
    assert len(found) == 50 and found["55"] == -55 and found["70"] == 70 and "10" not in found


def test_a_batch_across_partitions_is_refused_whole(storage: Storage) -> None:
    table = storage.table(unique("batch"))
    table.upsert(entity("p", "keep", N=1))
    with pytest.raises(Exception):  # noqa: B017 - each adapter names it its own way
        table.batch([("upsert", entity("p", "new", N=2)), ("delete", entity("q", "keep"))])
    assert table.get("p", "new") is None and table.get("p", "keep") is not None


def test_blobs_round_trip_and_delete_by_prefix(storage: Storage) -> None:
    container = storage.container(unique("blobs-"))
    assert container.get("missing.json") is None
    assert list(container.names()) == []
    large = bytes(range(256)) * 16_384  # 4 MiB, every byte value
    container.put("scans/1/big.bin", large)
    container.put("scans/1/small.json", b'{"a": 1}')
    container.put("scans/2/small.json", b"{}")
    container.put("scans/1/small.json", b'{"a": 2}')
    assert container.get("scans/1/big.bin") == large
    assert container.get("scans/1/small.json") == b'{"a": 2}'
    assert list(container.names("scans/1/")) == ["scans/1/big.bin", "scans/1/small.json"]
    assert container.delete_prefix("scans/1/") == 2
    assert list(container.names()) == ["scans/2/small.json"]
    assert container.name in storage.container_names()
