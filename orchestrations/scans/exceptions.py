"""Exceptions applied to a scan's findings when they are read.

Every read of findings (the findings view, reports, comparisons, per-control reports) goes
through `accepted_items`: findings an active exception covers come back marked `accepted`, the
rest as they are. Applying at read time, never at scan time, is what makes an expiry or a
deletion act at once, without a rescan.
"""

from __future__ import annotations

from datetime import UTC, datetime

from orchestrations.state.exceptions import ExceptionStore
from orchestrations.state.scans import ScanRecord
from orchestrations.state.storage import Storage
from scanner.engine import Finding, ItemResult
from scanner.mutelist import FindingException, counted, mark_accepted

__all__ = ["accepted_items", "active_exceptions", "counted", "open_findings"]


def active_exceptions(storage: Storage, now: datetime | None = None) -> list[FindingException]:
    now = now or datetime.now(UTC)
    return [e for e in ExceptionStore(storage).all() if e.active(now)]


def accepted_items(
    storage: Storage,
    record: ScanRecord,
    items: list[ItemResult],
    exceptions: list[FindingException] | None = None,
) -> list[ItemResult]:
    """The scan's items with the findings that active exceptions cover marked `accepted`
    (`finding.accepted` names the exception, its reason, owner and expiry). Pass `exceptions`
    (from `active_exceptions`) when marking several scans at once."""
    now = datetime.now(UTC)
    if exceptions is None:
        exceptions = active_exceptions(storage, now)
    return mark_accepted(items, record.target_id, exceptions, now)


def open_findings(items: list[ItemResult]) -> list[Finding]:
    """The marked items' findings that still count (not accepted)."""
    return counted(f for item in items for f in item.findings)
