"""Starting and cancelling scans: the lease, the scan's turn, its record and its orchestration.

Shared by the HTTP API and the scheduler. Storage calls are synchronous SDK calls, run in
threads so that the (async) durable-client functions never block their event loop.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from datetime import timedelta
from typing import Any

from orchestrations.core import lifecycle
from orchestrations.core.contract import scan_start
from orchestrations.core.settings import AppSettings
from orchestrations.core.telemetry import log_scan_finished, scan_logger
from orchestrations.scans import admission
from orchestrations.scans.instances import (
    ALIVE,
    ScanStartError,
    orchestration,
    start_orchestration,
)
from orchestrations.scans.kinds import TargetKind, engine_for, instance_id_for
from orchestrations.state.leases import LeaseHeldError
from orchestrations.state.queue import Waiting
from orchestrations.state.scans import ScanRecord, new_scan_id
from orchestrations.state.stores import Stores
from orchestrations.state.tables import utcnow

log = logging.getLogger(__name__)

# Starts in progress at once per process (each is three storage round trips and a Durable
# start); more wait for a place, first come first served.
_STARTS_AT_ONCE = 8
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)

__all__ = [
    "ScanConflictError",
    "ScanFinishedError",
    "ScanNotFoundError",
    "ScanStartError",
    "cancel_scan",
    "start_scan",
]


class ScanConflictError(Exception):
    """The target already has an active scan."""

    def __init__(self, active_scan_id: str) -> None:
        super().__init__(f"a scan of this target is already active: {active_scan_id}")
        self.active_scan_id = active_scan_id


class ScanNotFoundError(Exception):
    """No scan with this id."""


class ScanFinishedError(Exception):
    """The scan has already ended."""


async def _lease_is_stale(
    client: Any, stores: Stores, settings: AppSettings, held: LeaseHeldError
) -> bool:
    """A lease is stale when its scan has ended, or its orchestration is gone for good."""
    record = await asyncio.to_thread(stores.scans.get, held.scan_id)
    grace = timedelta(seconds=settings.scan_lease_grace_seconds)
    if record is None:
        # Its trigger writes the record just after taking the lease: young means starting.
        return held.acquired is not None and utcnow() - held.acquired > grace
    if record.status in lifecycle.TERMINAL:
        return True
    if record.status == lifecycle.QUEUED:
        return False  # waiting for its turn: it has no orchestration yet, by design
    runtime, running_scan = await orchestration(client, held.instance_id)
    if runtime in ALIVE and running_scan == held.scan_id:
        return False
    if runtime == "Unknown":
        return False  # cannot tell: keep the lease rather than run two scans
    if utcnow() - record.created_at < grace:
        return False  # its trigger may still be starting the orchestration
    scan_logger(log, held.scan_id, record.target_id).warning(
        "orchestration %s is %s; taking its lease over", held.instance_id, runtime or "gone"
    )

    def mark_lost(r: ScanRecord) -> None:
        r.status = lifecycle.FAILED
        r.completed_at = utcnow()
        r.error_message = "the scan's orchestration was lost; a newer scan replaced it"

    await asyncio.to_thread(stores.scans.update, held.scan_id, mark_lost)
    await admission.admit(client, stores, settings, record.target_type, leaving=held.scan_id)
    return True


async def _acquire(client: Any, stores: Stores, settings: AppSettings, record: ScanRecord) -> None:
    for _ in range(3):
        try:
            record.lease_etag = await asyncio.to_thread(
                stores.leases.acquire,
                record.target_type,
                record.target_id,
                record.scan_id,
                record.instance_id,
            )
            return
        except LeaseHeldError as held:
            if not await _lease_is_stale(client, stores, settings, held):
                raise ScanConflictError(held.scan_id) from held
            taken = await asyncio.to_thread(
                stores.leases.take_over,
                record.target_type,
                record.target_id,
                held.scan_id,
                record.scan_id,
                record.instance_id,
            )
            if taken:
                record.lease_etag = taken
                return
    holder = await asyncio.to_thread(stores.leases.holder, record.target_type, record.target_id)
    raise ScanConflictError(holder or "unknown")


def _starting() -> asyncio.Semaphore:
    """The starts this process makes at once: a burst of triggers is served in arrival order
    (the first trigger's scan starts first) instead of every start advancing together."""
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = asyncio.Semaphore(_STARTS_AT_ONCE)
    return gate


async def start_scan(
    client: Any,
    settings: AppSettings,
    kind: TargetKind,
    request: Any,
    trigger: str = "api",
) -> ScanRecord:
    """Start a scan (see `_start`), in turn with the other starts of this process: its id,
    minted on arrival, gives its place among waiting scans."""
    scan_id = new_scan_id()
    async with _starting():
        return await _start(client, settings, kind, request, trigger, scan_id)


async def _start(
    client: Any,
    settings: AppSettings,
    kind: TargetKind,
    request: Any,
    trigger: str,
    scan_id: str,
) -> ScanRecord:
    """Lease, turn, record, orchestration. Raises ScanConflictError when the target is busy.

    Independent calls run side by side: the registry look-up, the lease and a look at the
    kind's queue; then the place (when one is free and nobody waits); then the record, its
    by-target pointer and the orchestration's start (or the waiting row, when the scan has to
    wait for its turn). A trigger waits for three round trips.
    """
    stores = Stores.of(settings)
    target_id = kind.target_id(request)
    record = ScanRecord(
        scan_id=scan_id,
        target_type=kind.name,
        target_id=target_id,
        instance_id=instance_id_for(kind.name, target_id),
        trigger=trigger,
    )
    looked_up, leased = await asyncio.gather(
        asyncio.to_thread(stores.targets.get, kind.name, target_id),
        _acquire(client, stores, settings, record),
        return_exceptions=True,
    )

    async def release() -> None:
        await asyncio.to_thread(
            stores.leases.release,
            record.target_type,
            record.target_id,
            record.scan_id,
            record.lease_etag,
        )

    try:
        if isinstance(looked_up, BaseException):
            raise looked_up
        target = kind.resolve(request, looked_up)  # may say: not registered (404 first)
        if isinstance(leased, BaseException):
            raise leased
        # Built once per process (later calls are a look-up): a misconfigured engine is
        # refused here (4xx), not when the scan runs.
        engine_for(kind.name)
        its_turn = await admission.take_free_place(stores, settings, kind.name, record.scan_id)
    except BaseException:
        if not isinstance(leased, BaseException):
            await release()
        raise
    record.run_phase = kind.info.run_phase
    record.completed_counter = kind.info.completed_counter
    record.total_counter = kind.info.total_counter
    record.options = target.config
    record.registered = looked_up is not None
    record.status = lifecycle.PENDING if its_turn else lifecycle.QUEUED
    payload = scan_start(record.scan_id, target)
    # The record, its pointer and the orchestration (or the waiting row) side by side: the
    # plan activity waits for the record should it come first.
    if its_turn:
        begin = start_orchestration(client, record.instance_id, payload)
    else:
        waiting = Waiting(record.scan_id, record.instance_id, dict(payload))
        begin = asyncio.to_thread(stores.queue.enqueue, kind.name, waiting)
    created, pointed, started = await asyncio.gather(
        asyncio.to_thread(stores.scans.create, record),
        asyncio.to_thread(stores.scans.add_pointer, record),
        begin,
        return_exceptions=True,
    )
    failure = next((r for r in (created, pointed, started) if isinstance(r, BaseException)), None)
    if failure is not None:
        await _undo_start(client, stores, settings, record, created, started, failure)
        await release()
        raise failure
    scan_log = scan_logger(log, record.scan_id, record.target_id)
    # A place may have come free meanwhile; admitting goes in trigger order, so this may start
    # older waiting scans rather than this one.
    if not its_turn and record.scan_id in await admission.admit(
        client, stores, settings, kind.name
    ):
        record.status = lifecycle.PENDING
    scan_log.info("%s scan %s (%s)", record.target_type, record.status, trigger)
    return record


async def _undo_start(
    client: Any,
    stores: Stores,
    settings: AppSettings,
    record: ScanRecord,
    created: Any,
    started: Any,
    failure: BaseException,
) -> None:
    """A start that failed half-way: stop its orchestration (or drop its waiting row), give its
    place back and mark its record failed."""
    if record.status == lifecycle.QUEUED:
        await asyncio.to_thread(stores.queue.remove, record.target_type, record.scan_id)
    elif not isinstance(started, BaseException):
        try:
            await client.terminate(record.instance_id, f"scan {record.scan_id} failed to start")
        except Exception as exc:
            scan_logger(log, record.scan_id, record.target_id).warning("terminate failed: %s", exc)
    if not isinstance(created, BaseException):
        reason = str(failure) or type(failure).__name__

        def failed(r: ScanRecord) -> None:
            r.status = lifecycle.FAILED
            r.completed_at = utcnow()
            r.error_message = reason

        await asyncio.to_thread(stores.scans.update, record.scan_id, failed)
    await admission.admit(client, stores, settings, record.target_type, leaving=record.scan_id)


async def cancel_scan(client: Any, settings: AppSettings, scan_id: str) -> ScanRecord:
    """Terminate the scan's orchestration (or take it out of the queue), mark it cancelled,
    release its lease and give its place to the next waiting scan."""
    stores = Stores.of(settings)
    record = await asyncio.to_thread(stores.scans.get, scan_id)
    if record is None:
        raise ScanNotFoundError(scan_id)
    if record.status in lifecycle.TERMINAL:
        raise ScanFinishedError(f"scan {scan_id} has already ended ({record.status})")
    runtime, running_scan = await orchestration(client, record.instance_id)
    if runtime in ALIVE and running_scan == scan_id:
        try:
            await client.terminate(record.instance_id, f"scan {scan_id} cancelled")
        except Exception as exc:
            scan_logger(log, scan_id, record.target_id).warning("terminate failed: %s", exc)

    done = await asyncio.to_thread(stores.scans.count_items, scan_id)

    def cancelled(r: ScanRecord) -> None:
        r.status = lifecycle.CANCELLED
        r.completed_at = utcnow()
        r.phase = lifecycle.end_phase(lifecycle.CANCELLED)
        r.error_message = "cancelled by request"
        r.counters[r.completed_counter] = done
        r.progress = lifecycle.end_progress(r.status, r.progress, done, r.total_items)

    stored = await asyncio.to_thread(stores.scans.update, scan_id, cancelled)
    if stored is None or stored.status != lifecycle.CANCELLED:
        raise ScanFinishedError(f"scan {scan_id} ended before it could be cancelled")
    # Out of the queue (if it waited), its lease and its place given back: a scan that became
    # admitted meanwhile finds its record cancelled when it starts, and gives its place back.
    await asyncio.gather(
        asyncio.to_thread(stores.queue.remove, stored.target_type, scan_id),
        asyncio.to_thread(stores.leases.release, stored.target_type, stored.target_id, scan_id),
        asyncio.to_thread(
            stores.targets.record_scan,
            stored.target_type,
            stored.target_id,
            scan_id,
            lifecycle.CANCELLED,
        ),
    )
    await admission.admit(client, stores, settings, stored.target_type, leaving=scan_id)
    log_scan_finished(
        scan_logger(log, scan_id, stored.target_id),
        target_type=stored.target_type,
        status=lifecycle.CANCELLED,
        duration_seconds=(utcnow() - (stored.started_at or stored.created_at)).total_seconds(),
        findings=int(stored.counters.get("findings", 0)),
        error_message=stored.error_message,
    )
    return stored
