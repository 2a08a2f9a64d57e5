"""The storage port: what the service and the standalone host ask of storage, nothing more.

Tables of entities (a partition key, a row key and typed properties) with ETags, and blob
containers of bytes. Two adapters implement it: Azure Table and Blob Storage (`azure_storage`,
used in Azure and with any Azurite or storage account a connection string names) and one
embedded SQLite database (`sqlite_storage`, the standalone host's default: every acknowledged
write is on disk before the call returns).

What the callers rely on, in both adapters:
- `insert` refuses an existing key (EntityExistsError), so one of several racing writers wins;
- `replace` and `delete` with an ETag write only if nobody wrote since it was read
  (EntityChangedError otherwise); `replace` of a missing entity raises EntityNotFoundError,
  `delete` of a missing entity does nothing;
- `batch` applies up to 100 upserts and deletes of one partition all together or not at all;
- `query` and `page` return entities in key order (partition key, then row key); `page`
  hands back the position of the next page, which the same adapter accepts unchanged;
- property types survive a round trip: str, int, float, bool, timezone-aware datetime, bytes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from common.continuation import Position

KEYS = ("PartitionKey", "RowKey")
MAX_BATCH_OPERATIONS = 100  # Azure's limit for one transaction; the SQLite adapter keeps it
Operator = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "prefix"]
BatchOperation = tuple[Literal["upsert", "delete"], Mapping[str, Any]]


class StorageError(Exception):
    """Storage refused or failed an operation."""


class EntityExistsError(StorageError):
    """An insert met an entity with the same keys (Azure: HTTP 409)."""


class EntityChangedError(StorageError):
    """A conditional write met a newer version of the entity (Azure: HTTP 412)."""


class EntityNotFoundError(StorageError):
    """A replace found no entity with these keys (Azure: HTTP 404)."""


class StorageUnavailableError(StorageError, ConnectionError):
    """Storage did not answer in time (unreachable, or busy for too long): try again."""


class Entity(dict[str, Any]):
    """One stored entity: PartitionKey, RowKey and its properties; `etag` names this version."""

    __slots__ = ("etag",)

    def __init__(self, values: Mapping[str, Any], etag: str = "") -> None:
        super().__init__(values)
        self.etag = etag


@dataclass(frozen=True)
class Condition:
    """`name op value`; conditions of one query all hold (AND). For `in`, `value` is a
    sequence; `prefix` matches strings starting with `value`."""

    name: str
    op: Operator
    value: Any


def eq(name: str, value: Any) -> Condition:
    return Condition(name, "eq", value)


def ne(name: str, value: Any) -> Condition:
    return Condition(name, "ne", value)


def ge(name: str, value: Any) -> Condition:
    return Condition(name, "ge", value)


def le(name: str, value: Any) -> Condition:
    return Condition(name, "le", value)


def lt(name: str, value: Any) -> Condition:
    return Condition(name, "lt", value)


def one_of(name: str, values: Sequence[Any]) -> Condition:
    return Condition(name, "in", tuple(values))


def prefix(name: str, value: str) -> Condition:
    return Condition(name, "prefix", value)


Where = Sequence[Condition]


class Table(Protocol):
    """One table of entities."""

    name: str

    def insert(self, entity: Mapping[str, Any]) -> str:
        """Add a new entity; its ETag. EntityExistsError when the keys are taken."""
        ...

    def upsert(self, entity: Mapping[str, Any]) -> str:
        """Insert, or replace whatever has these keys; the new ETag."""
        ...

    def replace(self, entity: Mapping[str, Any], etag: str | None = None) -> str:
        """Replace an existing entity (only if still at `etag`, when given); the new ETag."""
        ...

    def delete(self, partition_key: str, row_key: str, etag: str | None = None) -> None:
        """Delete the entity (only if still at `etag`, when given); gone already is fine."""
        ...

    def get(self, partition_key: str, row_key: str) -> Entity | None: ...

    def query(self, where: Where = (), select: Sequence[str] | None = None) -> Iterator[Entity]:
        """Every entity matching `where`, in key order. `select` names the properties the
        caller reads (an adapter may return more)."""
        ...

    def page(
        self,
        where: Where,
        limit: int,
        position: Position | None = None,
        select: Sequence[str] | None = None,
    ) -> tuple[list[Entity], Position | None]:
        """Up to `limit` entities from `position` on, and where the next page starts (None:
        no more). A page may hold fewer than `limit` entities and still have a next one."""
        ...

    def batch(self, operations: Sequence[BatchOperation]) -> None:
        """Apply up to 100 upserts and deletes of one partition atomically."""
        ...


class Container(Protocol):
    """One blob container."""

    name: str

    def put(self, blob_name: str, data: bytes) -> None: ...

    def get(self, blob_name: str) -> bytes | None: ...

    def names(self, name_prefix: str = "") -> Iterator[str]: ...

    def delete_prefix(self, name_prefix: str) -> int:
        """Delete every blob whose name starts with `name_prefix`; how many there were."""
        ...


class Storage(Protocol):
    """One storage account: tables and blob containers by name (created on first use)."""

    description: str  # where the data lives, for log lines (never a secret)

    def table(self, name: str) -> Table: ...

    def container(self, name: str) -> Container: ...

    def table_names(self) -> list[str]: ...

    def container_names(self) -> list[str]: ...

    def close(self) -> None: ...


def is_timestamp(value: Any) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None
