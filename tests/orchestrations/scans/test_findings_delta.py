"""New and resolved findings of a completing scan against the previous completed scan, on
Azurite: the same counts whether the previous scan's fingerprints are read from its item rows
or kept from when this process summarized it."""

from __future__ import annotations

import uuid

import pytest

from orchestrations.core.lifecycle import COMPLETED
from orchestrations.core.settings import AppSettings
from orchestrations.scans import comparison
from orchestrations.state.scans import ScanRecord, new_scan_id
from orchestrations.state.stores import Stores
from orchestrations.state.tables import safe_key
from scanner.cache import ArtifactCache
from scanner.engine import Finding, ItemResult


@pytest.fixture(scope="module")
def stores(azurite: str) -> Stores:
    prefix = "fd" + uuid.uuid4().hex[:10]
    return Stores.of(AppSettings(AzureWebJobsStorage=azurite, scan_storage_prefix=prefix))


def scan_with(
    stores: Stores, target: str, documents: list[str]
) -> tuple[ScanRecord, list[ItemResult]]:
    record = ScanRecord(
        scan_id=new_scan_id(),
        target_type="repository",
        target_id=target,
        instance_id=f"repository-{target}",
    )
    stores.scans.create(record)
    stores.scans.add_pointer(record)
    findings = [
        Finding(
            rule_id="GXP-LINK-SUSPECT",
            title="Suspect link",
            message=f"{path} changed after its parent was reviewed",
            location={"file": path, "line": 1, "artifactId": path.split("/")[-1][:-3]},
        )
        for path in documents
    ]
    result = ItemResult(item_id="GXP-LINK-SUSPECT", status="failed", findings=findings)
    stores.scans.put_item(record.scan_id, result)
    return record, [result]


def complete(stores: Stores, record: ScanRecord) -> None:
    stores.scans.update(record.scan_id, lambda r: setattr(r, "status", COMPLETED))


def test_the_previous_scans_findings_read_or_kept_give_the_same_counts(
    stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, before_items = scan_with(stores, "gxp-docs", ["reqs/REQ-1.md", "reqs/REQ-2.md"])
    first = comparison.findings_delta(stores.scans, before, before_items)
    assert (first["baselineScanId"], first["newFindings"], first["resolvedFindings"]) == (
        None,
        2,
        0,
    )
    complete(stores, before)
    after, after_items = scan_with(stores, "gxp-docs", ["reqs/REQ-2.md", "reqs/REQ-3.md"])

    # a worker that did not summarize it
    monkeypatch.setattr(comparison, "_RECENT", ArtifactCache(8))
    read = comparison.findings_delta(stores.scans, after, after_items)
    assert (read["baselineScanId"], read["newFindings"], read["resolvedFindings"]) == (
        before.scan_id,
        1,
        1,
    )

    # Kept: this process summarized the previous scan; its rows are not read again (gone here,
    # read they would make every finding new).
    comparison.findings_delta(stores.scans, before, before_items)
    stores.scans.storage.table("ScanItems").delete(before.scan_id, safe_key("GXP-LINK-SUSPECT"))
    assert stores.scans.items(before.scan_id) == []
    kept = comparison.findings_delta(stores.scans, after, after_items)
    assert kept == read
