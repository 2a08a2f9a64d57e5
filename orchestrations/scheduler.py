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
from croniter import croniter

from orchestrations.scan_service import ScanConflictError, Stores, start_scan
from orchestrations.scan_store import utcnow
from orchestrations.settings import get_settings
from orchestrations.target_kinds import KINDS
from orchestrations.target_store import TargetRecord

log = logging.getLogger(__name__)
bp = df.Blueprint()

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def next_occurrence(schedule: str, after: datetime) -> datetime:
    """The first time `schedule` fires after `after` (UTC)."""
    six_fields = len(schedule.split()) == 6
    base = after.astimezone(UTC).replace(tzinfo=None)
    following: datetime = croniter(schedule, base, second_at_beginning=six_fields).get_next(
        datetime
    )
    return following.replace(tzinfo=UTC)


def is_due(target: TargetRecord, now: datetime) -> bool:
    if not target.schedule:
        return False
    since = target.last_scheduled_at or target.created_at
    try:
        return next_occurrence(target.schedule, since) <= now
    except (ValueError, KeyError):
        log.warning("target=%s: schedule %r is not valid", target.target_id, target.schedule)
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
            log.info(
                "target=%s:%s: scheduled scan skipped, scan=%s is active",
                target.target_type,
                target.target_id,
                exc.active_scan_id,
            )
            continue
        except Exception:
            log.exception(
                "target=%s:%s: scheduled scan failed to start", target.target_type, target.target_id
            )
            continue
        log.info(
            "scan=%s target=%s:%s: started by schedule",
            record.scan_id,
            target.target_type,
            target.target_id,
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
