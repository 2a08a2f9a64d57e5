"""The plan's phases reach the scan record from a thread of their own: the latest phase shown
is on the record once the writer is closed (before the plan's own write), and the record is the
plan's again after."""

from __future__ import annotations

import uuid
from pathlib import Path

from orchestrations.core.settings import AppSettings
from orchestrations.state.scans import ScanRecord, new_scan_id
from orchestrations.state.stores import Stores
from orchestrations.workflow.activities import _PhaseWriter


def stores_in(folder: Path) -> Stores:
    return Stores.of(
        AppSettings(
            embedded_store_path=str(folder / "store.sqlite3"),
            scan_storage_prefix="pw" + uuid.uuid4().hex[:8],
        )
    )


def test_the_last_phase_shown_is_on_the_record_once_the_writer_is_closed(tmp_path: Path) -> None:
    stores = stores_in(tmp_path)
    record = ScanRecord(
        scan_id=new_scan_id(), target_type="repository", target_id="docs", instance_id="i"
    )
    stores.scans.create(record)
    writer = _PhaseWriter(stores, record)
    writer.show("Fetch", "https://git.example.com/docs.git")
    writer.show("Discover", None)
    writer.show("Parse", "120/500 documents")
    writer.close()
    stored = stores.scans.get(record.scan_id)
    assert stored is not None and (stored.phase, stored.step) == ("Parse", "120/500 documents")
    # the record is the caller's again: its next write is not refused as a stale one
    assert stores.scans.modify(record, lambda r: setattr(r, "step", "done")) is not None
    assert stores.scans.get(record.scan_id).step == "done"  # type: ignore[union-attr]
