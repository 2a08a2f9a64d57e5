"""The contract between the scan orchestrator and its activities, and the orchestration's input.

Every payload is JSON with camelCase keys (they end up in the Durable history, the Azure Portal
and the standalone host's tables). Each activity takes the scan's start (`ScanStart`) plus what
that step needs, and answers a typed result. Large data never travels here: engines put it in
the artifact store and pass a reference in `context`.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from scanner.engine import ScanTarget

ORCHESTRATOR = "scan_orchestrator"
PLAN_ACTIVITY = "scan_plan"
RUN_ITEM_ACTIVITY = "scan_run_item"
SUMMARIZE_ACTIVITY = "scan_summarize"
FINISH_ACTIVITY = "scan_finish"


class TargetRef(TypedDict):
    """A ScanTarget on the wire."""

    targetType: str
    targetId: str
    config: dict[str, Any]


class ScanStart(TypedDict):
    """The orchestration's input: which scan, of what."""

    scanId: str
    target: TargetRef


class PlanResult(TypedDict):
    ok: bool
    cancelled: NotRequired[bool]  # the scan ended before it started: nothing more to do
    error: NotRequired[str]
    phase: NotRequired[str]
    items: NotRequired[list[dict[str, Any]]]  # WorkItem dumps
    context: NotRequired[dict[str, Any]]


class ItemInput(ScanStart):
    item: dict[str, Any]  # a WorkItem dump
    context: dict[str, Any]


class ItemOutcome(TypedDict):
    ok: bool  # False: the item failed the scan (a soft error is ok with status "error")
    itemId: str
    status: str
    findings: int
    error: str | None


class SummarizeInput(ScanStart):
    context: dict[str, Any]
    failure: str | None  # set when items failed: the scan ends failed, results kept


class FinishInput(ScanStart):
    status: str
    error: str | None


class ScanEnd(TypedDict):
    """What summarize and finish answer, and (without `ok`) the orchestration's output."""

    ok: bool
    status: str
    error: str | None


class CustomStatus(TypedDict):
    """The orchestration's custom status, as the Azure Portal shows it."""

    scanId: str
    targetType: str
    targetId: str
    phase: str
    progress: int
    totalItems: NotRequired[int]
    status: NotRequired[str]


def target_ref(target: ScanTarget) -> TargetRef:
    return {"targetType": target.target_type, "targetId": target.target_id, "config": target.config}


def scan_target(ref: TargetRef) -> ScanTarget:
    return ScanTarget(
        target_type=ref["targetType"], target_id=ref["targetId"], config=ref["config"]
    )


def scan_start(scan_id: str, target: ScanTarget) -> ScanStart:
    return {"scanId": scan_id, "target": target_ref(target)}
