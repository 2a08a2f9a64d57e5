"""One orchestrator episode through the Durable SDK's own replay, and the work it asks for.

The SDK's `TaskOrchestrationExecutor` replays the history, resumes the generator and returns
the cumulative actions. Which task id each new action carries is the SDK's own numbering
(`open_tasks`), including the timers and reschedules it numbers for `*_with_retry` calls, so
the host schedules exactly what the replay will later look for.
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from azure.durable_functions.models.actions.CallActivityAction import CallActivityAction
from azure.durable_functions.models.actions.CallActivityWithRetryAction import (
    CallActivityWithRetryAction,
)
from azure.durable_functions.models.actions.CallSubOrchestratorAction import (
    CallSubOrchestratorAction,
)
from azure.durable_functions.models.actions.CallSubOrchestratorWithRetryAction import (
    CallSubOrchestratorWithRetryAction,
)
from azure.durable_functions.models.actions.CreateTimerAction import CreateTimerAction
from azure.durable_functions.models.actions.NoOpAction import NoOpAction
from azure.durable_functions.models.DurableOrchestrationContext import (
    DurableOrchestrationContext,
)
from azure.durable_functions.models.Task import TaskBase
from azure.durable_functions.orchestrator import Orchestrator

_OUT_OF_PROC_MARKER = "\n\n$OutOfProcData$:"


def _parse_timestamp(text: str) -> datetime:
    """The history timestamps this host writes are ISO 8601; parse them without dateutil.

    The SDK parses every event's timestamp with dateutil on every replay, which is most of
    the replay's cost (RUNTIME-FACTS.md); the result is the same datetime.
    """
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed: datetime = _dateutil_parse(text)
        return parsed


_history_event: Any = importlib.import_module("azure.durable_functions.models.history.HistoryEvent")
_dateutil_parse = _history_event.dt_parse
_history_event.dt_parse = _parse_timestamp

_ACTION_CONTINUE_AS_NEW = 4
_UNSUPPORTED_ACTIONS = {7: "call_entity", 8: "call_http", 9: "signal_entity"}
_RETRY_TIMER = "-WithRetry timer"
_RESCHEDULED = "rescheduled task"

ACTIVITY = "activity"
TIMER = "timer"
SUB_ORCHESTRATION = "suborchestration"


@dataclass
class Work:
    """Something the orchestrator scheduled in this episode, under the SDK's task id."""

    task_id: int
    kind: str
    name: str | None = None
    input: str | None = None  # JSON text
    fire_at: datetime | None = None
    instance_id: str | None = None


@dataclass
class Outcome:
    """What an episode produced."""

    done: bool = False
    output: Any = None
    error: str | None = None
    custom_status: Any = None
    continue_as_new: bool = False
    new_input: str | None = None
    work: list[Work] = field(default_factory=list)
    cancelled_timers: list[int] = field(default_factory=list)


def _flatten(actions: Any) -> Iterator[dict[str, Any]]:
    if isinstance(actions, list):
        for item in actions:
            yield from _flatten(item)
    elif isinstance(actions, dict):
        yield actions
        yield from _flatten(actions.get("compoundActions", []))


def _single_action(task: TaskBase) -> Any:
    action = task.action_repr
    if isinstance(action, list):
        return action[0] if action else None
    return action


def _work_for_action(task_id: int, action: Any) -> Work | None:
    if isinstance(action, CallActivityAction | CallActivityWithRetryAction):
        return Work(task_id, ACTIVITY, name=action.function_name, input=action.input_)
    if isinstance(action, CallSubOrchestratorAction | CallSubOrchestratorWithRetryAction):
        return Work(
            task_id,
            SUB_ORCHESTRATION,
            name=action.function_name,
            input=action._input,
            instance_id=action.instance_id,
        )
    if isinstance(action, CreateTimerAction):
        return None if action.is_cancelled else Work(task_id, TIMER, fire_at=action.fire_at)
    return None


def _work_for_retry(task_id: int, task: TaskBase, action: NoOpAction, now: datetime) -> Work | None:
    parent = task.parent
    options = getattr(parent, "retry_options", None)
    if parent is None or options is None:
        return None
    if action.metadata == _RETRY_TIMER:
        delay = timedelta(milliseconds=options.first_retry_interval_in_milliseconds)
        return Work(task_id, TIMER, fire_at=now + delay)
    if action.metadata == _RESCHEDULED:
        original = parent.actions[0] if isinstance(parent.actions, list) else parent.actions
        return _work_for_action(task_id, original)
    return None


def _open_tasks(context: DurableOrchestrationContext) -> Iterator[tuple[int, TaskBase]]:
    for key, value in list(context.open_tasks.items()):
        if not isinstance(key, int) or isinstance(key, bool):
            continue  # external events wait under their name, not an id
        for task in value if isinstance(value, list) else [value]:
            yield key, task


def replay(
    orchestrator: Callable[..., Any],
    input_type: type | None,
    context_json: str,
    scheduled_ids: set[int],
) -> Outcome:
    """Run one episode; `scheduled_ids` are the task ids the history already schedules."""
    context = DurableOrchestrationContext.from_json(context_json)
    context._input_expected_type = input_type
    outcome = Outcome()
    try:
        state = json.loads(Orchestrator(orchestrator).handle(context))
    except Exception as exc:
        text = str(exc)
        message, _, state_text = text.partition(_OUT_OF_PROC_MARKER)
        outcome.error = message.strip() or type(exc).__name__
        if state_text:
            with contextlib.suppress(ValueError):
                outcome.custom_status = json.loads(state_text).get("customStatus")
        return outcome

    outcome.custom_status = state.get("customStatus")
    for action in _flatten(state.get("actions", [])):
        action_type = action.get("actionType")
        if action_type in _UNSUPPORTED_ACTIONS:
            outcome.error = (
                f"{_UNSUPPORTED_ACTIONS[action_type]} is not supported by the standalone host"
            )
            return outcome
        if action_type == _ACTION_CONTINUE_AS_NEW:
            outcome.continue_as_new = True
            outcome.new_input = action.get("input")

    if state.get("isDone"):
        outcome.done = True
        outcome.output = state.get("output")
        return outcome

    now = context.current_utc_datetime
    for task_id, task in _open_tasks(context):
        action = _single_action(task)
        if task_id in scheduled_ids:
            if isinstance(action, CreateTimerAction) and action.is_cancelled:
                outcome.cancelled_timers.append(task_id)
            continue
        if isinstance(action, NoOpAction):
            work = _work_for_retry(task_id, task, action, now)
        else:
            work = _work_for_action(task_id, action)
        if work is not None:
            outcome.work.append(work)
    outcome.work.sort(key=lambda w: w.task_id)
    return outcome
