"""The targets registry: repositories, hosts and subscriptions, with schedules and last scan.

Table `{prefix}Targets`: PartitionKey = target type, RowKey = target id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from common.continuation import Position
from common.storage import EntityExistsError, ne
from orchestrations.state.tables import TableStore, safe_key, utcnow


class TargetExistsError(Exception):
    """A target with this id is already registered."""


@dataclass
class TargetRecord:
    target_type: str
    target_id: str
    name: str
    config: dict[str, Any] = field(default_factory=dict)
    schedule: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    last_scanned_at: datetime | None = None
    last_scan_id: str | None = None
    last_status: str | None = None
    last_scheduled_at: datetime | None = None
    etag: str | None = None


class TargetStore(TableStore):
    TABLE = "Targets"

    def _entity(self, record: TargetRecord) -> dict[str, Any]:
        entity = {
            "PartitionKey": record.target_type,
            "RowKey": safe_key(record.target_id),
            "TargetId": record.target_id,
            "Name": record.name,
            "Config": self.storage.pack(
                record.config, f"targets/{record.target_type}/{safe_key(record.target_id)}.json"
            ),
            "Schedule": record.schedule,
            "CreatedAt": record.created_at,
            "UpdatedAt": record.updated_at,
            "LastScannedAt": record.last_scanned_at,
            "LastScanId": record.last_scan_id,
            "LastStatus": record.last_status,
            "LastScheduledAt": record.last_scheduled_at,
        }
        return {k: v for k, v in entity.items() if v is not None}

    def _record(self, entity: Any) -> TargetRecord:
        return TargetRecord(
            target_type=entity["PartitionKey"],
            target_id=entity["TargetId"],
            name=entity.get("Name", ""),
            config=self.storage.unpack(entity.get("Config")) or {},
            schedule=entity.get("Schedule"),
            created_at=entity["CreatedAt"],
            updated_at=entity["UpdatedAt"],
            last_scanned_at=entity.get("LastScannedAt"),
            last_scan_id=entity.get("LastScanId"),
            last_status=entity.get("LastStatus"),
            last_scheduled_at=entity.get("LastScheduledAt"),
            etag=entity.etag,
        )

    def create(self, record: TargetRecord) -> None:
        try:
            record.etag = self._table.insert(self._entity(record))
        except EntityExistsError as exc:
            raise TargetExistsError(record.target_id) from exc

    def get(self, target_type: str, target_id: str) -> TargetRecord | None:
        entity = self._table.get(target_type, safe_key(target_id))
        return None if entity is None else self._record(entity)

    def delete(self, target_type: str, target_id: str) -> bool:
        if self.get(target_type, target_id) is None:
            return False
        self._table.delete(target_type, safe_key(target_id))
        return True

    def page(
        self, target_type: str, limit: int, continuation: Position | None
    ) -> tuple[list[TargetRecord], Position | None]:
        entities, following = self._partition_page(target_type, limit, continuation)
        return [self._record(e) for e in entities], following

    def scheduled(self) -> list[TargetRecord]:
        return [
            self._record(e) for e in self._table.query([ne("Schedule", "")]) if e.get("Schedule")
        ]

    def record_scan(self, target_type: str, target_id: str, scan_id: str, status: str) -> None:
        """Set lastScannedAt/lastScanId/lastStatus of a registered target (no-op otherwise)."""
        for _ in range(10):
            record = self.get(target_type, target_id)
            if record is None:
                return
            if record.last_scan_id and record.last_scan_id > scan_id:
                return  # a newer scan already reported (scan ids sort by time)
            record.last_scanned_at = utcnow()
            record.last_scan_id = scan_id
            record.last_status = status
            if self.save(record):
                return
