"""A scan's findings report: the engine's own when it makes one for the format (e.g. the
repository engine's traceability matrix), else the common form of scanner.reports."""

from __future__ import annotations

from typing import Any

from orchestrations.scans.exceptions import accepted_items
from orchestrations.scans.kinds import EngineUnavailableError, engine_for
from orchestrations.state.artifacts import BlobArtifactStore
from orchestrations.state.scans import ScanRecord, ScanStore
from scanner.reports import render


def report(record: ScanRecord, scans: ScanStore, fmt: str, view: dict[str, Any]) -> tuple[str, str]:
    """(content type, body) of the scan's report in `fmt` (one of scanner.reports.FORMATS);
    findings that exceptions cover are marked accepted and left out of the counts."""
    items = accepted_items(scans.storage, record, scans.items(record.scan_id))
    try:
        own = getattr(engine_for(record.target_type), "report", None)
    except (KeyError, EngineUnavailableError):
        own = None
    if own is not None:
        store = BlobArtifactStore(scans.storage, record.scan_id)
        made: tuple[str, str] | None = own(fmt, view, items, store)
        if made is not None:
            return made
    return render(fmt, view, items)
