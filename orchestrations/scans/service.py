"""Starting and cancelling scans: the lease, the scan record and the orchestration, in order.

Shared by the HTTP API and the scheduler. Storage calls are synchronous SDK calls, run in
threads so that the (async) durable-client functions never block their event loop.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from orchestrations.core import lifecycle
from orchestrations.core.contract import ORCHESTRATOR, scan_start
from orchestrations.core.settings import AppSettings
from orchestrations.core.telemetry import log_scan_finished, scan_logger
from orchestrations.scans.kinds import TargetKind, engine_for, instance_id_for
from orchestrations.state.leases import LeaseHeldError
from orchestrations.state.scans import ScanRecord, new_scan_id
from orchestrations.state.stores import Stores
from orchestrations.state.tables import utcnow
from scanner.engine import ScanTarget

log = logging.getLogger(__name__)

_ALIVE = {"Running", "Pending", "ContinuedAsNew", "Suspended"}
_START_ATTEMPTS = 30
_START_RETRY_S = 0.1


class ScanConflictError(Exception):
    """The target already has an active scan."""

    def __init__(self, active_scan_id: str) -> None:
        super().__init__(f"a scan of this target is already active: {active_scan_id}")
        self.active_scan_id = active_scan_id


class ScanNotFoundError(Exception):
    """No scan with this id."""


class ScanFinishedError(Exception):
    """The scan has already ended."""


class ScanStartError(Exception):
    """The orchestration could not be started; the scan record says failed."""


async def _orchestration(client: Any, instance_id: str) -> tuple[str | None, str | None]:
    """(runtime status, scan id it runs) of an instance, or (None, None) when there is none."""
    try:
        status = await client.get_status(instance_id, show_input=True)
    except Exception as exc:
        log.warning("status of orchestration %s unavailable: %s", instance_id, exc)
        return "Unknown", None
    runtime = status.runtime_status.value if status.runtime_status else None
    raw_input = status.input_
    scan_id = raw_input.get("scanId") if isinstance(raw_input, dict) else None
    return runtime, scan_id


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
    runtime, running_scan = await _orchestration(client, held.instance_id)
    if runtime in _ALIVE and running_scan == held.scan_id:
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


async def _start_orchestration(client: Any, record: ScanRecord, target: ScanTarget) -> None:
    payload = scan_start(record.scan_id, target)
    last_error: Exception | None = None
    for _ in range(_START_ATTEMPTS):
        try:
            await client.start_new(ORCHESTRATOR, record.instance_id, payload)
            return
        except Exception as exc:
            # The target's previous orchestration releases the lease just before it ends;
            # a new start can arrive in that moment. Wait for it to finish.
            last_error = exc
            await asyncio.sleep(_START_RETRY_S)
    raise ScanStartError(f"could not start the scan orchestration: {last_error}")


async def start_scan(
    client: Any,
    settings: AppSettings,
    kind: TargetKind,
    request: Any,
    trigger: str = "api",
) -> ScanRecord:
    """Lease, record, orchestration. Raises ScanConflictError when the target is busy.

    Independent calls run side by side: the registry look-up with the lease; then the record,
    its by-target pointer and the orchestration's start. A trigger waits for two round trips.
    """
    stores = Stores.of(settings)
    target_id = kind.target_id(request)
    record = ScanRecord(
        scan_id=new_scan_id(),
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
    except BaseException:
        if not isinstance(leased, BaseException):
            await release()
        raise
    record.run_phase = kind.info.run_phase
    record.completed_counter = kind.info.completed_counter
    record.total_counter = kind.info.total_counter
    record.options = target.config
    record.registered = looked_up is not None
    # The record, its pointer and the orchestration side by side: the plan activity waits
    # for the record should it come first.
    created, pointed, started = await asyncio.gather(
        asyncio.to_thread(stores.scans.create, record),
        asyncio.to_thread(stores.scans.add_pointer, record),
        _start_orchestration(client, record, target),
        return_exceptions=True,
    )
    failure = next((r for r in (created, pointed, started) if isinstance(r, BaseException)), None)
    if failure is not None:
        await _undo_start(client, stores, record, created, started, failure)
        await release()
        raise failure
    scan_logger(log, record.scan_id, record.target_id).info(
        "%s scan started (%s)", record.target_type, trigger
    )
    return record


async def _undo_start(
    client: Any,
    stores: Stores,
    record: ScanRecord,
    created: Any,
    started: Any,
    failure: BaseException,
) -> None:
    """A start that failed half-way: stop its orchestration and mark its record failed."""
    if not isinstance(started, BaseException):
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


async def cancel_scan(client: Any, settings: AppSettings, scan_id: str) -> ScanRecord:
    """Terminate the scan's orchestration, mark it cancelled, release its lease."""
    stores = Stores.of(settings)
    record = await asyncio.to_thread(stores.scans.get, scan_id)
    if record is None:
        raise ScanNotFoundError(scan_id)
    if record.status in lifecycle.TERMINAL:
        raise ScanFinishedError(f"scan {scan_id} has already ended ({record.status})")
    runtime, running_scan = await _orchestration(client, record.instance_id)
    if runtime in _ALIVE and running_scan == scan_id:
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
    await asyncio.to_thread(stores.leases.release, stored.target_type, stored.target_id, scan_id)
    await asyncio.to_thread(
        stores.targets.record_scan,
        stored.target_type,
        stored.target_id,
        scan_id,
        lifecycle.CANCELLED,
    )
    log_scan_finished(
        scan_logger(log, scan_id, stored.target_id),
        target_type=stored.target_type,
        status=lifecycle.CANCELLED,
        duration_seconds=(utcnow() - (stored.started_at or stored.created_at)).total_seconds(),
        findings=int(stored.counters.get("findings", 0)),
        error_message=stored.error_message,
    )
    return stored
