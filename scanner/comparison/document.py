"""The comparison of a scan with its baseline, as one JSON document (the API's answer).

    {"scanId", "targetType", "targetId", "scan": {...}, "baseline": {...} | null,
     "findings": {"counts", "bySeverity", "byRule", "new", "resolved", "unchanged"},
     "facts": {...per kind...} | null}

Without a baseline every finding of the scan is new and there are no facts to compare.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scanner.comparison.findings import FindingsDelta, compare_findings, findings_section
from scanner.comparison.host_facts import HOST_ROWS, host_facts
from scanner.comparison.repository_facts import repository_facts, repository_rows
from scanner.comparison.snapshot import ChangeRow, CompareOptions, ScanSnapshot, rows_from
from scanner.comparison.subscription_facts import subscription_facts, subscription_rows

FactsOf = Callable[[ScanSnapshot, ScanSnapshot, CompareOptions, FindingsDelta], dict[str, Any]]

FACTS: dict[str, FactsOf] = {
    "host": lambda baseline, current, options, _: host_facts(baseline, current, options),
    "repository": lambda baseline, current, options, _: repository_facts(
        baseline, current, options
    ),
    "subscription": subscription_facts,
}
ROWS: dict[str, Callable[[dict[str, Any]], list[ChangeRow]]] = {
    "host": lambda facts: rows_from(facts, HOST_ROWS),
    "repository": repository_rows,
    "subscription": subscription_rows,
}


def _about(scan: ScanSnapshot) -> dict[str, Any]:
    return {"scanId": scan.scan_id, "completedAt": scan.completed_at}


def compare_scans(
    current: ScanSnapshot,
    baseline: ScanSnapshot | None,
    options: CompareOptions | None = None,
) -> dict[str, Any]:
    """The comparison document of `current` against `baseline` (None: no earlier scan)."""
    options = options or CompareOptions()
    delta = compare_findings(baseline.findings() if baseline else [], current.findings())
    facts = None
    if baseline is not None and current.target_type in FACTS:
        facts = FACTS[current.target_type](baseline, current, options, delta)
    return {
        "scanId": current.scan_id,
        "targetType": current.target_type,
        "targetId": current.target_id,
        "scan": _about(current),
        "baseline": _about(baseline) if baseline else None,
        "findings": findings_section(delta),
        "facts": facts,
    }


def change_rows(document: dict[str, Any]) -> list[ChangeRow]:
    """The facts of a comparison document as flat rows (none without a baseline)."""
    facts = document.get("facts")
    rows_of = ROWS.get(str(document.get("targetType")))
    return rows_of(facts) if facts and rows_of else []
