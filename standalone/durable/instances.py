"""An unfinished orchestration instance in memory, and the events an episode adds to its history.

Pure functions of the instance and the messages at hand; the engine stores what they make.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from standalone.app_loader import FunctionEntry
from standalone.durable.history import (
    SCHEDULING_TYPES,
    Event,
    EventType,
    completion_id,
    event,
    iso,
    message,
    parse_iso,
)
from standalone.durable.replay import ACTIVITY, SUB_ORCHESTRATION, TIMER, Work
from standalone.durable.store import COMPLETED, FAILED, InstanceRecord

log = logging.getLogger(__name__)


@dataclass
class LiveInstance:
    """An unfinished instance held in memory between episodes."""

    record: InstanceRecord
    entry: FunctionEntry | None
    history: list[Event] = field(default_factory=list)
    scheduled: dict[int, Event] = field(default_factory=dict)
    completed: set[int] = field(default_factory=set)
    message_ids: set[str] = field(default_factory=set)

    def index(self, events: list[Event]) -> None:
        for evt in events:
            evt["IsPlayed"] = True
            kind = evt["EventType"]
            if kind in SCHEDULING_TYPES:
                self.scheduled[int(evt["EventId"])] = evt
            task_id = completion_id(evt)
            if task_id is not None:
                self.completed.add(task_id)
            message_id = evt.get("MessageId")
            if message_id:
                self.message_ids.add(str(message_id))
        self.history.extend(events)

    @property
    def last_timestamp(self) -> datetime | None:
        return parse_iso(self.history[-1]["Timestamp"]) if self.history else None


def new_events(
    live: LiveInstance, batch: list[Event], now: datetime
) -> tuple[list[Event], Event | None]:
    record = live.record
    new = [event(EventType.ORCHESTRATOR_STARTED, now)]
    if not live.history:
        parent = record.parent or {}
        new.append(
            event(
                EventType.EXECUTION_STARTED,
                now,
                Name=record.name,
                Version=record.version or "",
                Input=record.input,
                OrchestrationInstance={
                    "InstanceId": record.instance_id,
                    "ExecutionId": record.execution_id,
                },
                ParentInstance=parent.get("instanceId"),
            )
        )
    terminate: Event | None = None
    for msg in batch:
        if msg.get("ExecutionId") not in (None, record.execution_id):
            continue  # meant for an earlier execution of this instance id
        if msg["MessageId"] in live.message_ids:
            continue  # already applied before a restart
        live.message_ids.add(msg["MessageId"])
        if msg["EventType"] == EventType.EXECUTION_TERMINATED:
            terminate = terminate or msg
            continue
        task_id = completion_id(msg)
        if task_id is not None:
            if task_id not in live.scheduled or task_id in live.completed:
                log.debug("%s: dropping answer to task %s", record.instance_id, task_id)
                continue
            live.completed.add(task_id)
        new.append({**msg, "EventId": -1, "IsPlayed": False, "Timestamp": iso(now)})
    return new, terminate


def scheduling_events(live: LiveInstance, work: list[Work], now: datetime) -> list[Event]:
    """The history events that record the work an episode scheduled."""
    events = []
    for item in work:
        fields: dict[str, Any]
        if item.kind == ACTIVITY:
            kind, fields = EventType.TASK_SCHEDULED, {"Name": item.name, "Input": item.input}
        elif item.kind == TIMER:
            assert item.fire_at is not None
            kind, fields = EventType.TIMER_CREATED, {"FireAt": iso(item.fire_at)}
        elif item.kind == SUB_ORCHESTRATION:
            item.instance_id = item.instance_id or f"{live.record.instance_id}:{item.task_id}"
            kind = EventType.SUB_ORCHESTRATION_CREATED
            fields = {"Name": item.name, "InstanceId": item.instance_id, "Input": item.input}
        else:
            continue
        events.append(event(kind, now, item.task_id, **fields))
    return events


def child_answer(child: InstanceRecord) -> Event:
    parent = child.parent or {}
    if child.status == COMPLETED:
        return message(
            EventType.SUB_ORCHESTRATION_COMPLETED,
            TaskScheduledId=parent["taskId"],
            Result=child.output,
            ExecutionId=parent["executionId"],
        )
    reason = json.loads(child.output) if child.output else child.status
    return message(
        EventType.SUB_ORCHESTRATION_FAILED,
        TaskScheduledId=parent["taskId"],
        Reason=str(reason)
        if child.status == FAILED
        else f"Sub-orchestration {child.status.lower()}: {reason}",
        Details="",
        ExecutionId=parent["executionId"],
    )
