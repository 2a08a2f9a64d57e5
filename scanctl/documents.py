"""The JSON documents scanctl prints with `-o json`: one stable shape per kind of answer,
described by docs/scanctl-output.schema.json. The API's fields are mapped here, once, so a
new API field never changes what a pipeline reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from scanctl.findings import COUNTS

SCHEMA_VERSION = 1
# A target's common fields: ours <- the API's; everything else is the kind's own settings.
_TARGET_FIELDS = {
    "kind": "targetType",
    "id": "id",
    "name": "name",
    "schedule": "schedule",
    "createdAt": "createdAt",
    "updatedAt": "updatedAt",
    "lastScannedAt": "lastScannedAt",
    "lastScanId": "lastScanId",
    "lastStatus": "lastStatus",
}


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def duration_s(scan: dict[str, Any]) -> float | None:
    """Seconds from start to end (or to now's last answer: None while it runs)."""
    began, ended = (
        _time(scan.get("startedAt") or scan.get("createdAt")),
        _time(scan.get("completedAt")),
    )
    if began is None or ended is None:
        return None
    return round(max((ended - began).total_seconds(), 0.0), 3)


def scan_document(scan: dict[str, Any], base_url: str) -> dict[str, Any]:
    """One scan as scanctl prints it; `findings` is null until the scan's report was read."""
    return {
        "scanId": scan.get("scanId") or scan.get("id"),
        "targetType": scan.get("targetType"),
        "targetId": scan.get("targetId"),
        "status": scan.get("status"),
        "progress": scan.get("progress", 0),
        "phase": scan.get("currentPhase"),
        "step": scan.get("currentStep"),
        "trigger": scan.get("trigger"),
        "createdAt": scan.get("createdAt"),
        "startedAt": scan.get("startedAt"),
        "completedAt": scan.get("completedAt"),
        "durationSeconds": duration_s(scan),
        "errorMessage": scan.get("errorMessage"),
        "findings": _findings(scan.get(COUNTS)),
        "newFindings": scan.get("newFindings"),
        "resolvedFindings": scan.get("resolvedFindings"),
        "counters": scan.get("counters") or {},
        "results": scan.get("results"),
        "items": scan.get("items"),
        "url": f"{base_url}/api/v1/scans/{scan.get('scanId') or scan.get('id')}",
    }


def _findings(counts: dict[str, int] | None) -> dict[str, int] | None:
    if counts is None:
        return None
    return {"total": sum(counts.values()), **counts}


def target_document(target: dict[str, Any]) -> dict[str, Any]:
    """One registered target; its kind's own settings under `settings`."""
    common = set(_TARGET_FIELDS.values())
    return {
        **{ours: target.get(theirs) for ours, theirs in _TARGET_FIELDS.items()},
        "settings": {k: v for k, v in target.items() if k not in common},
    }


def scans_output(
    scans: list[dict[str, Any]],
    base_url: str,
    continuation: str | None = None,
    gate: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "kind": "scans",
        "scans": [scan_document(s, base_url) for s in scans],
        "continuationToken": continuation,
        "gate": gate,
    }


def diff_output(comparison: dict[str, Any]) -> dict[str, Any]:
    """The service's comparison document as it is (docs/scan-comparison.md describes it)."""
    return {"schemaVersion": SCHEMA_VERSION, "kind": "diff", "diff": comparison}


def targets_output(
    targets: list[dict[str, Any]], continuation: str | None = None
) -> dict[str, Any]:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "kind": "targets",
        "targets": [target_document(t) for t in targets],
        "continuationToken": continuation,
    }
