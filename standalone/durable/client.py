"""Client operations of the Durable runtime: start, raise event, terminate, status, purge.

They write to storage and then notify the engine, which may live in another process: as in
Azure, where a client enqueues work for the task hub's workers. A start is answered once the
instance row exists (atomically refusing an active duplicate); an event once it is stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from standalone.durable.history import Event, EventType, message
from standalone.durable.store import (
    PENDING,
    TERMINAL_STATES,
    DurableStore,
    InstanceQuery,
    InstanceRecord,
    new_execution_id,
)

log = logging.getLogger(__name__)

_INSTANCE_ID = re.compile(r"^[^/\\#?\x00-\x1f\x7f-\x9f]{1,256}$")

# What the engine is told: ("start", instance id, the new instance's record) or
# ("message", instance id, event). A start carries its record so that the engine need not read
# back the row and the (empty) history that were just written.
Command = tuple[Any, ...]
Notify = Callable[[Command], None]


class UnknownOrchestratorError(Exception):
    """A start named a function that is not an orchestrator of this app."""


class InvalidInstanceIdError(ValueError):
    """An instance id that Durable Functions does not allow."""


class InstanceNotFoundError(Exception):
    """No instance with this id."""


class InstanceGoneError(Exception):
    """The instance has already finished (completed, failed or terminated)."""


class InstanceActiveError(Exception):
    """The operation needs a finished instance."""


def validate_instance_id(instance_id: str) -> str:
    if not _INSTANCE_ID.match(instance_id) or instance_id.strip() != instance_id:
        raise InvalidInstanceIdError(
            "instance id must be 1-256 characters without '/', '\\', '#', '?', control "
            "characters or surrounding spaces"
        )
    return instance_id


class DurableClient:
    """What `DurableOrchestrationClient` (through the HTTP API) can ask of the task hub."""

    def __init__(
        self,
        store: DurableStore,
        orchestrators: set[str],
        notify: Notify,
        refuse_running_instances: bool = True,
    ) -> None:
        self.store = store
        self.orchestrators = orchestrators
        self.notify = notify
        self.refuse_running_instances = refuse_running_instances
        self._cleanups: set[asyncio.Task[None]] = set()

    async def start_instance(
        self,
        name: str,
        instance_id: str,
        input_json: str | None,
        parent: dict[str, Any] | None = None,
        version: str | None = None,
    ) -> InstanceRecord:
        """Create an instance (refusing an active duplicate atomically) and hand it over."""
        if name not in self.orchestrators:
            raise UnknownOrchestratorError(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator "
                "function."
            )
        validate_instance_id(instance_id)
        record = InstanceRecord(
            instance_id=instance_id,
            name=name,
            status=PENDING,
            execution_id=new_execution_id(),
            input=input_json,
            parent=parent,
            version=version,
        )
        replaced = await self.store.create_instance(record, self.refuse_running_instances)
        if replaced is not None:
            task = asyncio.create_task(
                self.delete_stale(instance_id, record.execution_id, replaced.execution_id)
            )
            self._cleanups.add(task)
            task.add_done_callback(self._cleanups.discard)
        log.info("orchestration %s started (instance %s)", name, instance_id)
        self.notify(("start", instance_id, record))
        return record

    async def delete_stale(self, instance_id: str, keep: str, old_execution: str) -> None:
        """Delete what an earlier execution of this instance id left behind."""
        try:
            await self.store.delete_history_except(instance_id, keep)
            await self.store.delete_messages(instance_id, old_execution)
        except Exception:
            log.exception("cleaning up the earlier execution of %s failed", instance_id)

    async def get_instance(
        self, instance_id: str, with_input: bool = True
    ) -> InstanceRecord | None:
        return await self.store.get_instance(instance_id, with_input)

    async def get_history(self, record: InstanceRecord) -> list[Event]:
        return await self.store.load_history(record.instance_id, record.execution_id)

    async def _active_record(self, instance_id: str) -> InstanceRecord:
        record = await self.store.get_instance(instance_id, with_input=False)
        if record is None:
            raise InstanceNotFoundError(instance_id)
        if not record.is_active:
            raise InstanceGoneError(instance_id)
        return record

    async def _send(self, instance_id: str, event: Event) -> None:
        await self.store.add_messages(instance_id, [event])  # stored first: never lost
        self.notify(("message", instance_id, event))

    async def raise_event(self, instance_id: str, name: str, data_json: str | None) -> None:
        record = await self._active_record(instance_id)
        await self._send(
            instance_id,
            message(
                EventType.EVENT_RAISED, Name=name, Input=data_json, ExecutionId=record.execution_id
            ),
        )

    async def terminate(self, instance_id: str, reason: str) -> None:
        record = await self._active_record(instance_id)
        await self._send(
            instance_id,
            message(
                EventType.EXECUTION_TERMINATED,
                Input=json.dumps(reason),
                ExecutionId=record.execution_id,
            ),
        )

    async def purge(self, instance_id: str) -> None:
        record = await self.store.get_instance(instance_id, with_input=False)
        if record is None:
            raise InstanceNotFoundError(instance_id)
        if record.is_active:
            raise InstanceActiveError(
                f"instance {instance_id} is {record.status}; terminate it first"
            )
        await self.store.purge(instance_id)

    async def purge_where(self, query: InstanceQuery) -> int:
        statuses = [s for s in (query.statuses or TERMINAL_STATES) if s in TERMINAL_STATES]
        query = InstanceQuery(statuses, query.created_from, query.created_to, query.id_prefix)
        victims = [record.instance_id async for record in self.store.iter_instances(query)]
        for instance_id in victims:
            await self.store.purge(instance_id)
        return len(victims)
