"""Per-target leases: at most one active scan per target, race-free.

Table `{prefix}ScanLeases`: PartitionKey "lease", RowKey = the target key. A lease is taken with
an insert (atomic: one winner), handed over with ETag-conditional updates and released by the
scan that holds it (one conditional delete with the ETag it was taken with).
"""

from __future__ import annotations

import contextlib
import time
from datetime import datetime

from common.storage import (
    EntityChangedError,
    EntityExistsError,
    EntityNotFoundError,
    StorageUnavailableError,
)
from orchestrations.state.tables import TableStore, target_key, utcnow


class LeaseHeldError(Exception):
    """Another scan holds the target's lease."""

    def __init__(self, scan_id: str, instance_id: str, acquired: datetime | None) -> None:
        super().__init__(f"scan {scan_id} is active for this target")
        self.scan_id = scan_id
        self.instance_id = instance_id
        self.acquired = acquired


class LeaseStore(TableStore):
    """Takes, hands over and releases the leases of targets."""

    TABLE = "ScanLeases"

    def acquire(
        self, target_type: str, target_id: str, scan_id: str, instance_id: str
    ) -> str | None:
        """Take the target's lease for `scan_id` (returns its ETag) or raise LeaseHeldError
        naming the holder."""
        table = self._table
        entity = {
            "PartitionKey": "lease",
            "RowKey": target_key(target_type, target_id),
            "ScanId": scan_id,
            "InstanceId": instance_id,
            "AcquiredAt": utcnow(),
        }
        for _ in range(3):
            try:
                return table.insert(entity)
            except EntityExistsError:
                pass
            current = table.get("lease", str(entity["RowKey"]))
            if current is None:
                continue  # released between the two calls (the previous scan just ended)
            if current["ScanId"] == scan_id:
                return current.etag
            raise LeaseHeldError(
                current["ScanId"], current["InstanceId"], current.get("AcquiredAt")
            )
        return table.insert(entity)

    def take_over(
        self, target_type: str, target_id: str, stale_scan_id: str, scan_id: str, instance_id: str
    ) -> str | None:
        """Hand a stale lease to `scan_id`, only if `stale_scan_id` still holds it (ETag).
        Returns the new lease's ETag, or None when someone else got it."""
        table = self._table
        key = target_key(target_type, target_id)
        current = table.get("lease", key)
        if current is None:
            try:
                return self.acquire(target_type, target_id, scan_id, instance_id)
            except LeaseHeldError:
                return None
        if current["ScanId"] != stale_scan_id:
            return current.etag if current["ScanId"] == scan_id else None
        replacement = {
            "PartitionKey": "lease",
            "RowKey": key,
            "ScanId": scan_id,
            "InstanceId": instance_id,
            "AcquiredAt": utcnow(),
        }
        try:
            return table.replace(replacement, current.etag)
        except (EntityChangedError, EntityNotFoundError):
            return None

    def release(
        self, target_type: str, target_id: str, scan_id: str, etag: str | None = None
    ) -> None:
        """Release the lease if (and only if) `scan_id` holds it. With the ETag it was taken
        with, that is one conditional delete (a changed ETag: it is not ours any more)."""
        table = self._table
        key = target_key(target_type, target_id)
        if etag:
            with contextlib.suppress(EntityChangedError):
                table.delete("lease", key, etag)
            return
        for _ in range(5):
            current = table.get("lease", key)
            if current is None or current["ScanId"] != scan_id:
                return
            try:
                table.delete("lease", key, current.etag)
                return
            except (EntityChangedError, StorageUnavailableError):
                time.sleep(0.05)

    def holder(self, target_type: str, target_id: str) -> str | None:
        entity = self._table.get("lease", target_key(target_type, target_id))
        return None if entity is None else str(entity["ScanId"])
