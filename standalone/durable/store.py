"""Durable state in Azure Table Storage: instances, history and not-yet-applied messages.

Tables (named after the task hub, like the Azure Storage provider does):
- `{hub}Instances`: one row per instance (PartitionKey = instance id, RowKey = "").
- `{hub}History`: the events of each episode as a JSON array, in as few rows as fit
  (RowKey = "{executionId}.{sequence of the row's first event:08d}").
- `{hub}Messages`: events sent by clients (raised events, terminations) that may not be in
  the history yet. Written before the engine hears of them, so a killed host loses none;
  applied ones are recognised by their MessageId in the history and skipped. (Answers the
  engine makes itself, such as activity results, are not stored: recovery makes them again.)
Values too large for a table property go to the `{hub}-largemessages` blob container.

Over 400 lines on purpose: it is the one place that knows the table layout; splitting it by
table would spread the row formats and the large-value handling that all three tables share.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient
from azure.storage.blob.aio import BlobServiceClient, ContainerClient

from common.continuation import decode_token, encode_token

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
_MAX_BATCH_OPS = 100
_MAX_BATCH_BYTES = 3_000_000


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


def _odata_quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _odata_datetime(value: datetime) -> str:
    return "datetime'" + value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "'"


class DurableStore:
    """Async access to the task hub's tables and large-message container."""

    def __init__(self, connection_string: str, hub_name: str) -> None:
        self.hub = hub_name
        self._service = TableServiceClient.from_connection_string(connection_string)
        self._blobs = BlobServiceClient.from_connection_string(connection_string)
        self.instances: TableClient = self._service.get_table_client(f"{hub_name}Instances")
        self.history: TableClient = self._service.get_table_client(f"{hub_name}History")
        self.messages: TableClient = self._service.get_table_client(f"{hub_name}Messages")
        self._container: ContainerClient = self._blobs.get_container_client(
            f"{hub_name.lower()}-largemessages"
        )
        self._container_ready = False

    async def open(self) -> None:
        for table in (self.instances, self.history, self.messages):
            with contextlib.suppress(ResourceExistsError):
                await self._service.create_table(table.table_name)

    async def close(self) -> None:
        for client in (self.instances, self.history, self.messages):
            await client.close()
        await self._container.close()
        await self._service.close()
        await self._blobs.close()

    # -- large values ---------------------------------------------------------------------------

    async def _pack(self, entity: dict[str, Any], key: str, value: str | None, where: str) -> None:
        """Put `value` inline, or in a blob named after `where` when too large for a property."""
        if value is None:
            return
        if _utf16_units(value) <= _MAX_INLINE_UNITS:
            entity[key] = value
            return
        if not self._container_ready:
            with contextlib.suppress(ResourceExistsError):
                await self._container.create_container()
            self._container_ready = True
        blob_name = f"{where}/{key}-{uuid.uuid4().hex}.json"
        await self._container.upload_blob(blob_name, value.encode("utf-8"), overwrite=True)
        entity[f"{key}BlobRef"] = blob_name

    async def _unpack(self, entity: dict[str, Any], key: str) -> str | None:
        ref = entity.get(f"{key}BlobRef")
        if ref:
            downloader = await self._container.download_blob(ref)
            data: bytes = await downloader.readall()
            return data.decode("utf-8")
        value = entity.get(key)
        return None if value is None else str(value)

    async def _delete_blobs(self, prefix: str) -> None:
        if not self._container_ready:
            try:
                if not await self._container.exists():
                    return
            except HttpResponseError:
                return
            self._container_ready = True
        async for blob in self._container.list_blobs(name_starts_with=prefix):
            with contextlib.suppress(ResourceNotFoundError):
                await self._container.delete_blob(blob.name)

    # -- instances ------------------------------------------------------------------------------

    async def _record_entity(self, record: InstanceRecord) -> dict[str, Any]:
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
        await self._pack(entity, "Input", record.input, where)
        await self._pack(entity, "Output", record.output, where)
        await self._pack(entity, "CustomStatus", record.custom_status, where)
        if record.parent is not None:
            entity["Parent"] = json.dumps(record.parent)
        if record.version is not None:
            entity["Version"] = record.version
        return entity

    async def _record(self, entity: Any, with_input: bool = True) -> InstanceRecord:
        parent = entity.get("Parent")
        return InstanceRecord(
            instance_id=entity["PartitionKey"],
            name=entity.get("Name", ""),
            status=entity.get("RuntimeStatus", PENDING),
            execution_id=entity.get("ExecutionId", ""),
            input=await self._unpack(entity, "Input") if with_input else None,
            output=await self._unpack(entity, "Output"),
            custom_status=await self._unpack(entity, "CustomStatus"),
            created=entity.get("CreatedTime") or utcnow(),
            updated=entity.get("LastUpdatedTime") or utcnow(),
            parent=json.loads(parent) if parent else None,
            version=entity.get("Version"),
            etag=entity.metadata.get("etag") if hasattr(entity, "metadata") else None,
        )

    async def get_instance(
        self, instance_id: str, with_input: bool = True
    ) -> InstanceRecord | None:
        try:
            entity = await self.instances.get_entity(instance_id, "")
        except ResourceNotFoundError:
            return None
        return await self._record(entity, with_input)

    async def create_instance(
        self, record: InstanceRecord, refuse_active: bool = True
    ) -> InstanceRecord | None:
        """Insert the instance row, or replace a finished one; refuse an active one atomically.

        Returns the record that was replaced (its history is then the caller's to delete).
        The insert and the ETag-conditional replace are what make concurrent starts of one
        instance id start exactly one orchestration, across processes too.
        """
        entity = await self._record_entity(record)
        while True:
            try:
                metadata = await self.instances.create_entity(entity)
                record.etag = metadata.get("etag")
                return None
            except ResourceExistsError:
                pass
            current = await self.instances.get_entity(record.instance_id, "")
            status = current.get("RuntimeStatus", PENDING)
            if refuse_active and status in ACTIVE_STATES:
                raise InstanceExistsError(record.instance_id, status)
            try:
                metadata = await self.instances.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=current.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                continue  # someone else won the race: look again
            record.etag = metadata.get("etag")
            return await self._record(current, with_input=False)

    async def save_instance(self, record: InstanceRecord) -> None:
        record.updated = utcnow()
        entity = await self._record_entity(record)
        metadata = await self.instances.upsert_entity(entity, mode=UpdateMode.REPLACE)
        record.etag = metadata.get("etag")

    async def query_instances(
        self,
        query: InstanceQuery,
        page_size: int | None = None,
        continuation: str | None = None,
        with_input: bool = False,
    ) -> tuple[list[InstanceRecord], str | None]:
        """One page of instances matching `query`, and the token for the next page."""
        clauses: list[str] = []
        if query.statuses:
            ors = " or ".join(f"RuntimeStatus eq {_odata_quote(s)}" for s in query.statuses)
            clauses.append(f"({ors})")
        if query.created_from is not None:
            clauses.append(f"CreatedTime ge {_odata_datetime(query.created_from)}")
        if query.created_to is not None:
            clauses.append(f"CreatedTime le {_odata_datetime(query.created_to)}")
        if query.id_prefix:
            clauses.append(
                f"PartitionKey ge {_odata_quote(query.id_prefix)} and "
                f"PartitionKey lt {_odata_quote(query.id_prefix + chr(0xFFFF))}"
            )
        clauses.append("RowKey eq ''")
        pages = self.instances.query_entities(
            " and ".join(clauses), results_per_page=page_size
        ).by_page(continuation_token=decode_token(continuation))  # type: ignore[arg-type]
        records: list[InstanceRecord] = []
        async for page in pages:
            async for entity in page:
                records.append(await self._record(entity, with_input))
            if page_size is not None:
                break
        return records, encode_token(getattr(pages, "continuation_token", None))

    async def iter_instances(self, query: InstanceQuery) -> AsyncIterator[InstanceRecord]:
        token: str | None = None
        while True:
            records, token = await self.query_instances(query, page_size=500, continuation=token)
            for record in records:
                yield record
            if not token:
                return

    async def delete_instance_row(self, instance_id: str) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            await self.instances.delete_entity(instance_id, "")

    # -- history --------------------------------------------------------------------------------

    @staticmethod
    def _history_key(execution_id: str, sequence: int) -> str:
        return f"{execution_id}.{sequence:08d}"

    async def _write_batches(self, table: TableClient, entities: list[dict[str, Any]]) -> None:
        if len(entities) == 1:  # a transaction costs far more than a single write
            await table.upsert_entity(entities[0], mode=UpdateMode.REPLACE)
            return
        batch: list[tuple[str, dict[str, Any]]] = []
        size = 0
        for entity in entities:
            entity_size = sum(len(str(v)) for v in entity.values()) * 2
            if batch and (len(batch) >= _MAX_BATCH_OPS or size + entity_size > _MAX_BATCH_BYTES):
                await table.submit_transaction(batch)
                batch, size = [], 0
            batch.append(("upsert", entity))
            size += entity_size
        if batch:
            await table.submit_transaction(batch)

    async def append_history(
        self, instance_id: str, execution_id: str, first_sequence: int, events: list[dict[str, Any]]
    ) -> None:
        """Append an episode's events: as few rows as fit (usually one row, one write).

        Each row holds a JSON array of consecutive events and is keyed by the sequence number
        of its first event, so the rows of all episodes sort in history order.
        """
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
            await self._pack(entity, "Events", text, f"{instance_id}/rows")
            entities.append(entity)
        await self._write_batches(self.history, entities)

    async def load_history(self, instance_id: str, execution_id: str) -> list[dict[str, Any]]:
        low = self._history_key(execution_id, 0)
        high = f"{execution_id}/"  # '/' sorts right after '.'
        query = (
            f"PartitionKey eq {_odata_quote(instance_id)} and "
            f"RowKey ge {_odata_quote(low)} and RowKey lt {_odata_quote(high)}"
        )
        events: list[dict[str, Any]] = []
        async for entity in self.history.query_entities(query):
            text = await self._unpack(entity, "Events")
            if text is not None:
                events.extend(json.loads(text))
        return events

    async def _delete_rows(self, table: TableClient, instance_id: str, keys: list[str]) -> None:
        for start in range(0, len(keys), _MAX_BATCH_OPS):
            await table.submit_transaction(
                [
                    ("delete", {"PartitionKey": instance_id, "RowKey": key})
                    for key in keys[start : start + _MAX_BATCH_OPS]
                ]
            )

    async def _delete_partition(self, table: TableClient, instance_id: str) -> None:
        keys = [
            entity["RowKey"]
            async for entity in table.query_entities(
                f"PartitionKey eq {_odata_quote(instance_id)}", select=["RowKey"]
            )
        ]
        await self._delete_rows(table, instance_id, keys)

    async def delete_history_except(self, instance_id: str, keep_execution_id: str) -> None:
        """Delete rows of earlier executions (after a restart or continue-as-new)."""
        query = f"PartitionKey eq {_odata_quote(instance_id)}"
        stale = [
            str(entity["RowKey"])
            async for entity in self.history.query_entities(query, select=["RowKey"])
            if not str(entity["RowKey"]).startswith(keep_execution_id + ".")
        ]
        await self._delete_rows(self.history, instance_id, stale)

    # -- messages -------------------------------------------------------------------------------

    async def add_messages(self, instance_id: str, messages: list[dict[str, Any]]) -> None:
        entities = []
        for message in messages:
            entity: dict[str, Any] = {
                "PartitionKey": instance_id,
                "RowKey": str(message["MessageId"]),
                "ExecutionId": str(message.get("ExecutionId", "")),
            }
            await self._pack(entity, "Event", json.dumps(message), f"{instance_id}/rows")
            entities.append(entity)
        await self._write_batches(self.messages, entities)

    async def load_messages(self, instance_id: str) -> list[dict[str, Any]]:
        messages = []
        async for entity in self.messages.query_entities(
            f"PartitionKey eq {_odata_quote(instance_id)}"
        ):
            text = await self._unpack(entity, "Event")
            if text is not None:
                messages.append(json.loads(text))
        messages.sort(key=lambda m: str(m.get("MessageId", "")))
        return messages

    async def delete_messages(self, instance_id: str, execution_id: str | None = None) -> None:
        """Delete an instance's messages; with `execution_id`, only those of that execution."""
        query = f"PartitionKey eq {_odata_quote(instance_id)}"
        if execution_id is not None:
            query += f" and ExecutionId eq {_odata_quote(execution_id)}"
        keys = [
            entity["RowKey"]
            async for entity in self.messages.query_entities(query, select=["RowKey"])
        ]
        await self._delete_rows(self.messages, instance_id, keys)

    async def instances_with_messages(self) -> set[str]:
        return {
            str(entity["PartitionKey"])
            async for entity in self.messages.query_entities(
                "RowKey ne ''", select=["PartitionKey"]
            )
        }

    # -- purge ----------------------------------------------------------------------------------

    async def purge(self, instance_id: str) -> None:
        """Delete everything stored for one instance."""
        await self._delete_partition(self.history, instance_id)
        await self._delete_partition(self.messages, instance_id)
        await self._delete_blobs(f"{instance_id}/")
        await self.delete_instance_row(instance_id)
