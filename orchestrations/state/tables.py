"""What every Table Storage store here shares: safe keys, the clock, its table, and the
ETag-conditional save (write only if nobody wrote since we read)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar

from common.continuation import Position
from common.storage import EntityChangedError, EntityNotFoundError, Table, eq
from orchestrations.state.storage import Storage

_KEY_UNSAFE = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")


def safe_key(value: str) -> str:
    """A Table Storage key: the characters Azure forbids in keys replaced by '_'."""
    return _KEY_UNSAFE.sub("_", value)[:512]


def utcnow() -> datetime:
    return datetime.now(UTC)


def target_key(target_type: str, target_id: str) -> str:
    """A target's key in the tables that index by target (leases, scans by target)."""
    return safe_key(f"{target_type}:{target_id}")


class TableStore:
    """A store kept in one table of the service's storage (`TABLE`, without the prefix)."""

    TABLE: ClassVar[str]

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    @property
    def _table(self) -> Table:
        return self.storage.table(self.TABLE)

    def _entity(self, record: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _partition_page(
        self, partition: str, limit: int, continuation: Position | None
    ) -> tuple[list[dict[str, Any]], Position | None]:
        """One page of a partition's rows in key order, and where the next page starts."""
        entities, following = self._table.page([eq("PartitionKey", partition)], limit, continuation)
        return list(entities), following

    def save(self, record: Any, if_unchanged: bool = True) -> bool:
        """Write the record (`_entity(record)`); with `if_unchanged`, only if nobody wrote it
        since it was read (its ETag). False: someone else wrote or deleted it meanwhile."""
        etag = record.etag if if_unchanged and record.etag else None
        try:
            record.etag = self._table.replace(self._entity(record), etag)
        except (EntityChangedError, EntityNotFoundError):
            return False
        return True
