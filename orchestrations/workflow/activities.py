"""Activities of the scan orchestration: plan, run one item, summarize, finish.

Each takes and returns the typed JSON of core.contract and is idempotent (upserts keyed by scan
id and item id; terminal records are never overwritten). Transient failures raise, so the
orchestrator's RetryOptions retry them; anything else comes back as `{"ok": False, "error": ...}`
and is not retried. Every log record an activity (or its engine) writes names the scan.

The two that close a scan (summarize, finish) then give its place to the next waiting scan of
its kind, starting that scan's orchestration: they take a Durable client for it (the way to
start an orchestration from inside another one's work).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import azure.durable_functions as df
from azure.core.exceptions import (
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from common.storage import StorageUnavailableError
from orchestrations.core import lifecycle
from orchestrations.core.contract import (
    FINISH_ACTIVITY,
    PLAN_ACTIVITY,
    RUN_ITEM_ACTIVITY,
    SUMMARIZE_ACTIVITY,
    FinishInput,
    ItemInput,
    ItemOutcome,
    PlanResult,
    ScanEnd,
    ScanStart,
    SummarizeInput,
    scan_target,
)
from orchestrations.core.settings import get_settings
from orchestrations.core.telemetry import log_scan_finished, log_scan_started, scan_context
from orchestrations.scans import admission
from orchestrations.scans.comparison import findings_delta
from orchestrations.scans.kinds import engine_for
from orchestrations.state.artifacts import BlobArtifactStore
from orchestrations.state.scans import ScanRecord
from orchestrations.state.stores import Stores
from orchestrations.state.tables import utcnow
from scanner.engine import (
    ItemResult,
    ScanEngine,
    ScanError,
    ScanTarget,
    TransientScanError,
    WorkItem,
)

log = logging.getLogger(__name__)
bp = df.Blueprint()

_PROGRESS_WRITE_INTERVAL_S = 1.0
# The trigger writes the record while it starts the orchestration; under load the record may
# come a little after the plan activity starts. Longer than that means the trigger failed.
_RECORD_WAIT_S = 10.0


def is_transient(exc: BaseException) -> bool:
    if isinstance(
        exc,
        TransientScanError | ServiceRequestError | ServiceResponseError | StorageUnavailableError,
    ):
        return True
    if isinstance(exc, HttpResponseError):
        return exc.status_code is None or exc.status_code >= 500 or exc.status_code in (408, 429)
    return isinstance(exc, ConnectionError | TimeoutError)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ScanError):
        return str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


def _unpack(payload: ScanStart) -> tuple[str, ScanTarget, Stores, ScanEngine]:
    """What every activity of a scan starts from: its id, target, stores and engine."""
    target = scan_target(payload["target"])
    return payload["scanId"], target, Stores.of(get_settings()), engine_for(target.target_type)


A = TypeVar("A", bound=Callable[..., Any])


def scan_activity(name: str) -> Callable[[A], A]:
    """Register an activity of the scan orchestration: every log record it (or its engine)
    writes names the scan of its payload."""

    def register(work: A) -> A:
        @functools.wraps(work)
        def run(payload: ScanStart) -> Any:
            with scan_context(payload["scanId"], payload["target"]["targetId"]):
                return work(payload)

        registered: A = bp.activity_trigger(input_name="payload", activity=name)(run)
        return registered

    return register


def scan_closing_activity(name: str) -> Callable[[Callable[[Any], ScanEnd]], Any]:
    """Register an activity that closes a scan: `work(payload)` runs in a thread (it names the
    scan in every log record), then the scan's place goes to the next waiting scan."""

    def register(work: Callable[[Any], ScanEnd]) -> Any:
        async def run(payload: Any, client: df.DurableOrchestrationClient) -> ScanEnd:
            with scan_context(payload["scanId"], payload["target"]["targetId"]):
                end = await asyncio.to_thread(work, payload)
                settings = get_settings()
                await admission.admit(
                    client,
                    Stores.of(settings),
                    settings,
                    payload["target"]["targetType"],
                    leaving=payload["scanId"],
                )
                return end

        run.__name__ = run.__qualname__ = work.__name__
        run.__doc__ = work.__doc__
        with_client = bp.durable_client_input(client_name="client")(run)
        return bp.activity_trigger(input_name="payload", activity=name)(with_client)

    return register


def _wait_for_record(stores: Stores, scan_id: str) -> ScanRecord | None:
    """The scan's record. Its trigger writes it while starting this orchestration, so the
    plan may come first: wait a little before deciding that there is none."""
    deadline = time.monotonic() + _RECORD_WAIT_S
    while True:
        record = stores.scans.get(scan_id)
        if record is not None or time.monotonic() >= deadline:
            return record
        time.sleep(0.05)


class _PhaseWriter:
    """Writes the plan's phase and step to the scan record from a thread of its own, the
    latest one when several come at once: the plan goes on while storage is written (a rescan's
    Fetch, Discover and Parse take a few milliseconds each; a write as long again)."""

    def __init__(self, stores: Stores, record: ScanRecord) -> None:
        self._stores = stores
        self._record = record
        self._ready = threading.Condition()
        self._latest: tuple[str, str | None] | None = None
        self._closed = False
        # the thread's log records name the scan, as the activity's do
        self._thread = threading.Thread(
            target=contextvars.copy_context().run, args=(self._run,), daemon=True
        )
        self._thread.start()

    def show(self, phase: str, step: str | None) -> None:
        with self._ready:
            self._latest = (phase, step)
            self._ready.notify()

    def close(self) -> None:
        """Write what is still to be written, then stop (the record is the caller's again)."""
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._ready:
                while self._latest is None and not self._closed:
                    self._ready.wait()
                if self._latest is None:
                    return
                phase, step = self._latest
                self._latest = None

            def change(r: ScanRecord, phase: str = phase, step: str | None = step) -> None:
                r.phase, r.step = phase, step

            try:
                self._stores.scans.modify(self._record, change)
            except Exception as exc:  # shown progress only: the plan's own writes will tell
                log.warning("phase %s not shown: %s", phase, _describe(exc))


@scan_activity(PLAN_ACTIVITY)
def scan_plan(payload: ScanStart) -> PlanResult:
    scan_id, target, stores, engine = _unpack(payload)

    def running(record: ScanRecord) -> None:
        record.status = lifecycle.RUNNING
        record.started_at = record.started_at or utcnow()
        record.phase = lifecycle.PLAN
        record.progress = max(record.progress, lifecycle.PLAN_PROGRESS)

    record = _wait_for_record(stores, scan_id)
    first_start = record is not None and record.started_at is None
    record = stores.scans.modify(record, running) if record is not None else None
    if record is None or record.status in lifecycle.TERMINAL:
        return {"ok": False, "cancelled": True, "error": "the scan ended before it started"}
    if first_start:  # once per scan, even when this activity is retried
        log_scan_started(log, target.target_type)
    log.info("planning")

    last_write: dict[str, Any] = {"at": time.monotonic(), "phase": lifecycle.PLAN}
    shown = _PhaseWriter(stores, record)

    def progress(phase: str, step: str | None) -> None:
        # A new phase is written at once; a new step of the same phase at most once a second.
        now = time.monotonic()
        if phase == last_write["phase"] and now - last_write["at"] < _PROGRESS_WRITE_INTERVAL_S:
            return
        last_write.update(at=now, phase=phase)
        shown.show(phase, step)

    store = BlobArtifactStore(stores.scans.storage, scan_id)
    try:
        plan = engine.plan(target, store, progress)
    except Exception as exc:
        if is_transient(exc):
            raise
        log.warning("plan failed: %s", _describe(exc))
        return {"ok": False, "error": _describe(exc)}
    finally:
        shown.close()

    def planned(r: ScanRecord) -> None:
        r.phase = engine.run_phase
        r.step = None
        r.progress = max(r.progress, lifecycle.RUN_PROGRESS)
        r.total_items = len(plan.items)
        r.counters.update(plan.counters)
        r.counters[engine.total_counter] = len(plan.items)
        r.counters[engine.completed_counter] = 0

    stores.scans.modify(record, planned)
    log.info("%d item(s) planned", len(plan.items))
    return {
        "ok": True,
        "phase": engine.run_phase,
        "items": [item.model_dump() for item in plan.items],
        "context": plan.context,
    }


@scan_activity(RUN_ITEM_ACTIVITY)
def scan_run_item(payload: ItemInput) -> ItemOutcome:
    scan_id, target, stores, engine = _unpack(payload)
    item = WorkItem.model_validate(payload["item"])
    store = BlobArtifactStore(stores.scans.storage, scan_id)
    began = time.monotonic()
    fatal = False
    try:
        result = engine.run(target, item, payload.get("context") or {}, store)
    except Exception as exc:
        if is_transient(exc):
            raise
        fatal = True
        log.warning("item %s failed: %s", item.item_id, _describe(exc))
        result = ItemResult(
            item_id=item.item_id, title=item.title, status="error", error=_describe(exc)
        )
    result.duration_ms = int((time.monotonic() - began) * 1000)
    stores.scans.put_item(scan_id, result)
    return {
        "ok": not fatal,
        "itemId": result.item_id,
        "status": result.status,
        "findings": len(result.findings),
        "error": result.error,
    }


@scan_closing_activity(SUMMARIZE_ACTIVITY)
def scan_summarize(payload: SummarizeInput) -> ScanEnd:
    """Summarize the items, then finish the scan (status, registry, lease): one record write."""
    scan_id, target, stores, engine = _unpack(payload)
    record = stores.scans.get(scan_id)
    if record is None:
        return {"ok": False, "status": lifecycle.FAILED, "error": "scan record not found"}
    results = stores.scans.items(scan_id)
    store = BlobArtifactStore(stores.scans.storage, scan_id)
    summary = None
    try:
        summary = engine.summarize(target, payload.get("context") or {}, results, store)
        error = payload.get("failure") or summary.error
    except Exception as exc:
        if is_transient(exc):
            raise
        error = payload.get("failure") or _describe(exc)
    delta = _findings_delta(stores, record, results) if summary and not error else None

    def summarized(r: ScanRecord) -> None:
        if summary is None:
            return
        r.results = summary.results
        r.counters.setdefault("findings", sum(len(i.findings) for i in results))
        r.counters.update(summary.counters)
        r.counters[engine.completed_counter] = len(results)
        if delta is not None:
            r.results = {**summary.results, "comparison": delta}
            r.counters["newFindings"] = delta["newFindings"]
            r.counters["resolvedFindings"] = delta["resolvedFindings"]

    status = lifecycle.FAILED if error else lifecycle.COMPLETED
    return _close(stores, record, status, error, summarized, len(results))


def _findings_delta(
    stores: Stores, record: ScanRecord, results: list[ItemResult]
) -> dict[str, Any] | None:
    """New and resolved findings against the previous scan; a failure to compare is logged,
    never a reason to fail the scan."""
    try:
        return findings_delta(stores.scans, record, results)
    except Exception as exc:
        if is_transient(exc):
            raise
        log.warning(
            "scan=%s target=%s: not compared with the previous scan: %s",
            record.scan_id,
            record.target_id,
            _describe(exc),
        )
        return None


@scan_closing_activity(FINISH_ACTIVITY)
def scan_finish(payload: FinishInput) -> ScanEnd:
    stores = Stores.of(get_settings())
    record = stores.scans.get(payload["scanId"])
    if record is None:
        return {"ok": False, "status": payload["status"], "error": "scan record not found"}
    return _close(stores, record, payload["status"], payload.get("error"))


def _close(
    stores: Stores,
    record: ScanRecord,
    status: str,
    error: str | None,
    before: Callable[[ScanRecord], None] | None = None,
    done: int | None = None,
) -> ScanEnd:
    """Set the final status (after `before(record)`), update the registry, release the lease.

    `done` is the number of item rows when the caller has read them; else they are counted.
    """
    scan_id = record.scan_id
    was_active = [False]

    def finished(r: ScanRecord) -> None:
        if before is not None:
            before(r)
        was_active[0] = True
        r.status = status
        r.completed_at = utcnow()
        r.step = None
        r.error_message = error
        r.phase = lifecycle.end_phase(status)
        if status == lifecycle.COMPLETED:
            r.progress = lifecycle.DONE_PROGRESS
        else:
            # Keep what the item rows showed while it ran: progress never goes back.
            count = done if done is not None else stores.scans.count_items(scan_id)
            r.counters[r.completed_counter] = count
            r.progress = lifecycle.end_progress(status, r.progress, count, r.total_items)

    stored = stores.scans.modify(record, finished)
    if stored is None:
        return {"ok": False, "status": status, "error": "scan record not found"}
    record = stored
    if was_active[0] and record.status == status:
        started = record.started_at or record.created_at
        log_scan_finished(
            log,
            target_type=record.target_type,
            status=record.status,
            duration_seconds=((record.completed_at or utcnow()) - started).total_seconds(),
            findings=int(record.counters.get("findings", 0)),
            error_message=record.error_message,
            new_findings=record.counters.get("newFindings"),
            resolved_findings=record.counters.get("resolvedFindings"),
        )
    if record.registered:
        stores.targets.record_scan(record.target_type, record.target_id, scan_id, record.status)
    stores.leases.release(record.target_type, record.target_id, scan_id, record.lease_etag)
    log.info("%s%s", record.status, f": {error}" if error else "")
    return {"ok": True, "status": record.status, "error": record.error_message}
