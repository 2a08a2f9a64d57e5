"""Whose turn it is: at most a kind's limit of scans run at once; the others wait in trigger order.

A trigger that finds a free place and nobody waiting takes the place at once (one insert).
Otherwise its scan waits (status `queued`), and `admit` fills free places with the oldest
waiting scans. `admit` runs wherever a place may have come free or a scan may have started
waiting: after a trigger that queued, at the end of every scan (its closing activity), on
cancel, and on the scheduler's timer (which also finishes what a crash interrupted). A place
is a row of its own, taken with an insert and given back with a conditional delete, so no more
than the limit are ever admitted, whoever admits concurrently, and scans that end together
never contend for one row.

An admitted scan's orchestration is started, then its waiting row goes. A waiting row whose scan
is already admitted is an admission interrupted between the two (a crash, a failed start): once
it is older than `STALLED_AFTER`, the next `admit` starts it again (a start of a scan that runs
already counts as done). Nothing is lost: every waiting scan is a row in storage until its
orchestration, durable itself, has started.

Limits: SCAN_MAX_RUNNING, else per kind from the machine: its cores times the kind's
`scans_per_core`, and no more than host.json's activity concurrency
(`maxConcurrentActivityFunctions`) allows for the kind's `activities_per_scan`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import random
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from orchestrations.core import lifecycle
from orchestrations.core.settings import AppSettings
from orchestrations.core.telemetry import scan_logger
from orchestrations.scans.instances import ALIVE, orchestration, start_orchestration
from orchestrations.scans.kinds import KINDS
from orchestrations.state.queue import Admitted, Waiting
from orchestrations.state.scans import ScanRecord
from orchestrations.state.stores import Stores
from orchestrations.state.tables import utcnow

log = logging.getLogger(__name__)

STALLED_AFTER = timedelta(seconds=10)
_ATTEMPTS = 5
# The app's folder (host.json beside function_app.py); the Functions host sets it.
SCRIPT_ROOT = "AzureWebJobsScriptRoot"
# Durable Functions' default for maxConcurrentActivityFunctions when host.json sets none.
_DEFAULT_ACTIVITY_SLOTS = 10


@lru_cache(maxsize=1)
def activity_slots() -> int:
    """host.json's maxConcurrentActivityFunctions: the activities one instance runs at once."""
    root = os.environ.get(SCRIPT_ROOT) or str(Path(__file__).resolve().parents[2])
    try:
        document = json.loads((Path(root) / "host.json").read_text(encoding="utf-8"))
        durable = document.get("extensions", {}).get("durableTask", {})
        return max(1, int(durable.get("maxConcurrentActivityFunctions", _DEFAULT_ACTIVITY_SLOTS)))
    except (OSError, ValueError, TypeError, AttributeError):
        return _DEFAULT_ACTIVITY_SLOTS


def running_limit(settings: AppSettings, kind_name: str) -> int:
    """How many scans of the kind may run at once."""
    configured = settings.running_limits
    if kind_name in configured:
        return configured[kind_name]
    if "*" in configured:
        return configured["*"]
    kind = KINDS.get(kind_name)
    per_core = kind.scans_per_core if kind is not None else 1.0
    per_scan = kind.activities_per_scan if kind is not None else 1
    by_machine = math.ceil((os.cpu_count() or 1) * per_core)
    return max(1, min(by_machine, activity_slots() // per_scan))


async def take_free_place(stores: Stores, settings: AppSettings, kind: str, scan_id: str) -> bool:
    """Admit `scan_id` at once if the kind has a free place and nobody waits for one."""
    limit = running_limit(settings, kind)
    for _ in range(_ATTEMPTS):
        admitted, waiting = await asyncio.gather(
            asyncio.to_thread(stores.queue.admitted, kind),
            asyncio.to_thread(stores.queue.first_waiting, kind, 1),
        )
        free = admitted.free(limit)
        if waiting or len(admitted.places) >= limit or not free:
            return False
        # A free place picked at random (not a secret): racing triggers seldom pick the same.
        number = random.choice(free)  # noqa: S311
        if await asyncio.to_thread(stores.queue.take, kind, number, scan_id, utcnow()):
            return True
    return False


async def admit(
    client: Any, stores: Stores, settings: AppSettings, kind: str, leaving: str | None = None
) -> set[str]:
    """Give free places to the oldest waiting scans and start them (`leaving`: a scan that has
    ended: its place is given back first). Returns the ids of the scans started."""
    limit = running_limit(settings, kind)
    fresh: list[Waiting] = []
    stalled: list[Waiting] = []
    for _ in range(_ATTEMPTS):
        admitted, waiting = await asyncio.gather(
            asyncio.to_thread(stores.queue.admitted, kind),
            asyncio.to_thread(stores.queue.first_waiting, kind, limit + 1),
        )
        going = admitted.doubles
        if leaving is not None and leaving in admitted.places:
            going = [*going, admitted.places.pop(leaving)]
        for place in going:
            await asyncio.to_thread(stores.queue.give_back, kind, place)
        if going:
            # Read who waits after the places are back: a trigger that queued meanwhile saw
            # them still taken, and its own admit found no place; this one must see it.
            waiting = await asyncio.to_thread(stores.queue.first_waiting, kind, limit + 1)
        leaving = None
        now = utcnow()
        waiting = [w for w in waiting if w.scan_id not in {f.scan_id for f in fresh}]
        stalled = [
            w
            for w in waiting
            if w.scan_id in admitted.places
            and now - admitted.places[w.scan_id].since > STALLED_AFTER
        ]
        taken, done = await _fill(stores, kind, limit, admitted, waiting, now)
        fresh += taken
        if done:
            break
    started = await asyncio.gather(*(_start(client, stores, kind, w) for w in fresh + stalled))
    return {w.scan_id for w, ok in zip(fresh + stalled, started, strict=True) if ok}


async def _fill(
    stores: Stores,
    kind: str,
    limit: int,
    admitted: Admitted,
    waiting: list[Waiting],
    now: datetime,
) -> tuple[list[Waiting], bool]:
    """Take free places for the oldest waiting scans. Returns the scans admitted here, and
    whether that is all (else: read the places again and go on). Two admitters may take a
    place for one scan at the same moment: each looks at the places after taking one, and a
    scan found in two keeps its first."""
    taken: list[Waiting] = []
    for each in waiting:
        if each.scan_id in admitted.places:
            continue
        free = admitted.free(limit)
        if len(admitted.places) >= limit or not free:
            return taken, True
        number = free[0]
        if not await asyncio.to_thread(stores.queue.take, kind, number, each.scan_id, now):
            return taken, False  # someone else took that place meanwhile: look again
        again = await asyncio.to_thread(stores.queue.admitted, kind)
        if again.doubles:
            # Admitted twice at once: the scan keeps its first place (the admitter that took it
            # starts it; a second start would count as done), the others go back and are
            # given to the next waiting scans.
            for place in again.doubles:
                await asyncio.to_thread(stores.queue.give_back, kind, place)
            kept = again.places.get(each.scan_id)
            if kept is not None and kept.number == number:
                taken.append(each)
            return taken, False
        admitted.places = again.places
        taken.append(each)
    return taken, True


async def _start(client: Any, stores: Stores, kind: str, waiting: Waiting) -> bool:
    """Start an admitted scan's orchestration, then drop its waiting row."""
    scan_log = scan_logger(log, waiting.scan_id, waiting.start["target"]["targetId"])
    try:
        await start_orchestration(client, waiting.instance_id, waiting.start)  # type: ignore[arg-type]
    except Exception as exc:
        # Its waiting row stays: a later admit starts it again.
        scan_log.warning("its turn has come but its orchestration did not start: %s", exc)
        return False
    await asyncio.to_thread(stores.queue.remove, kind, waiting.scan_id)
    scan_log.info("its turn has come: started")
    return True


async def sweep(client: Any, stores: Stores, settings: AppSettings, kind: str) -> None:
    """Repair what a crash may have left: places held by scans that ended or whose
    orchestration is gone (given back; the scan is marked failed), admissions whose start was
    interrupted (started again). The scheduler's timer calls it for every kind."""
    admitted = await asyncio.to_thread(stores.queue.admitted, kind)
    now = utcnow()
    settled = [i for i, since in admitted.scans.items() if now - since > STALLED_AFTER]
    records = await asyncio.gather(*(asyncio.to_thread(stores.scans.get, i) for i in settled))
    for scan_id, record in zip(settled, records, strict=True):
        if record is not None and record.status in (lifecycle.PENDING, lifecycle.RUNNING):
            runtime, running_scan = await orchestration(client, record.instance_id)
            if runtime == "Unknown" or (runtime in ALIVE and running_scan == scan_id):
                continue
            scan_logger(log, scan_id, record.target_id).warning(
                "its orchestration is %s; the scan failed and its place goes to the next",
                runtime or "gone",
            )
            await asyncio.to_thread(stores.scans.update, scan_id, _lost)
        elif record is not None and record.status == lifecycle.QUEUED:
            continue  # admitted, its start interrupted: admit() below starts it again
        await admit(client, stores, settings, kind, leaving=scan_id)
    await admit(client, stores, settings, kind)


def _lost(record: ScanRecord) -> None:
    record.status = lifecycle.FAILED
    record.completed_at = utcnow()
    record.phase = lifecycle.end_phase(lifecycle.FAILED)
    record.error_message = "the scan's orchestration was lost"


def positions(stores: Stores, records: list[ScanRecord]) -> dict[str, int | None]:
    """Each queued record's place in its kind's queue (1: next), None when its turn has come
    (its orchestration is starting)."""
    queued = [r for r in records if r.status == lifecycle.QUEUED]
    found: dict[str, int | None] = {}
    for kind in {r.target_type for r in queued}:
        mine = [r.scan_id for r in queued if r.target_type == kind]
        admitted = stores.queue.admitted(kind)
        ahead = [i for i in stores.queue.waiting_ids(kind, max(mine)) if i not in admitted.scans]
        place = {scan_id: index + 1 for index, scan_id in enumerate(ahead)}
        found.update({scan_id: place.get(scan_id) for scan_id in mine})
    return found
