"""Per-target leases: at most one active scan per target, race-free.

Table `{prefix}ScanLeases`: PartitionKey "lease", RowKey = the target key. A lease is taken with
an insert (atomic: one winner), handed over with ETag-conditional updates and released by the
scan that holds it (one conditional delete with the ETag it was taken with).
"""

from __future__ import annotations

import contextlib
import time
from datetime import datetime

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode

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
                return str(table.create_entity(entity).get("etag"))
            except ResourceExistsError:
                pass
            try:
                current = table.get_entity("lease", str(entity["RowKey"]))
            except ResourceNotFoundError:
                continue  # released between the two calls (the previous scan just ended)
            if current["ScanId"] == scan_id:
                return str(current.metadata["etag"])
            raise LeaseHeldError(
                current["ScanId"], current["InstanceId"], current.get("AcquiredAt")
            )
        return str(table.create_entity(entity).get("etag"))

    def take_over(
        self, target_type: str, target_id: str, stale_scan_id: str, scan_id: str, instance_id: str
    ) -> str | None:
        """Hand a stale lease to `scan_id`, only if `stale_scan_id` still holds it (ETag).
        Returns the new lease's ETag, or None when someone else got it."""
        table = self._table
        key = target_key(target_type, target_id)
        try:
            current = table.get_entity("lease", key)
        except ResourceNotFoundError:
            try:
                return self.acquire(target_type, target_id, scan_id, instance_id)
            except LeaseHeldError:
                return None
        if current["ScanId"] != stale_scan_id:
            return str(current.metadata["etag"]) if current["ScanId"] == scan_id else None
        replacement = {
            "PartitionKey": "lease",
            "RowKey": key,
            "ScanId": scan_id,
            "InstanceId": instance_id,
            "AcquiredAt": utcnow(),
        }
        try:
            metadata = table.update_entity(
                replacement,
                mode=UpdateMode.REPLACE,
                etag=current.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return None
        return str(metadata.get("etag"))

    def release(
        self, target_type: str, target_id: str, scan_id: str, etag: str | None = None
    ) -> None:
        """Release the lease if (and only if) `scan_id` holds it. With the ETag it was taken
        with, that is one conditional delete (a changed ETag: it is not ours any more)."""
        table = self._table
        key = target_key(target_type, target_id)
        if etag:
            with contextlib.suppress(ResourceNotFoundError, ResourceModifiedError):
                table.delete_entity(
                    "lease", key, etag=etag, match_condition=MatchConditions.IfNotModified
                )
            return
        for _ in range(5):
            try:
                current = table.get_entity("lease", key)
            except ResourceNotFoundError:
                return
            if current["ScanId"] != scan_id:
                return
            try:
                table.delete_entity(
                    "lease",
                    key,
                    etag=current.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
                return
            except ResourceNotFoundError:
                return
            except (ResourceModifiedError, HttpResponseError):
                time.sleep(0.05)

    def holder(self, target_type: str, target_id: str) -> str | None:
        try:
            entity = self._table.get_entity("lease", target_key(target_type, target_id))
        except ResourceNotFoundError:
            return None
        return str(entity["ScanId"])
