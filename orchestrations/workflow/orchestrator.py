"""The scan orchestrator: plan, fan out one activity per work item, summarize, finish.

Deterministic: no I/O, no clock, no randomness; everything it knows comes from its input and
activity results. Phases and progress go to the custom status (Azure Portal) and, through the
activities, to the scan record (the API). Whatever happens, the scan is closed last (summarize,
or finish when something failed before): final status, partial results kept, lease released.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrations.core import contract, lifecycle

bp = df.Blueprint()

# Transient failures only: the activities raise for those and return errors for the rest.
RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=2000, max_number_of_attempts=3)


def _status(
    start: contract.ScanStart, phase: str, progress: int, **extra: Any
) -> contract.CustomStatus:
    target = start["target"]
    status: contract.CustomStatus = {
        "scanId": start["scanId"],
        "targetType": target["targetType"],
        "targetId": target["targetId"],
        "phase": phase,
        "progress": progress,
    }
    status.update(extra)  # type: ignore[typeddict-item]
    return status


def _failure(outcomes: list[contract.ItemOutcome]) -> str | None:
    failures = [o for o in outcomes if not o["ok"]]
    if not failures:
        return None
    first = failures[0]
    return f"{len(failures)} item(s) failed; {first['itemId']}: {first['error']}"


@bp.orchestration_trigger(context_name="context", orchestration=contract.ORCHESTRATOR)
def scan_orchestrator(
    context: df.DurableOrchestrationContext,
) -> Generator[Any, Any, dict[str, Any]]:
    start: contract.ScanStart = context.get_input()
    scan_id = start["scanId"]
    context.set_custom_status(_status(start, lifecycle.PLAN, lifecycle.PLAN_PROGRESS))
    error: str | None = None
    status: str | None = None
    try:
        plan: contract.PlanResult = yield context.call_activity_with_retry(
            contract.PLAN_ACTIVITY, RETRY, start
        )
        if plan.get("cancelled"):
            return {"scanId": scan_id, "status": lifecycle.CANCELLED}
        if not plan["ok"]:
            error = plan.get("error")
        else:
            items = plan.get("items", [])
            plan_context = plan.get("context", {})
            context.set_custom_status(
                _status(start, plan.get("phase", ""), lifecycle.RUN_PROGRESS, totalItems=len(items))
            )
            tasks = []
            for item in items:
                item_input: contract.ItemInput = {**start, "item": item, "context": plan_context}
                tasks.append(
                    context.call_activity_with_retry(contract.RUN_ITEM_ACTIVITY, RETRY, item_input)
                )
            outcomes: list[contract.ItemOutcome] = (yield context.task_all(tasks)) if tasks else []
            context.set_custom_status(
                _status(start, lifecycle.SUMMARIZE, lifecycle.SUMMARIZE_PROGRESS)
            )
            # Summarize and finish in one activity: one episode and one hop fewer per scan.
            summarize: contract.SummarizeInput = {
                **start,
                "context": plan_context,
                "failure": _failure(outcomes),
            }
            finished: contract.ScanEnd = yield context.call_activity_with_retry(
                contract.SUMMARIZE_ACTIVITY, RETRY, summarize
            )
            status, error = finished["status"], finished.get("error")
    except Exception as exc:  # an activity failed even after its retries
        error = str(exc).strip() or type(exc).__name__
    if status is None:
        status = lifecycle.FAILED if error else lifecycle.COMPLETED
        finish: contract.FinishInput = {**start, "status": status, "error": error}
        yield context.call_activity_with_retry(contract.FINISH_ACTIVITY, RETRY, finish)
    progress = lifecycle.end_progress(status, lifecycle.SUMMARIZE_PROGRESS, 0, 0)
    context.set_custom_status(_status(start, lifecycle.end_phase(status), progress, status=status))
    return {"scanId": scan_id, "status": status, "error": error}
