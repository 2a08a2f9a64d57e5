"""Activities of the scan orchestration: plan, run one item, summarize, finish.

Each takes and returns plain JSON dicts and is idempotent (upserts keyed by scan id and item
id; terminal records are never overwritten). Transient failures raise, so the orchestrator's
RetryOptions retry them; anything else comes back as `{"ok": False, "error": ...}` and is not
retried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import azure.durable_functions as df
from azure.core.exceptions import (
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from orchestrations.artifacts import BlobArtifactStore
from orchestrations.scan_comparison import findings_delta
from orchestrations.scan_service import Stores
from orchestrations.scan_store import (
    COMPLETED,
    FAILED,
    PLAN_PROGRESS,
    RUN_PROGRESS,
    RUNNING,
    TERMINAL,
    ScanRecord,
    run_progress,
    utcnow,
)
from orchestrations.settings import get_settings
from orchestrations.target_kinds import KINDS
from orchestrations.telemetry import log_scan_finished, log_scan_started, scan_context, scan_logger
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

_engines: dict[str, ScanEngine] = {}
_engines_lock = threading.Lock()


def engine_for(target_type: str) -> ScanEngine:
    """One engine per kind and process (engines may hold keys or connection pools)."""
    with _engines_lock:
        if target_type not in _engines:
            _engines[target_type] = KINDS[target_type].engine(get_settings())
        return _engines[target_type]


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TransientScanError | ServiceRequestError | ServiceResponseError):
        return True
    if isinstance(exc, HttpResponseError):
        return exc.status_code is None or exc.status_code >= 500 or exc.status_code in (408, 429)
    return isinstance(exc, ConnectionError | TimeoutError)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ScanError):
        return str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


def _unpack(payload: dict[str, Any]) -> tuple[str, ScanTarget, Stores, ScanEngine]:
    """What every activity of a scan starts from: its id, target, stores and engine."""
    target = ScanTarget.model_validate(payload["target"])
    return payload["scanId"], target, Stores.of(get_settings()), engine_for(target.target_type)


def _wait_for_record(stores: Stores, scan_id: str) -> ScanRecord | None:
    """The scan's record. Its trigger writes it while starting this orchestration, so the
    plan may come first: wait a little before deciding that there is none."""
    deadline = time.monotonic() + _RECORD_WAIT_S
    while True:
        record = stores.scans.get(scan_id)
        if record is not None or time.monotonic() >= deadline:
            return record
        time.sleep(0.05)


@bp.activity_trigger(input_name="payload")
def scan_plan(payload: dict[str, Any]) -> dict[str, Any]:
    with scan_context(payload["scanId"], payload["target"]["target_id"]):
        return _plan(payload)


def _plan(payload: dict[str, Any]) -> dict[str, Any]:
    scan_id, target, stores, engine = _unpack(payload)

    def running(record: ScanRecord) -> None:
        record.status = RUNNING
        record.started_at = record.started_at or utcnow()
        record.phase = "Plan"
        record.progress = max(record.progress, PLAN_PROGRESS)

    record = _wait_for_record(stores, scan_id)
    first_start = record is not None and record.started_at is None
    record = stores.scans.modify(record, running) if record is not None else None
    if record is None or record.status in TERMINAL:
        return {"ok": False, "cancelled": True, "error": "the scan ended before it started"}
    if first_start:  # once per scan, even when this activity is retried
        log_scan_started(scan_logger(log, scan_id, target.target_id), target.target_type)
    log.info("planning")

    last_write: dict[str, Any] = {"at": time.monotonic(), "phase": "Plan"}

    def progress(phase: str, step: str | None) -> None:
        # A new phase is written at once; a new step of the same phase at most once a second.
        now = time.monotonic()
        if phase == last_write["phase"] and now - last_write["at"] < _PROGRESS_WRITE_INTERVAL_S:
            return
        last_write.update(at=now, phase=phase)

        def change(r: ScanRecord) -> None:
            r.phase, r.step = phase, step

        stores.scans.modify(record, change)

    store = BlobArtifactStore(stores.scans.storage, scan_id)
    try:
        plan = engine.plan(target, store, progress)
    except Exception as exc:
        if is_transient(exc):
            raise
        log.warning("scan=%s target=%s: plan failed: %s", scan_id, target.target_id, _describe(exc))
        return {"ok": False, "error": _describe(exc)}

    def planned(r: ScanRecord) -> None:
        r.phase = engine.run_phase
        r.step = None
        r.progress = max(r.progress, RUN_PROGRESS)
        r.total_items = len(plan.items)
        r.counters.update(plan.counters)
        r.counters[engine.total_counter] = len(plan.items)
        r.counters[engine.completed_counter] = 0

    stores.scans.modify(record, planned)
    log.info("scan=%s target=%s: %d item(s) planned", scan_id, target.target_id, len(plan.items))
    return {
        "ok": True,
        "phase": engine.run_phase,
        "items": [item.model_dump() for item in plan.items],
        "context": plan.context,
    }


@bp.activity_trigger(input_name="payload")
def scan_run_item(payload: dict[str, Any]) -> dict[str, Any]:
    with scan_context(payload["scanId"], payload["target"]["target_id"]):
        return _run_item(payload)


def _run_item(payload: dict[str, Any]) -> dict[str, Any]:
    scan_id = payload["scanId"]
    target = ScanTarget.model_validate(payload["target"])
    item = WorkItem.model_validate(payload["item"])
    stores = Stores.of(get_settings())
    engine = engine_for(target.target_type)
    store = BlobArtifactStore(stores.scans.storage, scan_id)
    began = time.monotonic()
    fatal = False
    try:
        result = engine.run(target, item, payload.get("context") or {}, store)
    except Exception as exc:
        if is_transient(exc):
            raise
        fatal = True
        log.warning(
            "scan=%s target=%s: item %s failed: %s",
            scan_id,
            target.target_id,
            item.item_id,
            _describe(exc),
        )
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


@bp.activity_trigger(input_name="payload")
def scan_summarize(payload: dict[str, Any]) -> dict[str, Any]:
    with scan_context(payload["scanId"], payload["target"]["target_id"]):
        return _summarize(payload)


def _summarize(payload: dict[str, Any]) -> dict[str, Any]:
    """Summarize the items, then finish the scan (status, registry, lease): one record write."""
    scan_id, target, stores, engine = _unpack(payload)
    record = stores.scans.get(scan_id)
    if record is None:
        return {"ok": False, "status": FAILED, "error": "scan record not found"}
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

    return _close(stores, record, FAILED if error else COMPLETED, error, summarized, len(results))


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


@bp.activity_trigger(input_name="payload")
def scan_finish(payload: dict[str, Any]) -> dict[str, Any]:
    with scan_context(payload["scanId"], payload.get("targetId", "")):
        return _finish(payload)


def _finish(payload: dict[str, Any]) -> dict[str, Any]:
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
) -> dict[str, Any]:
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
        if status == COMPLETED:
            r.phase, r.progress = "Done", 100
        else:
            # Keep what the item rows showed while it ran: progress never goes back.
            count = done if done is not None else stores.scans.count_items(scan_id)
            r.phase = "Failed"
            r.counters[r.completed_counter] = count
            if r.total_items:
                r.progress = max(r.progress, run_progress(count, r.total_items))

    stored = stores.scans.modify(record, finished)
    if stored is None:
        return {"ok": False, "status": status, "error": "scan record not found"}
    record = stored
    if was_active[0] and record.status == status:
        started = record.started_at or record.created_at
        log_scan_finished(
            scan_logger(log, scan_id, record.target_id),
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
    stores.scans.release_lease(record.target_type, record.target_id, scan_id, record.lease_etag)
    log.info(
        "scan=%s target=%s:%s %s%s",
        scan_id,
        record.target_type,
        record.target_id,
        record.status,
        f": {error}" if error else "",
    )
    return {"ok": True, "status": record.status, "error": record.error_message}
