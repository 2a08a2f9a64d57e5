"""A scan's lifecycle, defined once: statuses, phases and progress.

Progress: planning 5, items running 10..90 (from the item rows), summarizing 95, done 100. The
orchestrator shows it in its custom status (Azure Portal); the activities write it to the scan
record; the API recomputes it from the item rows while items run. All three use `progress()`.
"""

from __future__ import annotations

STATUSES = ("pending", "running", "completed", "failed", "cancelled")
PENDING, RUNNING, COMPLETED, FAILED, CANCELLED = STATUSES
ACTIVE = frozenset({PENDING, RUNNING})
TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED})

# Phases every scan goes through; while items run, the phase is the engine's own (run_phase).
QUEUED = "Queued"
PLAN = "Plan"
SUMMARIZE = "Summarize"
DONE = "Done"
FAILED_PHASE = "Failed"
CANCELLED_PHASE = "Cancelled"

PLAN_PROGRESS = 5
RUN_PROGRESS = 10
SUMMARIZE_PROGRESS = 95
DONE_PROGRESS = 100


def run_progress(done: int, total: int) -> int:
    """Progress while `done` of `total` items have a result row."""
    return RUN_PROGRESS + (80 * min(done, total)) // total if total > 0 else RUN_PROGRESS


def end_phase(status: str) -> str:
    """The phase a scan shows once it has ended with `status`."""
    return {COMPLETED: DONE, CANCELLED: CANCELLED_PHASE}.get(status, FAILED_PHASE)


def end_progress(status: str, progress: int, done: int, total: int) -> int:
    """Progress of a scan that ended: 100 when completed, else what its items showed (it never
    goes back)."""
    if status == COMPLETED:
        return DONE_PROGRESS
    return max(progress, run_progress(done, total)) if total else progress
