"""Timer triggers: start scans whose schedule is due; purge old orchestration history.

Schedules are cron expressions on registered targets (5 fields, or 6 with seconds first),
evaluated in UTC against the time the target was last scheduled. A target whose previous
scan is still active is skipped for that occurrence (the lease decides, race-free).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from common import cron
from orchestrations.core.settings import get_settings
from orchestrations.core.telemetry import scan_logger
from orchestrations.scans.kinds import KINDS
from orchestrations.scans.service import ScanConflictError, start_scan
from orchestrations.state.stores import Stores
from orchestrations.state.tables import utcnow
from orchestrations.state.targets import TargetRecord

log = logging.getLogger(__name__)
bp = df.Blueprint()

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def is_due(target: TargetRecord, now: datetime) -> bool:
    if not target.schedule:
        return False
    since = target.last_scheduled_at or target.created_at
    try:
        return cron.next_occurrence(target.schedule, since) <= now
    except (ValueError, KeyError):
        log.warning("schedule %r of %s is not valid", target.schedule, target.target_id)
        return False


@bp.timer_trigger(schedule="%SCAN_SCHEDULER_CRON%", arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def start_due_scans(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    settings = get_settings()
    stores = Stores.of(settings)
    now = utcnow()
    for target in await asyncio.to_thread(stores.targets.scheduled):
        kind = KINDS.get(target.target_type)
        if kind is None or not is_due(target, now):
            continue
        # Claim this occurrence first (ETag): a second scheduler run cannot start it again.
        target.last_scheduled_at = now
        if not await asyncio.to_thread(stores.targets.save, target):
            continue
        try:
            record = await start_scan(
                client, settings, kind, kind.request_for(target), trigger="schedule"
            )
        except ScanConflictError as exc:
            scan_logger(log, exc.active_scan_id, target.target_id).info(
                "scheduled %s scan skipped: this scan is active", target.target_type
            )
            continue
        except Exception:
            log.exception(
                "scheduled scan of %s %s failed to start", target.target_type, target.target_id
            )
            continue
        scan_logger(log, record.scan_id, target.target_id).info(
            "%s scan started by schedule", target.target_type
        )


@bp.timer_trigger(schedule="%HISTORY_PURGE_CRON%", arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def purge_history(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """Delete the Durable history of finished orchestrations older than the retention."""
    retention = timedelta(days=get_settings().history_retention_days)
    result = await client.purge_instance_history_by(
        created_time_from=_EPOCH,
        created_time_to=utcnow() - retention,
        runtime_status=[
            OrchestrationRuntimeStatus.Completed,
            OrchestrationRuntimeStatus.Failed,
            OrchestrationRuntimeStatus.Terminated,
        ],
    )
    if result.instances_deleted:
        log.info("purged the history of %d finished orchestration(s)", result.instances_deleted)
