"""The stores on both adapters of the storage port (Azure Table Storage on Azurite, the embedded
database): ETag-conditional saves, terminal records left alone, leases with one winner, target
keys that Table Storage accepts, item findings stored compactly and once by content."""

from __future__ import annotations

import json
import uuid

import pytest

from common.storage import eq
from orchestrations.core.lifecycle import COMPLETED, RUNNING
from orchestrations.core.settings import AppSettings
from orchestrations.state import findings as stored_findings
from orchestrations.state.leases import LeaseHeldError
from orchestrations.state.scans import FINDINGS_PARTS, ScanRecord, new_scan_id
from orchestrations.state.storage import BLOB_REF
from orchestrations.state.stores import Stores
from orchestrations.state.tables import safe_key
from orchestrations.state.targets import TargetExistsError, TargetRecord
from scanner.engine import Finding, ItemResult


@pytest.fixture(scope="module", params=["azurite", "embedded"])
def stores(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Stores:
    prefix = "st" + uuid.uuid4().hex[:10]
    if request.param == "embedded":
        path = tmp_path_factory.mktemp("stores") / "store.sqlite3"
        return Stores.of(AppSettings(embedded_store_path=str(path), scan_storage_prefix=prefix))
    azurite = request.getfixturevalue("azurite")
    return Stores.of(AppSettings(AzureWebJobsStorage=azurite, scan_storage_prefix=prefix))


def new_record(target: str) -> ScanRecord:
    return ScanRecord(
        scan_id=new_scan_id(), target_type="host", target_id=target, instance_id=f"host-{target}"
    )


def test_a_save_loses_to_a_write_made_since_the_read(stores: Stores) -> None:
    record = new_record("web-1-22")
    stores.scans.create(record)
    first, second = stores.scans.get(record.scan_id), stores.scans.get(record.scan_id)
    assert first is not None and second is not None
    first.phase = "Plan"
    assert stores.scans.save(first)
    second.phase = "Collect"
    assert not stores.scans.save(second)  # its ETag is stale
    assert stores.scans.save(second, if_unchanged=False)
    stored = stores.scans.get(record.scan_id)
    assert stored is not None and stored.phase == "Collect"


def test_modify_retries_on_conflict_and_leaves_a_terminal_record_alone(stores: Stores) -> None:
    record = new_record("web-2-22")
    stores.scans.create(record)
    stale = stores.scans.get(record.scan_id)
    assert stale is not None
    stores.scans.update(record.scan_id, lambda r: setattr(r, "status", RUNNING))
    changed = stores.scans.modify(stale, lambda r: setattr(r, "step", "uname"))
    assert changed is not None and (changed.status, changed.step) == (RUNNING, "uname")
    stores.scans.update(record.scan_id, lambda r: setattr(r, "status", COMPLETED))
    after = stores.scans.update(record.scan_id, lambda r: setattr(r, "status", RUNNING))
    assert after is not None and after.status == COMPLETED


def test_a_target_is_registered_once_and_saved_with_its_etag(stores: Stores) -> None:
    target = TargetRecord(target_type="repository", target_id="docs/a#b", name="Docs")
    stores.targets.create(target)
    with pytest.raises(TargetExistsError):
        stores.targets.create(
            TargetRecord(target_type="repository", target_id="docs/a#b", name="X")
        )
    loaded = stores.targets.get("repository", "docs/a#b")
    assert loaded is not None and loaded.name == "Docs"
    target.name = "Renamed"
    assert stores.targets.save(target)
    loaded.name = "Stale"
    assert not stores.targets.save(loaded)
    assert safe_key("docs/a#b") == "docs_a_b"


def test_a_lease_has_one_holder_until_released(stores: Stores) -> None:
    first, second = new_scan_id(), new_scan_id()
    etag = stores.leases.acquire("host", "db-1-22", first, "host-db-1-22")
    assert stores.leases.acquire("host", "db-1-22", first, "host-db-1-22")  # its own: again
    with pytest.raises(LeaseHeldError) as held:
        stores.leases.acquire("host", "db-1-22", second, "host-db-1-22")
    assert held.value.scan_id == first
    stores.leases.release("host", "db-1-22", second)  # not the holder: nothing happens
    assert stores.leases.holder("host", "db-1-22") == first
    stores.leases.release("host", "db-1-22", first, etag)
    assert stores.leases.holder("host", "db-1-22") is None


def test_large_values_go_to_a_blob_and_come_back_the_same(stores: Stores) -> None:
    storage = stores.scans.storage
    small = {"title": "Zulassung geprüft ✓", "count": 3}
    packed = storage.pack(small, "scans/pack-test/small.json")
    assert not packed.startswith(BLOB_REF) and storage.unpack(packed) == small
    # 5,000 characters, 30,000 once escaped: more than a table property holds
    large = ["é" * 5_000, "plain"]
    packed = storage.pack(large, "scans/pack-test/large.json")
    assert packed == BLOB_REF + "scans/pack-test/large.json"
    assert storage.unpack(packed) == large


def _findings(count: int, rule_id: str = "GXP-LINK-SUSPECT") -> list[Finding]:
    return [
        Finding(
            rule_id=rule_id,
            title="Suspect link",
            severity="medium",
            message=f"SPEC-{n:04d}: parent US-{n:04d} changed in commit {n:012x}; review it",
            location={"file": f"specs/SPEC-{n:04d}.md", "line": 4, "artifactId": f"SPEC-{n:04d}"},
            remediation="Review the child against the changed parent.",
            references=["EU GMP Annex 11 10"],
        )
        for n in range(count)
    ]


def test_item_findings_are_stored_once_by_content_and_read_back_the_same(stores: Stores) -> None:
    storage = stores.scans.storage
    found = _findings(400)
    result = ItemResult(item_id="GXP-LINK-SUSPECT", status="failed", findings=found)
    first, second = new_scan_id(), new_scan_id()
    stores.scans.put_item(first, result)
    stores.scans.put_item(second, result)  # a rescan that finds the same
    rows = {
        row["PartitionKey"]: row["Findings"]
        for scan_id in (first, second)
        for row in storage.table("ScanItems").query([eq("PartitionKey", scan_id)])
    }
    # one blob, named by its content, that both scans' rows refer to
    assert rows[first] == rows[second] and rows[first].startswith(BLOB_REF + "findings/")
    stored = storage.get_blob_json(rows[first])
    assert stored["shared"]["remediation"] == found[0].remediation  # once, not 400 times
    assert len(json.dumps(stored)) < len(json.dumps([f.model_dump() for f in found])) / 2
    # what another process reads from the blob is what was stored
    assert [f.model_dump() for f in stored_findings.decode(stored)] == [
        f.model_dump() for f in found
    ]
    (item,) = stores.scans.items(second)
    assert [f.model_dump() for f in item.findings] == [f.model_dump() for f in found]
    assert stores.scans.finding_fingerprints(first) == [f.fingerprint for f in found]
    # a few findings stay in the row
    few = ItemResult(item_id="GXP-ID-FORMAT", status="failed", findings=_findings(2, "GXP-X"))
    stores.scans.put_item(first, few)
    read = {i.item_id: i for i in stores.scans.items(first)}
    assert [f.model_dump() for f in read["GXP-ID-FORMAT"].findings] == [
        f.model_dump() for f in few.findings
    ]


def test_many_findings_are_stored_in_parts_and_a_rescan_writes_only_the_changed_one(
    stores: Stores,
) -> None:
    storage = stores.scans.storage
    found = _findings(6000)
    changed = [*found]
    changed[3000] = changed[3000].model_copy(update={"message": "SPEC-3000: changed again"})
    first, second = new_scan_id(), new_scan_id()
    stores.scans.put_item(
        first, ItemResult(item_id="GXP-LINK-SUSPECT", status="failed", findings=found)
    )
    stores.scans.put_item(
        second, ItemResult(item_id="GXP-LINK-SUSPECT", status="failed", findings=changed)
    )
    rows = {
        row["PartitionKey"]: json.loads(row["Findings"])
        for scan_id in (first, second)
        for row in storage.table("ScanItems").query([eq("PartitionKey", scan_id)])
    }
    before, after = rows[first]["parts"], rows[second]["parts"]
    assert rows[first]["format"] == FINDINGS_PARTS and len(before) > 2
    # the same cuts: every part but the changed finding's is the previous scan's blob
    assert len(after) == len(before)
    assert sum(a != b for a, b in zip(before, after, strict=True)) == 1
    # read back (also from the blobs, as another process would) as stored
    for scan_id, expected in ((first, found), (second, changed)):
        (item,) = stores.scans.items(scan_id)
        assert [f.model_dump() for f in item.findings] == [f.model_dump() for f in expected]
        assert stores.scans.finding_fingerprints(scan_id) == [f.fingerprint for f in expected]
    from_blobs = [f for ref in after for f in stored_findings.decode(storage.get_blob_json(ref))]
    assert [f.model_dump() for f in from_blobs] == [f.model_dump() for f in changed]


def test_findings_stored_before_the_compact_form_are_read_as_before(stores: Stores) -> None:
    storage = stores.scans.storage
    found = _findings(3)
    scan_id = new_scan_id()
    # a row as written before: the findings as a list, each with the fingerprint of its day
    legacy = [{**f.model_dump(), "fingerprint": "0" * 32} for f in found]
    storage.table("ScanItems").upsert(
        {
            "PartitionKey": scan_id,
            "RowKey": "GXP-LINK-SUSPECT",
            "ItemId": "GXP-LINK-SUSPECT",
            "Status": "failed",
            "Title": "Suspect link",
            "FindingsCount": 3,
            "Findings": json.dumps(legacy),
            "Data": "{}",
            "Error": "",
            "DurationMs": 5,
        }
    )
    (item,) = stores.scans.items(scan_id)
    # fingerprints by today's rules, never the stored ones
    assert [f.fingerprint for f in item.findings] == [f.fingerprint for f in found]
    assert stores.scans.finding_fingerprints(scan_id) == [f.fingerprint for f in found]
    # a compact document of another fingerprint version: computed again as well
    compact = json.loads(stored_findings.encode(found))
    compact["fingerprints"] = "0"
    assert [f.fingerprint for f in stored_findings.decode(compact)] == [
        f.fingerprint for f in found
    ]
