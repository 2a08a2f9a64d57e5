"""The scan orchestrator: plan, fan out one activity per work item, summarize, finish.

Deterministic: no I/O, no clock, no randomness; everything it knows comes from its input and
activity results. Phases and progress go to the custom status (Azure Portal) and, through the
activities, to the scan record (the API). Whatever happens, `scan_finish` runs last: it sets
the final status, keeps partial results and releases the target's lease.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

bp = df.Blueprint()

# Transient failures only: the activities raise for those and return errors for the rest.
RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=2000, max_number_of_attempts=3)


def _status(start: dict[str, Any], phase: str, progress: int, **extra: Any) -> dict[str, Any]:
    target = start["target"]
    return {
        "scanId": start["scanId"],
        "targetType": target["target_type"],
        "targetId": target["target_id"],
        "phase": phase,
        "progress": progress,
        **extra,
    }


@bp.orchestration_trigger(context_name="context")
def scan_orchestrator(
    context: df.DurableOrchestrationContext,
) -> Generator[Any, Any, dict[str, Any]]:
    start: dict[str, Any] = context.get_input()
    scan_id = start["scanId"]
    context.set_custom_status(_status(start, "Plan", 5))
    error: str | None = None
    status: str | None = None
    try:
        plan = yield context.call_activity_with_retry("scan_plan", RETRY, start)
        if plan.get("cancelled"):
            return {"scanId": scan_id, "status": "cancelled"}
        if not plan["ok"]:
            error = plan["error"]
        else:
            items = plan["items"]
            context.set_custom_status(_status(start, plan["phase"], 10, totalItems=len(items)))
            tasks = [
                context.call_activity_with_retry(
                    "scan_run_item",
                    RETRY,
                    {**start, "item": item, "context": plan["context"]},
                )
                for item in items
            ]
            outcomes = (yield context.task_all(tasks)) if tasks else []
            failures = [o for o in outcomes if not o["ok"]]
            failure = None
            if failures:
                first = failures[0]
                failure = f"{len(failures)} item(s) failed; {first['itemId']}: {first['error']}"
            context.set_custom_status(_status(start, "Summarize", 95))
            # Summarize and finish in one activity: one episode and one hop fewer per scan.
            finished = yield context.call_activity_with_retry(
                "scan_summarize",
                RETRY,
                {**start, "context": plan["context"], "failure": failure},
            )
            status, error = finished["status"], finished.get("error")
    except Exception as exc:  # an activity failed even after its retries
        error = str(exc).strip() or type(exc).__name__
    if status is None:
        status = "failed" if error else "completed"
        yield context.call_activity_with_retry(
            "scan_finish",
            RETRY,
            {
                "scanId": scan_id,
                "targetId": start["target"]["target_id"],
                "status": status,
                "error": error,
            },
        )
    done = status == "completed"
    phase = {"completed": "Done", "cancelled": "Cancelled"}.get(status, "Failed")
    context.set_custom_status(_status(start, phase, 100 if done else 95, status=status))
    return {"scanId": scan_id, "status": status, "error": error}
