"""Fire the app's timer-triggered functions on their NCRONTAB schedules (UTC).

NCRONTAB has six fields, seconds first (`*/5 * * * * *`); a `hh:mm:ss` TimeSpan means a fixed
interval; `%NAME%` takes the schedule from a setting. As in Azure: one invocation of a function
at a time, `runOnStartup` honoured, and a schedule missed while the host was down fires once
at start with `past_due` set (the last and next occurrences are kept in the host's storage).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from azure.functions.timer import TimerRequest

from common import cron
from common.storage import Table
from standalone.app_loader import FunctionEntry
from standalone.durable.history import iso
from standalone.invoker import invoke
from standalone.settings import resolve_setting_refs

log = logging.getLogger(__name__)

_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$")
# A timer may wake a little early; never run an occurrence twice because of it.
_EARLY_WAKE_S = 0.001


class ScheduleError(ValueError):
    """A schedule expression this host cannot use."""


class Schedule:
    """An NCRONTAB expression or a TimeSpan interval."""

    def __init__(self, expression: str) -> None:
        self.expression = expression.strip()
        self.interval: timedelta | None = None
        found = _TIMESPAN.match(self.expression)
        if found:
            days, hours, minutes, seconds = (int(g or 0) for g in found.groups())
            self.interval = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
            if self.interval <= timedelta(0):
                raise ScheduleError(f"interval {expression!r} must be positive")
            return
        if len(self.expression.split()) != 6:
            raise ScheduleError(
                f"schedule {expression!r} must have 6 fields (second minute hour day month "
                "day-of-week) or be an hh:mm:ss interval"
            )
        if not cron.is_valid(self.expression, fields=(6,)):
            raise ScheduleError(f"schedule {expression!r} is not a valid NCRONTAB expression")

    def next_after(self, moment: datetime) -> datetime:
        if self.interval is not None:
            return moment + self.interval
        return cron.next_occurrence(self.expression, moment)


class TimerTriggers:
    """One asyncio task per timer function."""

    def __init__(
        self,
        functions: list[FunctionEntry],
        status_table: Table,
        app_key: str,
        client_binding: Callable[[], str],
        executor: ThreadPoolExecutor,
    ) -> None:
        self.functions = functions
        self.table = status_table
        self.app_key = app_key
        self.client_binding = client_binding
        self.executor = executor
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        if not self.functions:
            return
        for entry in self.functions:
            expression = resolve_setting_refs(str(entry.trigger.get("schedule", "")))
            try:
                schedule = Schedule(expression)
            except ScheduleError as exc:
                log.error("timer function %s is not scheduled: %s", entry.name, exc)
                continue
            self._tasks.append(asyncio.create_task(self._run(entry, schedule)))
            log.info("timer function %s scheduled: %s", entry.name, schedule.expression)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def _load_status(self, name: str) -> tuple[datetime | None, datetime | None]:
        loop = asyncio.get_running_loop()
        entity = await loop.run_in_executor(self.executor, self.table.get, self.app_key, name)
        if entity is None:
            return None, None
        return entity.get("Last"), entity.get("Next")

    async def _save_status(self, name: str, last: datetime, following: datetime) -> None:
        entity = {"PartitionKey": self.app_key, "RowKey": name, "Last": last, "Next": following}
        try:
            await asyncio.get_running_loop().run_in_executor(
                self.executor, self.table.upsert, entity
            )
        except Exception:
            log.exception("could not record the schedule status of %s", name)

    async def _run(self, entry: FunctionEntry, schedule: Schedule) -> None:
        try:
            await self._schedule_loop(entry, schedule)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("timer function %s stopped", entry.name)

    async def _schedule_loop(self, entry: FunctionEntry, schedule: Schedule) -> None:
        last, expected = await self._load_status(entry.name)
        now = datetime.now(UTC)
        past_due = expected is not None and expected < now - timedelta(seconds=1)
        if past_due or entry.trigger.get("runOnStartup"):
            await self._fire(entry, schedule, past_due, last or now)
            last = now
        while True:
            following = schedule.next_after(datetime.now(UTC))
            await self._save_status(entry.name, last or datetime.now(UTC), following)
            delay = (following - datetime.now(UTC)).total_seconds()
            await asyncio.sleep(max(0.0, delay + _EARLY_WAKE_S))
            await self._fire(entry, schedule, False, last or following)
            last = following

    async def _fire(
        self, entry: FunctionEntry, schedule: Schedule, past_due: bool, last: datetime
    ) -> None:
        now = datetime.now(UTC)
        request = TimerRequest(
            past_due=past_due,
            schedule_status={
                "Last": iso(last),
                "Next": iso(schedule.next_after(now)),
                "LastUpdated": iso(now),
            },
            schedule={"AdjustForDST": True},
        )
        try:
            await invoke(entry, request, self.client_binding, self.executor)
        except Exception:
            log.exception("timer function %s raised", entry.name)
