"""The scan projection in Table Storage: scan records and per-item results.

- `{prefix}Scans`: one row per scan. PartitionKey "scan", RowKey = the scan id (a ULID) with
  every character inverted, so the natural order is newest first and a point read needs only
  the id. Written by the trigger, the plan/finish activities and cancel, never concurrently
  in a way that loses data: terminal states are only set with ETag-conditional updates.
- `{prefix}ScansByTarget`: pointers (PartitionKey = target key) for listing one target's scans.
- `{prefix}ScanItems`: one row per work item (PartitionKey = scan id), written only by the
  activity that produced it (an idempotent upsert). Progress counts these rows. Its findings
  are one compact document (state/findings.py), in the row when small, else in a blob named by
  the hash of its text (`findings/<sha256>.json`): a rule that finds the same as in the last
  scan refers to the blob that scan wrote.
(Per-target leases: leases.py.)
"""

from __future__ import annotations

import json
import re
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ulid import ULID

from common.continuation import Position
from common.storage import Condition, eq
from orchestrations.core.lifecycle import ACTIVE, COMPLETED, PENDING, QUEUED_PHASE, TERMINAL
from orchestrations.state import findings as stored_findings
from orchestrations.state.storage import BLOB_REF, MAX_INLINE_UNITS
from orchestrations.state.tables import TableStore, safe_key, target_key, utcnow
from scanner.cache import ArtifactCache
from scanner.engine import Finding, ItemResult

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32, ULID's alphabet
_INVERT = str.maketrans(_ALPHABET, _ALPHABET[::-1])
_SCAN_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def new_scan_id() -> str:
    return str(ULID())


def is_scan_id(value: str) -> bool:
    return bool(_SCAN_ID.match(value))


def inverted(scan_id: str) -> str:
    return scan_id.translate(_INVERT)


@dataclass
class ScanRecord:
    scan_id: str
    target_type: str
    target_id: str
    instance_id: str
    status: str = PENDING
    phase: str = QUEUED_PHASE
    step: str | None = None
    progress: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    completed_counter: str = "itemsCompleted"
    total_counter: str = "totalItems"
    run_phase: str = "Run"
    total_items: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    trigger: str = "api"
    registered: bool = False  # the target is in the registry (its lastScan* get updated)
    lease_etag: str | None = None  # the lease as taken: releasing it is then one write
    created_at: datetime = field(default_factory=utcnow)
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error_message: str | None = None
    results: Any = None
    etag: str | None = None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE


# Findings of content-addressed blobs, as this process wrote or read them: summarize reads
# the findings its items just wrote, a comparison those of the scan before (they never change).
_FINDINGS: ArtifactCache[list[Finding]] = ArtifactCache(256)


# Items with this many findings store them in parts of about a quarter (a power of two, at
# least 1,024: each part is one more blob write), cut after each finding whose fingerprint
# hashes to a multiple of the part size (the same cuts in every scan, whatever was found or
# resolved elsewhere) and at four times the size (no part grows without bound).
FINDINGS_PARTS = "findings/parts"
_PARTED_FROM = 2048
_SMALLEST_PART = 1024
_PART_WRITERS = 4


def _finding_parts(findings: list[Finding]) -> list[list[Finding]]:
    size = max(_SMALLEST_PART, 1 << ((len(findings) // 4).bit_length() - 1))
    mask = size - 1
    parts: list[list[Finding]] = []
    current: list[Finding] = []
    for finding in findings:
        current.append(finding)
        cut = zlib.crc32((finding.fingerprint or "").encode("utf-8")) & mask == 0
        if cut or len(current) >= 4 * size:
            parts.append(current)
            current = []
    if current:
        parts.append(current)
    return parts


def _part_refs(stored: str | None) -> list[str] | None:
    """The references of a Findings property stored in parts; None when it is not."""
    if not stored or not stored.startswith('{"format": "' + FINDINGS_PARTS + '"'):
        return None
    return [str(ref) for ref in json.loads(stored)["parts"]]


class ScanStore(TableStore):
    """Reads and writes scan records and item rows."""

    TABLE = "Scans"

    # -- records ------------------------------------------------------------------------------

    def _entity(self, record: ScanRecord) -> dict[str, Any]:
        entity: dict[str, Any] = {
            "PartitionKey": "scan",
            "RowKey": inverted(record.scan_id),
            "ScanId": record.scan_id,
            "TargetType": record.target_type,
            "TargetId": record.target_id,
            "InstanceId": record.instance_id,
            "Status": record.status,
            "Phase": record.phase,
            "Step": record.step,
            "Progress": record.progress,
            "Counters": self.storage.pack(record.counters, f"scans/{record.scan_id}/counters.json"),
            "CompletedCounter": record.completed_counter,
            "TotalCounter": record.total_counter,
            "RunPhase": record.run_phase,
            "TotalItems": record.total_items,
            "Options": self.storage.pack(record.options, f"scans/{record.scan_id}/options.json"),
            "Trigger": record.trigger,
            "Registered": record.registered,
            "LeaseEtag": record.lease_etag,
            "CreatedAt": record.created_at,
            "StartedAt": record.started_at,
            "CompletedAt": record.completed_at,
            "ErrorMessage": (record.error_message or "")[:8000] or None,
        }
        if record.results is not None:
            entity["Results"] = self.storage.pack(
                record.results, f"scans/{record.scan_id}/results.json"
            )
        return {k: v for k, v in entity.items() if v is not None}

    def _record(self, entity: Any) -> ScanRecord:
        return ScanRecord(
            scan_id=entity["ScanId"],
            target_type=entity["TargetType"],
            target_id=entity["TargetId"],
            instance_id=entity["InstanceId"],
            status=entity["Status"],
            phase=entity.get("Phase", QUEUED_PHASE),
            step=entity.get("Step"),
            progress=int(entity.get("Progress", 0)),
            counters=self.storage.unpack(entity.get("Counters")) or {},
            completed_counter=entity.get("CompletedCounter", "itemsCompleted"),
            total_counter=entity.get("TotalCounter", "totalItems"),
            run_phase=entity.get("RunPhase", "Run"),
            total_items=int(entity.get("TotalItems", 0)),
            options=self.storage.unpack(entity.get("Options")) or {},
            trigger=entity.get("Trigger", "api"),
            registered=bool(entity.get("Registered", False)),
            lease_etag=entity.get("LeaseEtag"),
            created_at=entity["CreatedAt"],
            started_at=entity.get("StartedAt"),
            completed_at=entity.get("CompletedAt"),
            error_message=entity.get("ErrorMessage"),
            results=self.storage.unpack(entity.get("Results")),
            etag=entity.etag,
        )

    def create(self, record: ScanRecord) -> None:
        """Insert the scan record (its by-target pointer is `add_pointer`)."""
        record.etag = self._table.insert(self._entity(record))

    def add_pointer(self, record: ScanRecord) -> None:
        """The row that lists this scan under its target (for listing one target's scans)."""
        self.storage.table("ScansByTarget").upsert(
            {
                "PartitionKey": target_key(record.target_type, record.target_id),
                "RowKey": inverted(record.scan_id),
                "ScanId": record.scan_id,
            }
        )

    def get(self, scan_id: str) -> ScanRecord | None:
        if not is_scan_id(scan_id):
            return None
        entity = self._table.get("scan", inverted(scan_id))
        return None if entity is None else self._record(entity)

    def modify(self, record: ScanRecord, change: Any) -> ScanRecord | None:
        """Apply `change` to a record read earlier and save it if nobody wrote it since; on a
        conflict, reload and apply again. Terminal records are left alone. One write when
        uncontended (`update` needs a read first)."""
        current: ScanRecord | None = record
        for _ in range(20):
            if current is None or current.status in TERMINAL:
                return current
            change(current)
            if self.save(current):
                return current
            current = self.get(record.scan_id)
        raise RuntimeError(f"scan {record.scan_id}: too many concurrent updates")

    def update(self, scan_id: str, change: Any, allow_terminal: bool = False) -> ScanRecord | None:
        """Read-modify-write with ETag retry. `change(record)` edits in place; a terminal
        record is left alone unless `allow_terminal`. Returns the record as stored."""
        for _ in range(20):
            record = self.get(scan_id)
            if record is None:
                return None
            if record.status in TERMINAL and not allow_terminal:
                return record
            change(record)
            if self.save(record):
                return record
        raise RuntimeError(f"scan {scan_id}: too many concurrent updates")

    def page(
        self,
        target_type: str | None = None,
        target_id: str | None = None,
        status: str | None = None,
        limit: int = 20,
        continuation: Position | None = None,
    ) -> tuple[list[ScanRecord], Position | None]:
        """Newest first, one page, and the continuation for the next page."""
        if target_type and target_id:
            return self._list_by_target(target_type, target_id, status, limit, continuation)
        where: list[Condition] = [eq("PartitionKey", "scan")]
        if target_type:
            where.append(eq("TargetType", target_type))
        if target_id:
            where.append(eq("TargetId", target_id))
        if status:
            where.append(eq("Status", status))
        position = continuation
        while True:
            entities, position = self._table.page(where, limit, position)
            if entities or position is None:
                return [self._record(e) for e in entities], position

    def _list_by_target(
        self,
        target_type: str,
        target_id: str,
        status: str | None,
        limit: int,
        continuation: Position | None,
    ) -> tuple[list[ScanRecord], Position | None]:
        pointers, position = self.storage.table("ScansByTarget").page(
            [eq("PartitionKey", target_key(target_type, target_id))], limit, continuation
        )
        records: list[ScanRecord] = []
        for pointer in pointers:
            record = self.get(pointer["ScanId"])
            if record is not None and (status is None or record.status == status):
                records.append(record)
        return records, position

    def previous(
        self, record: ScanRecord, status: str = COMPLETED, look_back: int = 100
    ) -> ScanRecord | None:
        """The latest scan of the same target before `record` (by scan id) in `status`, among
        the `look_back` scans before it (a bound on what one look-up reads)."""
        table = self.storage.table("ScansByTarget")
        where = [
            eq("PartitionKey", target_key(record.target_type, record.target_id)),
            Condition("RowKey", "gt", inverted(record.scan_id)),
        ]
        # The previous scan is almost always the first: a small first page.
        pointers, position = table.page(where, 10, None, ["ScanId"])
        read = 0
        while read < look_back:
            for pointer in pointers[: look_back - read]:  # newest first (inverted ids)
                earlier = self.get(pointer["ScanId"])
                if earlier is not None and earlier.status == status:
                    return earlier
            read += len(pointers)
            if position is None:
                break
            pointers, position = table.page(where, look_back - read, position, ["ScanId"])
        return None

    # -- item rows ------------------------------------------------------------------------------

    def put_item(self, scan_id: str, result: ItemResult) -> None:
        """Upsert one item's result (idempotent: the same item id replaces its row)."""
        where = f"scans/{scan_id}/items/{safe_key(result.item_id)}"
        entity = {
            "PartitionKey": scan_id,
            "RowKey": safe_key(result.item_id),
            "ItemId": result.item_id,
            "Status": result.status,
            "Title": result.title,
            "FindingsCount": len(result.findings),
            # Never whether a finding is accepted: exceptions are applied when findings are read.
            "Findings": self._put_findings(result.findings),
            "Data": self.storage.pack(result.data, where + "-data.json"),
            "Error": (result.error or "")[:8000],
            "DurationMs": result.duration_ms,
        }
        self.storage.table("ScanItems").upsert(entity)

    def _put_findings(self, findings: list[Finding]) -> str:
        """The row's Findings property: the compact document, a reference to it, or (many
        findings) the references of its parts."""
        if len(findings) >= _PARTED_FROM:
            # A rescan changes a few findings of a large item: only their part is new (the
            # others are content the store already holds, not written again).
            parts = _finding_parts(findings)
            with ThreadPoolExecutor(min(_PART_WRITERS, len(parts))) as writers:
                refs = list(writers.map(self._put_findings_blob, parts))
            return json.dumps({"format": FINDINGS_PARTS, "parts": refs})
        text = stored_findings.encode(findings)
        if len(text) <= MAX_INLINE_UNITS:
            return text
        return self._put_findings_blob(findings, text)

    def _put_findings_blob(self, findings: list[Finding], text: str | None = None) -> str:
        # The blob is written before the row that refers to it: a crash in between leaves an
        # unreferenced blob, never a row without its findings.
        ref = self.storage.put_content("findings", text or stored_findings.encode(findings))
        _FINDINGS.put(ref, list(findings))
        return ref

    def _findings(self, stored: str | None) -> list[Finding]:
        if not stored:
            return []
        parts = _part_refs(stored)
        if parts is not None:
            return [finding for ref in parts for finding in self._findings(ref)]
        if stored.startswith(BLOB_REF):
            ref = stored

            def load() -> list[Finding]:
                found = stored_findings.decode(self.storage.get_blob_json(ref))
                if ref.startswith(BLOB_REF + "findings/"):
                    self.storage.knows(ref)
                return found

            # Content-addressed blobs never change; others (written before) are read each time.
            if ref.startswith(BLOB_REF + "findings/"):
                return list(_FINDINGS.get(ref, load))
            return load()
        return stored_findings.decode(json.loads(stored))

    def items(self, scan_id: str) -> list[ItemResult]:
        results = []
        for entity in self.storage.table("ScanItems").query([eq("PartitionKey", scan_id)]):
            # Built as stored, not validated again: the findings were when they were made (and
            # validating one computes its fingerprint again).
            results.append(
                ItemResult.model_construct(
                    item_id=entity["ItemId"],
                    status=entity["Status"],
                    title=entity.get("Title", ""),
                    findings=self._findings(entity.get("Findings")),
                    data=self.storage.unpack(entity.get("Data")) or {},
                    error=entity.get("Error") or None,
                    duration_ms=int(entity.get("DurationMs", 0)),
                )
            )
        return results

    def finding_fingerprints(self, scan_id: str) -> list[str]:
        """The fingerprints of a scan's findings, read from the stored findings without
        building each one (a comparison reads a whole earlier scan for these alone)."""
        prints: list[str] = []
        for entity in self.storage.table("ScanItems").query(
            [eq("PartitionKey", scan_id)], select=["Findings"]
        ):
            stored = entity.get("Findings")
            parts = _part_refs(stored)
            every: list[str | None] = [stored] if parts is None else list(parts)
            for one in every:
                if one and one.startswith(BLOB_REF + "findings/"):
                    known = _FINDINGS.peek(one)
                    if known is not None:
                        prints += [f.fingerprint for f in known]
                        continue
                prints += stored_findings.fingerprints(self.storage.unpack(one))
        return prints

    def count_items(self, scan_id: str) -> int:
        rows = self.storage.table("ScanItems").query(
            [eq("PartitionKey", scan_id)], select=["RowKey"]
        )
        return sum(1 for _ in rows)
