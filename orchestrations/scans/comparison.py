"""Comparing a scan with an earlier one: which scans, read from where, and the findings delta
every completed scan records.

A comparison reads the two scans' stored results only: their records, item rows (findings) and
the artifacts their summaries refer to in Blob Storage (package lists, artifact indexes,
inventory sections). Its cost grows with the size of those two scans, never with the history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any

from orchestrations.core.lifecycle import COMPLETED
from orchestrations.scans.exceptions import active_exceptions
from orchestrations.state.artifacts import BlobArtifactStore
from orchestrations.state.scans import ScanRecord, ScanStore
from orchestrations.state.storage import BLOB_REF
from scanner.cache import ArtifactCache
from scanner.comparison.findings import count_changes
from scanner.comparison.snapshot import ScanSnapshot
from scanner.engine import ItemResult
from scanner.mutelist import mark_accepted

PREVIOUS = "previous"
_READERS = 6  # storage reads of one comparison in flight at once


class ComparisonError(Exception):
    """Why two scans cannot be compared; `status` is the HTTP status that says so."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _completed(record: ScanRecord, role: str) -> None:
    if record.status != COMPLETED:
        raise ComparisonError(
            409,
            "scan_not_completed",
            f"{role} {record.scan_id} is {record.status}; only completed scans are compared",
        )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _references(results: dict[str, Any]) -> list[str]:
    """The large values a summary refers to (artifact index, commit log, package list, ...)."""
    found = []
    for value in results.values():
        if isinstance(value, dict):
            value = value.get("listRef")
        if isinstance(value, str) and value.startswith(BLOB_REF):
            found.append(value)
    return found


def snapshots(scans: ScanStore, records: list[ScanRecord]) -> list[ScanSnapshot]:
    """What a comparison reads of each scan: item rows and referenced blobs, fetched side by
    side (most of the time is waiting for storage)."""
    read = [
        ScanSnapshot(
            scan_id=record.scan_id,
            target_type=record.target_type,
            target_id=record.target_id,
            results=record.results if isinstance(record.results, dict) else {},
            items=[],
            store=BlobArtifactStore(scans.storage, record.scan_id),
            completed_at=_iso(record.completed_at),
        )
        for record in records
    ]

    def items(scan: ScanSnapshot) -> None:
        scan.items = scans.items(scan.scan_id)

    jobs: list[Callable[[], Any]] = [partial(items, scan) for scan in read]
    jobs += [partial(scan.load, ref) for scan in read for ref in _references(scan.results)]
    with ThreadPoolExecutor(min(_READERS, len(jobs)), thread_name_prefix="compare") as pool:
        for done in [pool.submit(job) for job in jobs]:
            done.result()
    return read


def baseline_of(scans: ScanStore, record: ScanRecord, against: str) -> ScanRecord | None:
    """The scan `record` is compared with: the previous completed scan of its target, or the
    one named. Raises ComparisonError when that scan cannot serve."""
    if against == PREVIOUS:
        return scans.previous(record)
    baseline = scans.get(against)
    if baseline is None:
        raise ComparisonError(404, "scan_not_found", f"no scan with id {against[:64]!r}")
    if (baseline.target_type, baseline.target_id) != (record.target_type, record.target_id):
        raise ComparisonError(
            422,
            "different_targets",
            f"scan {against} is of {baseline.target_type} {baseline.target_id!r}, not of "
            f"{record.target_type} {record.target_id!r}",
        )
    _completed(baseline, "baseline scan")
    return baseline


def compare(scans: ScanStore, record: ScanRecord, against: str) -> dict[str, Any]:
    """The comparison document of `record` against `against` ("previous" or a scan id)."""
    # The comparison of facts imports every engine's model: only when a comparison is asked for.
    from scanner.comparison.document import compare_scans

    _completed(record, "scan")
    baseline = baseline_of(scans, record, against)
    read = snapshots(scans, [record] if baseline is None else [record, baseline])
    exceptions = active_exceptions(scans.storage)
    for scan in read:
        scan.items = mark_accepted(scan.items, scan.target_id, exceptions, datetime.now(UTC))
    document = compare_scans(read[0], read[1] if baseline else None)
    return {**document, "against": against}


def _fingerprints(items: Iterable[ItemResult]) -> list[str]:
    return [finding.fingerprint for item in items for finding in item.findings]


# The findings' fingerprints of the last scans this process summarized: the next scan of the
# same target compares with one of them without reading its item rows again (the rows of a
# summarized scan do not change).
_RECENT: ArtifactCache[list[str]] = ArtifactCache(8)


def findings_delta(scans: ScanStore, record: ScanRecord, items: list[ItemResult]) -> dict[str, Any]:
    """New and resolved findings of a scan that is completing (its `items`) against the
    previous completed scan of its target; without one, every finding is new."""
    baseline = scans.previous(record)
    before: list[str] = []
    if baseline is not None:
        baseline_id = baseline.scan_id
        before = _RECENT.get(baseline_id, lambda: scans.finding_fingerprints(baseline_id))
    after = _fingerprints(items)
    _RECENT.put(record.scan_id, after)
    new, resolved = count_changes(before, after)
    return {
        "baselineScanId": baseline.scan_id if baseline else None,
        "newFindings": new,
        "resolvedFindings": resolved,
    }
