"""The work an episode schedules: activities (in the worker processes), durable timers and
sub-orchestrations. Each answer goes to the instance's inbox through `deliver`."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from standalone.app_loader import FunctionEntry
from standalone.durable.client import DurableClient
from standalone.durable.history import Event, EventType, iso, message
from standalone.durable.replay import ACTIVITY, SUB_ORCHESTRATION, TIMER, Work
from standalone.durable.store import InstanceRecord, utcnow
from standalone.workers import ActivityError, WorkerLostError

log = logging.getLogger(__name__)

# Runs an activity by name with its input JSON; the future holds the result JSON, or raises
# ActivityError (the activity raised) or WorkerLostError (run it again).
ActivityRunner = Callable[[str, str | None], Future[str]]


def fut_input(fut: Future[str]) -> str | None:
    """The input an activity future was started with (kept on the future by `start_activity`)."""
    return getattr(fut, "activity_input", None)


@dataclass
class WorkRunner:
    """Starts the work of episodes and hands every answer to `deliver`."""

    activities: dict[str, FunctionEntry]
    run_activity: ActivityRunner
    client: DurableClient
    deliver: Callable[[str, Event], None]
    spawn: Callable[[Awaitable[Any], str], None]
    _loop: Callable[[], asyncio.AbstractEventLoop]
    stopping: Callable[[], bool]
    timers: dict[str, dict[int, asyncio.TimerHandle]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    running: int = 0

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop()

    def cancel_timer(self, instance_id: str, task_id: int) -> None:
        handle = self.timers[instance_id].pop(task_id, None)
        if handle is not None:
            handle.cancel()

    def forget(self, instance_id: str) -> None:
        """Cancel the instance's timers (it ended, or is reloaded from storage)."""
        for handle in self.timers.pop(instance_id, {}).values():
            handle.cancel()

    def stop(self) -> None:
        for handles in self.timers.values():
            for handle in handles.values():
                handle.cancel()
        self.timers.clear()

    def dispatch(self, record: InstanceRecord, work: Work) -> None:
        if work.kind == ACTIVITY:
            self.start_activity(
                record.instance_id, record.execution_id, work.task_id, work.name or "", work.input
            )
        elif work.kind == TIMER:
            assert work.fire_at is not None
            self.arm_timer(record.instance_id, record.execution_id, work.task_id, work.fire_at)
        elif work.kind == SUB_ORCHESTRATION:
            self.spawn(self.start_child(record, work), f"sub-orchestration of {record.instance_id}")

    def start_activity(
        self, instance_id: str, execution_id: str, task_id: int, name: str, input_json: str | None
    ) -> None:
        entry = self.activities.get(name)
        if entry is None:
            self.deliver(
                instance_id,
                message(
                    EventType.TASK_FAILED,
                    TaskScheduledId=task_id,
                    Reason=(
                        f"The function '{name}' doesn't exist, is disabled, or is not an "
                        "activity function."
                    ),
                    Details="",
                    ExecutionId=execution_id,
                ),
            )
            return
        self.running += 1
        future = self.run_activity(name, input_json)
        future.activity_input = input_json  # type: ignore[attr-defined]

        def done(fut: Future[str]) -> None:
            if not self.loop.is_closed():
                self.loop.call_soon_threadsafe(
                    self._activity_done, instance_id, execution_id, task_id, name, fut
                )

        future.add_done_callback(done)

    def _activity_done(
        self, instance_id: str, execution_id: str, task_id: int, name: str, fut: Future[str]
    ) -> None:
        self.running -= 1
        if fut.cancelled():
            return  # host stopping: recovery runs it again
        exc = fut.exception()
        if isinstance(exc, WorkerLostError):
            if not self.stopping():  # at-least-once: run it again in a live worker
                log.warning(
                    "activity %s of %s lost with its worker; running it again", name, instance_id
                )
                self.start_activity(instance_id, execution_id, task_id, name, fut_input(fut))
            return
        if exc is None:
            msg = message(
                EventType.TASK_COMPLETED,
                TaskScheduledId=task_id,
                Result=fut.result(),
                ExecutionId=execution_id,
            )
        else:
            kind = exc.type_name if isinstance(exc, ActivityError) else type(exc).__name__
            log.warning("activity %s of %s failed: %s: %s", name, instance_id, kind, exc)
            msg = message(
                EventType.TASK_FAILED,
                TaskScheduledId=task_id,
                Reason=f"Activity function '{name}' failed: {kind}: {exc}",
                Details="",
                ExecutionId=execution_id,
            )
        self.deliver(instance_id, msg)

    def arm_timer(
        self, instance_id: str, execution_id: str, task_id: int, fire_at: datetime
    ) -> None:
        delay = max(0.0, (fire_at - utcnow()).total_seconds())

        def fire() -> None:
            self.timers[instance_id].pop(task_id, None)
            self.deliver(
                instance_id,
                message(
                    EventType.TIMER_FIRED,
                    TimerId=task_id,
                    FireAt=iso(fire_at),
                    ExecutionId=execution_id,
                ),
            )

        self.timers[instance_id][task_id] = self.loop.call_later(delay, fire)

    async def start_child(self, parent: InstanceRecord, work: Work) -> None:
        link = {
            "instanceId": parent.instance_id,
            "executionId": parent.execution_id,
            "taskId": work.task_id,
        }
        child_id = work.instance_id or f"{parent.instance_id}:{work.task_id}"
        try:
            await self.client.start_instance(work.name or "", child_id, work.input, parent=link)
        except Exception as exc:
            self.deliver(
                parent.instance_id,
                message(
                    EventType.SUB_ORCHESTRATION_FAILED,
                    TaskScheduledId=work.task_id,
                    Reason=f"Sub-orchestration '{work.name}' could not start: {exc}",
                    Details="",
                    ExecutionId=parent.execution_id,
                ),
            )
