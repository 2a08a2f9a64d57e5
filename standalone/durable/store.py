"""Durable state on the storage port: instances, history and not-yet-applied messages.

Tables (named after the task hub, like the Azure Storage provider does):
- `{hub}Instances`: one row per instance (PartitionKey = instance id, RowKey = "").
- `{hub}History`: the events of each episode as a JSON array, in as few rows as fit
  (RowKey = "{executionId}.{sequence of the row's first event:08d}").
- `{hub}Messages`: events sent by clients (raised events, terminations) that may not be in
  the history yet. Written before the engine hears of them, so a killed host loses none;
  applied ones are recognised by their MessageId in the history and skipped. (Answers the
  engine makes itself, such as activity results, are not stored: recovery makes them again.)
Values too large for a table property go to the `{hub}-largemessages` blob container.
The port is synchronous (the embedded database, or Azure Storage through the SDK); the engine
and the HTTP front call it from their event loops through a small thread pool of this store.

Over 400 lines on purpose: it is the one place that knows the table layout; splitting it by
table would spread the row formats and the large-value handling that all three tables share.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from common.continuation import decode_token, encode_token
from common.storage import (
    MAX_BATCH_OPERATIONS,
    BatchOperation,
    Condition,
    EntityChangedError,
    EntityExistsError,
    EntityNotFoundError,
    Storage,
    Table,
    eq,
    ge,
    le,
    lt,
    ne,
    one_of,
    prefix,
)

log = logging.getLogger(__name__)

PENDING = "Pending"
RUNNING = "Running"
COMPLETED = "Completed"
FAILED = "Failed"
TERMINATED = "Terminated"
ACTIVE_STATES = frozenset({PENDING, RUNNING})
TERMINAL_STATES = frozenset({COMPLETED, FAILED, TERMINATED})
ALL_STATES = ACTIVE_STATES | TERMINAL_STATES

# A table property holds 64 KiB (32 Ki UTF-16 units); keep a margin.
_MAX_INLINE_UNITS = 30_000
# A table transaction holds at most 100 operations and 4 MiB.
_MAX_BATCH_BYTES = 3_000_000
# Threads that carry the port's calls off the event loop (per store, so per process).
_STORAGE_THREADS = 8

T = TypeVar("T")


class InstanceExistsError(Exception):
    """A start was refused: an instance with this id is pending or running."""

    def __init__(self, instance_id: str, status: str) -> None:
        super().__init__(f"An orchestration instance with the status {status} already exists.")
        self.instance_id = instance_id
        self.status = status


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_execution_id() -> str:
    return uuid.uuid4().hex


@dataclass
class InstanceRecord:
    """The instance row: what the status API shows and what the engine needs to resume."""

    instance_id: str
    name: str
    status: str
    execution_id: str
    input: str | None = None  # JSON text
    output: str | None = None  # JSON text
    custom_status: str | None = None  # JSON text
    created: datetime = field(default_factory=utcnow)
    updated: datetime = field(default_factory=utcnow)
    parent: dict[str, Any] | None = None  # {"instanceId", "executionId", "taskId"}
    version: str | None = None
    etag: str | None = None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATES


@dataclass
class InstanceQuery:
    statuses: Sequence[str] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None
    id_prefix: str | None = None


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class DurableStore:
    """The task hub's tables and large-message container, for callers on an event loop."""

    def __init__(self, storage: Storage, hub_name: str) -> None:
        self.hub = hub_name
        self.storage = storage
        self._threads = ThreadPoolExecutor(_STORAGE_THREADS, thread_name_prefix="durable-store")
        self._instances: Table | None = None
        self._history: Table | None = None
        self._messages: Table | None = None

    async def _run(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, call, *args)

    async def open(self) -> None:
        def tables() -> None:  # created on first use: first use happens here, not mid-request
            self._instances = self.storage.table(f"{self.hub}Instances")
            self._history = self.storage.table(f"{self.hub}History")
            self._messages = self.storage.table(f"{self.hub}Messages")

        await self._run(tables)

    async def close(self) -> None:
        self._threads.shutdown(wait=True)

    @property
    def instances(self) -> Table:
        assert self._instances is not None, "store not opened"
        return self._instances

    @property
    def history(self) -> Table:
        assert self._history is not None, "store not opened"
        return self._history

    @property
    def messages(self) -> Table:
        assert self._messages is not None, "store not opened"
        return self._messages

    # -- large values ---------------------------------------------------------------------------

    @property
    def _large(self) -> Any:
        return self.storage.container(f"{self.hub.lower()}-largemessages")

    def _pack(self, entity: dict[str, Any], key: str, value: str | None, where: str) -> None:
        """Put `value` inline, or in a blob named after `where` when too large for a property."""
        if value is None:
            return
        if _utf16_units(value) <= _MAX_INLINE_UNITS:
            entity[key] = value
            return
        blob_name = f"{where}/{key}-{uuid.uuid4().hex}.json"
        self._large.put(blob_name, value.encode("utf-8"))
        entity[f"{key}BlobRef"] = blob_name

    def _unpack(self, entity: dict[str, Any], key: str) -> str | None:
        ref = entity.get(f"{key}BlobRef")
        if ref:
            data = self._large.get(ref)
            return None if data is None else data.decode("utf-8")
        value = entity.get(key)
        return None if value is None else str(value)

    # -- instances ------------------------------------------------------------------------------

    def _record_entity(self, record: InstanceRecord) -> dict[str, Any]:
        entity: dict[str, Any] = {
            "PartitionKey": record.instance_id,
            "RowKey": "",
            "Name": record.name,
            "RuntimeStatus": record.status,
            "ExecutionId": record.execution_id,
            "CreatedTime": record.created,
            "LastUpdatedTime": record.updated,
        }
        where = f"{record.instance_id}/{record.execution_id}"
        self._pack(entity, "Input", record.input, where)
        self._pack(entity, "Output", record.output, where)
        self._pack(entity, "CustomStatus", record.custom_status, where)
        if record.parent is not None:
            entity["Parent"] = json.dumps(record.parent)
        if record.version is not None:
            entity["Version"] = record.version
        return entity

    def _record(self, entity: Any, with_input: bool = True) -> InstanceRecord:
        parent = entity.get("Parent")
        return InstanceRecord(
            instance_id=entity["PartitionKey"],
            name=entity.get("Name", ""),
            status=entity.get("RuntimeStatus", PENDING),
            execution_id=entity.get("ExecutionId", ""),
            input=self._unpack(entity, "Input") if with_input else None,
            output=self._unpack(entity, "Output"),
            custom_status=self._unpack(entity, "CustomStatus"),
            created=entity.get("CreatedTime") or utcnow(),
            updated=entity.get("LastUpdatedTime") or utcnow(),
            parent=json.loads(parent) if parent else None,
            version=entity.get("Version"),
            etag=getattr(entity, "etag", None),
        )

    def _get_instance(self, instance_id: str, with_input: bool) -> InstanceRecord | None:
        entity = self.instances.get(instance_id, "")
        return None if entity is None else self._record(entity, with_input)

    async def get_instance(
        self, instance_id: str, with_input: bool = True
    ) -> InstanceRecord | None:
        return await self._run(self._get_instance, instance_id, with_input)

    def _create_instance(
        self, record: InstanceRecord, refuse_active: bool
    ) -> InstanceRecord | None:
        entity = self._record_entity(record)
        while True:
            try:
                record.etag = self.instances.insert(entity)
                return None
            except EntityExistsError:
                pass
            current = self.instances.get(record.instance_id, "")
            if current is None:
                continue  # purged meanwhile: insert again
            status = current.get("RuntimeStatus", PENDING)
            if refuse_active and status in ACTIVE_STATES:
                raise InstanceExistsError(record.instance_id, status)
            try:
                record.etag = self.instances.replace(entity, current.etag)
            except (EntityChangedError, EntityNotFoundError):
                continue  # someone else won the race: look again
            return self._record(current, with_input=False)

    async def create_instance(
        self, record: InstanceRecord, refuse_active: bool = True
    ) -> InstanceRecord | None:
        """Insert the instance row, or replace a finished one; refuse an active one atomically.

        Returns the record that was replaced (its history is then the caller's to delete).
        The insert and the ETag-conditional replace are what make concurrent starts of one
        instance id start exactly one orchestration, across processes too.
        """
        return await self._run(self._create_instance, record, refuse_active)

    def _save_instance(self, record: InstanceRecord) -> None:
        record.updated = utcnow()
        record.etag = self.instances.upsert(self._record_entity(record))

    async def save_instance(self, record: InstanceRecord) -> None:
        await self._run(self._save_instance, record)

    def _query_instances(
        self,
        query: InstanceQuery,
        page_size: int | None,
        continuation: str | None,
        with_input: bool,
    ) -> tuple[list[InstanceRecord], str | None]:
        where: list[Condition] = []
        if query.statuses:
            where.append(one_of("RuntimeStatus", query.statuses))
        if query.created_from is not None:
            where.append(ge("CreatedTime", query.created_from))
        if query.created_to is not None:
            where.append(le("CreatedTime", query.created_to))
        if query.id_prefix:
            where.append(prefix("PartitionKey", query.id_prefix))
        where.append(eq("RowKey", ""))
        position = decode_token(continuation)
        if page_size is None:
            found = list(self.instances.query(where))
            position = None
        else:
            found, position = self.instances.page(where, page_size, position)
        return [self._record(e, with_input) for e in found], encode_token(position)

    async def query_instances(
        self,
        query: InstanceQuery,
        page_size: int | None = None,
        continuation: str | None = None,
        with_input: bool = False,
    ) -> tuple[list[InstanceRecord], str | None]:
        """One page of instances matching `query`, and the token for the next page."""
        return await self._run(self._query_instances, query, page_size, continuation, with_input)

    async def iter_instances(self, query: InstanceQuery) -> AsyncIterator[InstanceRecord]:
        token: str | None = None
        while True:
            records, token = await self.query_instances(query, page_size=500, continuation=token)
            for record in records:
                yield record
            if not token:
                return

    async def delete_instance_row(self, instance_id: str) -> None:
        await self._run(self.instances.delete, instance_id, "")

    # -- history --------------------------------------------------------------------------------

    @staticmethod
    def _history_key(execution_id: str, sequence: int) -> str:
        return f"{execution_id}.{sequence:08d}"

    @staticmethod
    def _write_batches(table: Table, entities: list[dict[str, Any]]) -> None:
        if len(entities) == 1:  # a transaction costs far more than a single write
            table.upsert(entities[0])
            return
        batch: list[BatchOperation] = []
        size = 0
        for entity in entities:
            entity_size = sum(len(str(v)) for v in entity.values()) * 2
            if batch and (
                len(batch) >= MAX_BATCH_OPERATIONS or size + entity_size > _MAX_BATCH_BYTES
            ):
                table.batch(batch)
                batch, size = [], 0
            batch.append(("upsert", entity))
            size += entity_size
        if batch:
            table.batch(batch)

    def _append_history(
        self, instance_id: str, execution_id: str, first_sequence: int, events: list[dict[str, Any]]
    ) -> None:
        rows: list[tuple[str, str]] = []
        chunk: list[str] = []
        units = 0
        start = first_sequence
        for index, event in enumerate(events):
            text = json.dumps(event)
            size = _utf16_units(text) + 1
            if chunk and units + size > _MAX_INLINE_UNITS:
                rows.append((self._history_key(execution_id, start), "[" + ",".join(chunk) + "]"))
                chunk, units, start = [], 0, first_sequence + index
            chunk.append(text)
            units += size
        if chunk:
            rows.append((self._history_key(execution_id, start), "[" + ",".join(chunk) + "]"))
        entities = []
        for row_key, text in rows:
            entity: dict[str, Any] = {"PartitionKey": instance_id, "RowKey": row_key}
            self._pack(entity, "Events", text, f"{instance_id}/rows")
            entities.append(entity)
        self._write_batches(self.history, entities)

    async def append_history(
        self, instance_id: str, execution_id: str, first_sequence: int, events: list[dict[str, Any]]
    ) -> None:
        """Append an episode's events: as few rows as fit (usually one row, one write).

        Each row holds a JSON array of consecutive events and is keyed by the sequence number
        of its first event, so the rows of all episodes sort in history order.
        """
        await self._run(self._append_history, instance_id, execution_id, first_sequence, events)

    def _load_history(self, instance_id: str, execution_id: str) -> list[dict[str, Any]]:
        where = [
            eq("PartitionKey", instance_id),
            ge("RowKey", self._history_key(execution_id, 0)),
            lt("RowKey", f"{execution_id}/"),  # '/' sorts right after '.'
        ]
        events: list[dict[str, Any]] = []
        for entity in self.history.query(where):
            text = self._unpack(entity, "Events")
            if text is not None:
                events.extend(json.loads(text))
        return events

    async def load_history(self, instance_id: str, execution_id: str) -> list[dict[str, Any]]:
        return await self._run(self._load_history, instance_id, execution_id)

    @staticmethod
    def _delete_rows(table: Table, instance_id: str, keys: list[str]) -> None:
        for start in range(0, len(keys), MAX_BATCH_OPERATIONS):
            table.batch(
                [
                    ("delete", {"PartitionKey": instance_id, "RowKey": key})
                    for key in keys[start : start + MAX_BATCH_OPERATIONS]
                ]
            )

    def _row_keys(self, table: Table, where: Sequence[Condition]) -> list[str]:
        return [str(entity["RowKey"]) for entity in table.query(where, select=["RowKey"])]

    def _delete_history_except(self, instance_id: str, keep_execution_id: str) -> None:
        keys = self._row_keys(self.history, [eq("PartitionKey", instance_id)])
        stale = [key for key in keys if not key.startswith(keep_execution_id + ".")]
        self._delete_rows(self.history, instance_id, stale)

    async def delete_history_except(self, instance_id: str, keep_execution_id: str) -> None:
        """Delete rows of earlier executions (after a restart or continue-as-new)."""
        await self._run(self._delete_history_except, instance_id, keep_execution_id)

    # -- messages -------------------------------------------------------------------------------

    def _add_messages(self, instance_id: str, messages: list[dict[str, Any]]) -> None:
        entities = []
        for message in messages:
            entity: dict[str, Any] = {
                "PartitionKey": instance_id,
                "RowKey": str(message["MessageId"]),
                "ExecutionId": str(message.get("ExecutionId", "")),
            }
            self._pack(entity, "Event", json.dumps(message), f"{instance_id}/rows")
            entities.append(entity)
        self._write_batches(self.messages, entities)

    async def add_messages(self, instance_id: str, messages: list[dict[str, Any]]) -> None:
        await self._run(self._add_messages, instance_id, messages)

    def _load_messages(self, instance_id: str) -> list[dict[str, Any]]:
        messages = []
        for entity in self.messages.query([eq("PartitionKey", instance_id)]):
            text = self._unpack(entity, "Event")
            if text is not None:
                messages.append(json.loads(text))
        messages.sort(key=lambda m: str(m.get("MessageId", "")))
        return messages

    async def load_messages(self, instance_id: str) -> list[dict[str, Any]]:
        return await self._run(self._load_messages, instance_id)

    def _delete_messages(self, instance_id: str, execution_id: str | None) -> None:
        where = [eq("PartitionKey", instance_id)]
        if execution_id is not None:
            where.append(eq("ExecutionId", execution_id))
        self._delete_rows(self.messages, instance_id, self._row_keys(self.messages, where))

    async def delete_messages(self, instance_id: str, execution_id: str | None = None) -> None:
        """Delete an instance's messages; with `execution_id`, only those of that execution."""
        await self._run(self._delete_messages, instance_id, execution_id)

    def _instances_with_messages(self) -> set[str]:
        found = self.messages.query([ne("RowKey", "")], select=["PartitionKey"])
        return {str(entity["PartitionKey"]) for entity in found}

    async def instances_with_messages(self) -> set[str]:
        return await self._run(self._instances_with_messages)

    # -- purge ----------------------------------------------------------------------------------

    def _purge(self, instance_id: str) -> None:
        for table in (self.history, self.messages):
            keys = self._row_keys(table, [eq("PartitionKey", instance_id)])
            self._delete_rows(table, instance_id, keys)
        self._large.delete_prefix(f"{instance_id}/")
        self.instances.delete(instance_id, "")

    async def purge(self, instance_id: str) -> None:
        """Delete everything stored for one instance."""
        await self._run(self._purge, instance_id)
