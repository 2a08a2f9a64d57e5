"""History events in the shape the Durable SDK's replay reads (`EventType` numbers, PascalCase)."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

Event = dict[str, Any]


class EventType(IntEnum):
    """The DurableTask history event types, numbered as the SDK's HistoryEventType."""

    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    EXECUTION_FAILED = 2
    EXECUTION_TERMINATED = 3
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_CREATED = 7
    SUB_ORCHESTRATION_COMPLETED = 8
    SUB_ORCHESTRATION_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_SENT = 14
    EVENT_RAISED = 15
    CONTINUE_AS_NEW = 16


# Events that answer a scheduled task, and the field holding the task id they answer.
COMPLETION_ID_FIELD = {
    EventType.TASK_COMPLETED: "TaskScheduledId",
    EventType.TASK_FAILED: "TaskScheduledId",
    EventType.SUB_ORCHESTRATION_COMPLETED: "TaskScheduledId",
    EventType.SUB_ORCHESTRATION_FAILED: "TaskScheduledId",
    EventType.TIMER_FIRED: "TimerId",
}
SCHEDULING_TYPES = frozenset(
    {EventType.TASK_SCHEDULED, EventType.TIMER_CREATED, EventType.SUB_ORCHESTRATION_CREATED}
)

_counter = itertools.count()
_counter_lock = threading.Lock()


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, as the extension writes timestamps."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def new_message_id() -> str:
    """Sortable, unique in this process and across restarts (time first)."""
    with _counter_lock:
        sequence = next(_counter)
    return f"{time.time_ns():020d}-{sequence:08d}"


def event(event_type: EventType, timestamp: datetime, event_id: int = -1, **fields: Any) -> Event:
    return {
        "EventType": int(event_type),
        "EventId": event_id,
        "IsPlayed": False,
        "Timestamp": iso(timestamp),
        **fields,
    }


def message(event_type: EventType, **fields: Any) -> Event:
    """An event that happened outside the orchestrator; timestamped when it enters history."""
    return {"EventType": int(event_type), "MessageId": new_message_id(), **fields}


def completion_id(evt: Event) -> int | None:
    """The task id an event completes, or None when it completes no scheduled task."""
    id_field = COMPLETION_ID_FIELD.get(EventType(evt["EventType"]))
    if id_field is None:
        return None
    value = evt.get(id_field)
    return int(value) if value is not None else None


def friendly(evt: Event, with_output: bool) -> dict[str, Any]:
    """A history event as the status API's `historyEvents` shows it."""
    kind = EventType(evt["EventType"])
    shown: dict[str, Any] = {
        "EventType": "".join(part.capitalize() for part in kind.name.split("_")),
        "Timestamp": evt.get("Timestamp"),
    }
    if kind == EventType.SUB_ORCHESTRATION_CREATED:
        shown["EventType"] = "SubOrchestrationInstanceCreated"
    elif kind == EventType.SUB_ORCHESTRATION_COMPLETED:
        shown["EventType"] = "SubOrchestrationInstanceCompleted"
    elif kind == EventType.SUB_ORCHESTRATION_FAILED:
        shown["EventType"] = "SubOrchestrationInstanceFailed"
    for key in ("Name", "InstanceId", "Reason", "Details", "FireAt", "OrchestrationStatus"):
        if evt.get(key) is not None:
            shown["FunctionName" if key == "Name" else key] = evt[key]
    for key in ("EventId", "TaskScheduledId", "TimerId"):
        if evt.get(key, -1) != -1 and evt.get(key) is not None:
            shown[key] = evt[key]
    if with_output:
        for key in ("Result", "Input"):
            if evt.get(key) is not None:
                shown[key] = evt[key]
    return shown
