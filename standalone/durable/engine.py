"""The orchestration engine: episodes, activities, timers, events and sub-orchestrations.

Everything runs on one asyncio loop except user code: activities run in the worker processes
(work.py starts them, and timers and sub-orchestrations), replays in a thread pool sized by
`maxConcurrentOrchestratorFunctions`. Each instance has an inbox; every message that is ready
when an episode starts is folded into that one episode (never one replay per completion),
which keeps a fan-out of N activities linear instead of quadratic.

Durability order: an episode appends its history before it updates the instance row and
before it dispatches new work. Messages from clients (raised events, terminations) are stored
by the client before the engine hears of them. Answers the engine makes itself (activity
results, timers fired, sub-orchestrations ended) go straight to the inbox: each can be made
again from the history. After a crash, recovery reloads every Pending/Running instance,
re-applies stored client messages that the history lacks and re-dispatches work that was
scheduled but never answered in the history (activities are at-least-once, as in Azure).

Over 400 lines on purpose: one class owns the in-memory state of every live instance (inbox,
drivers, restarts) and every method here reads or changes it; the stateless parts live in
instances.py (history events) and work.py (activities, timers, sub-orchestrations).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from standalone.app_loader import AppIndex
from standalone.durable.client import Command, DurableClient
from standalone.durable.history import (
    Event,
    EventType,
    completion_id,
    event,
    iso,
    parse_iso,
)
from standalone.durable.instances import (
    LiveInstance,
    child_answer,
    new_events,
    scheduling_events,
)
from standalone.durable.replay import SUB_ORCHESTRATION, Outcome, Work, replay
from standalone.durable.store import (
    ACTIVE_STATES,
    COMPLETED,
    FAILED,
    PENDING,
    RUNNING,
    TERMINAL_STATES,
    TERMINATED,
    DurableStore,
    InstanceQuery,
    InstanceRecord,
    new_execution_id,
    utcnow,
)
from standalone.durable.work import ActivityRunner, WorkRunner

log = logging.getLogger(__name__)

# Wait this long before an episode so that completions arriving together share one replay.
GATHER_SECONDS = 0.003
RETRY_AFTER_STORAGE_ERROR_S = 1.0
UPPER_SCHEMA_VERSION = 2  # replay schema V3: flat action list with compound actions


class DurableEngine:
    """Runs the app's orchestrations and activities against a DurableStore."""

    def __init__(
        self,
        store: DurableStore,
        index: AppIndex,
        run_activity: ActivityRunner,
        max_orchestrators: int,
        refuse_running_instances: bool = True,
    ) -> None:
        self.store = store
        self.index = index
        # Sub-orchestrations are started like any client start, told to this engine directly.
        self.client = DurableClient(
            store, set(index.orchestrators), self.handle, refuse_running_instances
        )
        self._replay_pool = ThreadPoolExecutor(max_orchestrators, thread_name_prefix="replay")
        self._max_orchestrators = max_orchestrators
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._live: dict[str, LiveInstance] = {}
        self._inbox: dict[str, list[Event]] = defaultdict(list)
        self._driving: set[str] = set()
        # Ids started (again) since their driver last looked: it must load them, not stop.
        self._restarted: set[str] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self.work = WorkRunner(
            index.activities,
            run_activity,
            self.client,
            self._deliver,
            self._spawn,
            lambda: self.loop,
            lambda: self._stopping,
        )

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None, "engine not started"
        return self._loop

    async def start(self) -> None:
        """Open storage and resume every unfinished orchestration."""
        self._loop = asyncio.get_running_loop()
        self._slots = asyncio.Semaphore(self._max_orchestrators)
        await self.store.open()
        await self._recover()

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop taking work; let running episodes and message writes finish (bounded)."""
        self._stopping = True
        self.work.stop()
        pending = [t for t in self._background if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=grace_seconds)
        self._replay_pool.shutdown(wait=False, cancel_futures=True)

    def _spawn(self, coroutine: Awaitable[Any], what: str) -> None:
        async def guarded() -> None:
            try:
                await coroutine
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("durable engine: %s failed", what)

        task = self.loop.create_task(guarded())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- commands from the client side (possibly another process) ----------------------------

    def handle(self, command: Command) -> None:
        """A client stored something for an instance: run its episodes."""
        if command[0] == "start":
            instance_id, record = command[1], command[2]
            self._forget(instance_id)  # a restarted id: drop the earlier execution
            # A new execution has no history yet: no need to read back what was just written.
            self._live[instance_id] = LiveInstance(
                record, self.index.orchestrators.get(record.name)
            )
            self._restarted.add(instance_id)
            self._wake(instance_id)
        elif command[0] == "message":
            instance_id, event = command[1], command[2]
            self._inbox[instance_id].append(event)
            self._wake(instance_id)

    # -- messages -------------------------------------------------------------------------------

    def _deliver(self, instance_id: str, msg: Event) -> None:
        """Hand an answer the engine made (activity result, timer, child's end) to the inbox.

        Not stored: until an episode puts it in the history, recovery can make it again.
        """
        self._inbox[instance_id].append(msg)
        self._wake(instance_id)

    def _wake(self, instance_id: str) -> None:
        if self._stopping or instance_id in self._driving:
            return
        self._driving.add(instance_id)
        self._spawn(self._drive(instance_id), f"orchestration {instance_id}")

    async def _drive(self, instance_id: str) -> None:
        assert self._slots is not None
        try:
            async with self._slots:
                while not self._stopping:
                    self._restarted.discard(instance_id)
                    live = self._live.get(instance_id) or await self._load(instance_id)
                    if live is None or not live.record.is_active:
                        self._inbox.pop(instance_id, None)
                        return
                    if live.history and not self._inbox.get(instance_id):
                        return
                    await asyncio.sleep(GATHER_SECONDS)
                    batch = self._inbox.pop(instance_id, [])
                    try:
                        await self._episode(live, batch)
                        if not live.record.is_active and instance_id not in self._restarted:
                            return  # ended, and not started again meanwhile: nothing to load
                    except Exception:
                        log.exception("episode of %s failed; retrying", instance_id)
                        self._forget(instance_id)  # reload from storage: it is the truth
                        self._inbox[instance_id][:0] = batch
                        await asyncio.sleep(RETRY_AFTER_STORAGE_ERROR_S)
        finally:
            self._driving.discard(instance_id)
            if self._inbox.get(instance_id) and not self._stopping:
                self._wake(instance_id)

    async def _load(self, instance_id: str) -> LiveInstance | None:
        record = await self.store.get_instance(instance_id)
        if record is None:
            return None
        live = LiveInstance(record, self.index.orchestrators.get(record.name))
        if record.is_active:
            live.index(await self.store.load_history(instance_id, record.execution_id))
            self._live[instance_id] = live
        return live

    def _forget(self, instance_id: str) -> None:
        self._live.pop(instance_id, None)
        self._inbox.pop(instance_id, None)
        self.work.forget(instance_id)

    # -- episodes -------------------------------------------------------------------------------

    async def _episode(self, live: LiveInstance, batch: list[Event]) -> None:
        record = live.record
        now = utcnow()
        last = live.last_timestamp
        if last is not None and now <= last:
            now = last + timedelta(microseconds=1)  # orchestration time never goes back
        new, terminate = new_events(live, batch, now)
        shown_before = (record.status, record.custom_status, record.output)
        if record.status == PENDING:
            record.status = RUNNING

        outcome: Outcome
        if terminate is not None:
            reason = json.loads(terminate.get("Input") or '""')
            new.append({**terminate, "EventId": -1, "IsPlayed": False, "Timestamp": iso(now)})
            outcome = Outcome(done=True, output=reason)
            final_status = TERMINATED
        elif live.entry is None:
            outcome = Outcome(error=f"The orchestrator function '{record.name}' no longer exists")
            final_status = FAILED
        else:
            context = {
                "history": live.history + new,
                "instanceId": record.instance_id,
                "isReplaying": bool(live.history),
                "parentInstanceId": (record.parent or {}).get("instanceId"),
                "input": record.input,
                "upperSchemaVersion": UPPER_SCHEMA_VERSION,
            }
            entry = live.entry
            user_fn = getattr(entry.fn, "orchestrator_function", entry.fn)
            input_type = getattr(entry.fn, "_df_input_type", None)
            outcome = await self.loop.run_in_executor(
                self._replay_pool,
                replay,
                user_fn,
                input_type,
                json.dumps(context),
                set(live.scheduled),
            )
            final_status = FAILED if outcome.error is not None else COMPLETED

        if outcome.custom_status is not None or terminate is None:
            status = outcome.custom_status
            record.custom_status = None if status is None else json.dumps(status)

        if outcome.error is not None:
            record.status = FAILED
            record.output = json.dumps(
                f"Orchestrator function '{record.name}' failed: {outcome.error}"
            )
        elif outcome.done and outcome.continue_as_new:
            await self._continue_as_new(live, new, outcome.new_input, now)
            return
        elif outcome.done:
            record.status = final_status
            record.output = json.dumps(outcome.output)
        else:
            new.extend(scheduling_events(live, outcome.work, now))

        if record.status in TERMINAL_STATES:
            new.append(
                event(
                    EventType.EXECUTION_COMPLETED,
                    now,
                    OrchestrationStatus=record.status,
                    Result=record.output,
                )
            )
        new.append(event(EventType.ORCHESTRATOR_COMPLETED, now))

        await self.store.append_history(
            record.instance_id, record.execution_id, len(live.history), new
        )
        # The instance row only shows status, custom status and output: skip the write when
        # the episode changed none of them.
        if (record.status, record.custom_status, record.output) != shown_before:
            await self.store.save_instance(record)
        live.index(new)

        if record.status in TERMINAL_STATES:
            log.info(
                "orchestration %s %s (instance %s)",
                record.name,
                record.status.lower(),
                record.instance_id,
            )
            self._finish(live)
            return
        for task_id in outcome.cancelled_timers:
            self.work.cancel_timer(record.instance_id, task_id)
        for work in outcome.work:
            self.work.dispatch(record, work)

    async def _continue_as_new(
        self, live: LiveInstance, new: list[Event], new_input: str | None, now: datetime
    ) -> None:
        record = live.record
        new.append(
            event(
                EventType.EXECUTION_COMPLETED,
                now,
                OrchestrationStatus="ContinuedAsNew",
                Result=new_input,
            )
        )
        new.append(event(EventType.ORCHESTRATOR_COMPLETED, now))
        await self.store.append_history(
            record.instance_id, record.execution_id, len(live.history), new
        )
        old_execution = record.execution_id
        record.execution_id = new_execution_id()
        record.input = new_input
        record.output = None
        record.status = RUNNING
        await self.store.save_instance(record)
        self._forget(record.instance_id)
        self._live[record.instance_id] = LiveInstance(record, live.entry)
        self._spawn(
            self.client.delete_stale(record.instance_id, record.execution_id, old_execution),
            "continue-as-new cleanup",
        )
        self._wake(record.instance_id)

    def _finish(self, live: LiveInstance) -> None:
        # Its stored messages stay until the instance is restarted, purged or the host starts:
        # deleting them now would cost two more storage calls on every orchestration's path.
        record = live.record
        self._forget(record.instance_id)
        parent = record.parent
        if parent:
            self._deliver(parent["instanceId"], child_answer(record))

    # -- work -----------------------------------------------------------------------------------

    # -- recovery -------------------------------------------------------------------------------

    async def _recover(self) -> None:
        """Resume every unfinished instance after a (re)start of the host."""
        resumed = 0
        active_ids: set[str] = set()
        async for record in self.store.iter_instances(
            InstanceQuery(statuses=sorted(ACTIVE_STATES))
        ):
            active_ids.add(record.instance_id)
            try:
                await self._resume(record.instance_id)
                resumed += 1
            except Exception:
                log.exception("could not resume instance %s", record.instance_id)
        for instance_id in await self.store.instances_with_messages() - active_ids:
            self._spawn(self.store.delete_messages(instance_id), f"stale messages of {instance_id}")
        if resumed:
            log.info("resumed %d unfinished orchestration(s)", resumed)

    async def _resume(self, instance_id: str) -> None:
        live = await self._load(instance_id)
        if live is None or not live.record.is_active:
            return
        record = live.record
        ended = next(
            (e for e in reversed(live.history) if e["EventType"] == EventType.EXECUTION_COMPLETED),
            None,
        )
        if ended is not None:
            # The history was written but the instance row was not: finish the row now.
            record.status = str(ended.get("OrchestrationStatus", FAILED))
            record.output = ended.get("Result")
            await self.store.save_instance(record)
            self._finish(live)
            return
        stored = [
            m
            for m in await self.store.load_messages(instance_id)
            if m.get("ExecutionId") in (None, record.execution_id)
            and m["MessageId"] not in live.message_ids
        ]
        answered = {task_id for m in stored if (task_id := completion_id(m)) is not None}
        self._inbox[instance_id].extend(stored)
        for task_id, scheduled in live.scheduled.items():
            if task_id in live.completed or task_id in answered:
                continue
            kind = scheduled["EventType"]
            if kind == EventType.TASK_SCHEDULED:
                self.work.start_activity(
                    instance_id,
                    record.execution_id,
                    task_id,
                    scheduled.get("Name", ""),
                    scheduled.get("Input"),
                )
            elif kind == EventType.TIMER_CREATED:
                self.work.arm_timer(
                    instance_id, record.execution_id, task_id, parse_iso(scheduled["FireAt"])
                )
            elif kind == EventType.SUB_ORCHESTRATION_CREATED:
                await self._resume_child(record, task_id, scheduled)
        self._wake(instance_id)

    async def _resume_child(self, parent: InstanceRecord, task_id: int, scheduled: Event) -> None:
        child_id = str(scheduled["InstanceId"])
        child = await self.store.get_instance(child_id, with_input=False)
        link = {
            "instanceId": parent.instance_id,
            "executionId": parent.execution_id,
            "taskId": task_id,
        }
        if child is not None and child.parent == link:
            if child.status in TERMINAL_STATES:
                self._deliver(parent.instance_id, child_answer(child))
            return  # still running: it answers when it ends
        work = Work(
            task_id,
            SUB_ORCHESTRATION,
            scheduled.get("Name"),
            scheduled.get("Input"),
            instance_id=child_id,
        )
        await self.work.start_child(parent, work)
