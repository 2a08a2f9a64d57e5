"""Findings by severity, read from a scan's JSON report, and the gate a pipeline sets on them.
Pure functions: no I/O here."""

from __future__ import annotations

from typing import Any

from scanctl.errors import PASSED, SCAN_FAILED, THRESHOLD

SEVERITIES = ("critical", "high", "medium", "low", "info")  # most severe first
ENDED_BADLY = ("failed", "cancelled")
# Where a scan (the API's dict) carries the counts we read from its report: a key the API
# never uses (its own `findings` is a plain counter).
COUNTS = "scanctl:findingsBySeverity"
# ... and how many findings exceptions accept (listed, never counted in COUNTS).
ACCEPTED = "scanctl:acceptedFindings"
# ... and the findings new since its baseline: {"baseline": scan id or None, "total": n,
# "bySeverity": {...} or None when only the total is known}.
NEW = "scanctl:newFindings"


def at_or_above(threshold: str) -> tuple[str, ...]:
    """The severities a `--fail-on threshold` counts: the threshold and everything worse."""
    return SEVERITIES[: SEVERITIES.index(threshold) + 1]


def _count(findings: Any, counts: dict[str, int]) -> None:
    for finding in findings if isinstance(findings, list) else []:
        severity = finding.get("severity") if isinstance(finding, dict) else None
        if severity in counts:
            counts[severity] += 1


def severity_counts(report: dict[str, Any]) -> dict[str, int]:
    """Findings per severity (every severity present, zeros included) of a JSON report.

    Reports carry the complete counts in a summary (the common report's
    `summary.findingsBySeverity`, a repository report's `results.findings.bySeverity`); when
    neither is there, the listed findings are counted.
    """
    counts = dict.fromkeys(SEVERITIES, 0)
    summary = (report.get("summary") or {}).get("findingsBySeverity")
    if not isinstance(summary, dict):
        summary = ((report.get("results") or {}).get("findings") or {}).get("bySeverity")
    if isinstance(summary, dict):
        for severity in SEVERITIES:
            counts[severity] = int(summary.get(severity) or 0)
        return counts
    _count(report.get("findings"), counts)
    for item in report.get("items") or []:
        if isinstance(item, dict):
            _count(item.get("findings"), counts)
    return counts


def accepted_count(report: dict[str, Any]) -> int:
    """Findings of a JSON report that an exception accepts (its summary's `accepted`)."""
    accepted = (report.get("summary") or {}).get("accepted")
    return accepted if isinstance(accepted, int) else 0


def describe_counts(counts: dict[str, int] | None, only: tuple[str, ...] = SEVERITIES) -> str:
    """'2 high, 1 medium'; 'none' when all are zero; '' when unknown."""
    if counts is None:
        return ""
    parts = [f"{counts[s]} {s}" for s in only if counts.get(s)]
    return ", ".join(parts) if parts else "none"


class Gate:
    """The verdict over finished scans; `exit_code` is what the command ends with."""

    def __init__(self, fail_on: str | None, fail_on_new: bool) -> None:
        self.fail_on = fail_on
        self.fail_on_new = fail_on_new
        self.reasons: list[str] = []
        self.exit_code = PASSED

    @property
    def passed(self) -> bool:
        return self.exit_code == PASSED

    def document(self) -> dict[str, Any]:
        return {
            "failOn": self.fail_on,
            "failOnNew": self.fail_on_new,
            "passed": self.passed,
            "exitCode": self.exit_code,
            "reasons": self.reasons,
        }


def label(scan: dict[str, Any]) -> str:
    return f"{scan.get('targetType')} {scan.get('targetId')}"


def new_from_scan(scan: dict[str, Any]) -> dict[str, Any] | None:
    """What `NEW` holds, from the delta a completed scan carries (its total only); None when
    the service recorded none."""
    total = scan.get("newFindings")
    if not isinstance(total, int):
        return None
    comparison = (scan.get("results") or {}).get("comparison") or {}
    return {"baseline": comparison.get("baselineScanId"), "total": total, "bySeverity": None}


def new_from_comparison(comparison: dict[str, Any]) -> dict[str, Any]:
    """What `NEW` holds, from the API's comparison of a scan with its baseline."""
    findings = comparison.get("findings") or {}
    by_severity = (findings.get("bySeverity") or {}).get("new") or {}
    return {
        "baseline": (comparison.get("baseline") or {}).get("scanId"),
        "total": int((findings.get("counts") or {}).get("new") or 0),
        "bySeverity": {s: int(by_severity.get(s) or 0) for s in SEVERITIES},
    }


def _new_hit(scan: dict[str, Any], fail_on: str | None) -> str | None:
    new = scan.get(NEW) or {}
    since = f"since scan {new['baseline']}" if new.get("baseline") else "(no earlier scan)"
    if fail_on is None:
        if not new.get("total"):
            return None
        return f"{label(scan)}: {new['total']} new finding(s) {since} (--fail-on-new)"
    counted = at_or_above(fail_on)
    counts = new.get("bySeverity") or {}
    if not any(counts.get(s) for s in counted):
        return None
    found = describe_counts(counts, counted)
    return f"{label(scan)}: {found} finding(s) new {since} (--fail-on-new --fail-on {fail_on})"


def judge(scans: list[dict[str, Any]], fail_on: str | None, fail_on_new: bool) -> Gate:
    """A scan that failed or was cancelled outranks a threshold hit (its findings are partial).
    With --fail-on-new only new findings count (of --fail-on's severity or worse, if given)."""
    gate = Gate(fail_on, fail_on_new)
    failed = [s for s in scans if s.get("status") in ENDED_BADLY]
    for scan in failed:
        why = f": {scan['errorMessage']}" if scan.get("errorMessage") else ""
        gate.reasons.append(f"{label(scan)}: scan {scan['scanId']} {scan['status']}{why}")
    hits = []
    if fail_on_new:
        hits = [hit for scan in scans if (hit := _new_hit(scan, fail_on))]
    elif fail_on is not None:
        counted = at_or_above(fail_on)
        for scan in scans:
            counts = scan.get(COUNTS) or {}
            if any(counts.get(s) for s in counted):
                found = describe_counts(counts, counted)
                hits.append(f"{label(scan)}: {found} finding(s) reach --fail-on {fail_on}")
    gate.reasons += hits
    gate.exit_code = SCAN_FAILED if failed else THRESHOLD if hits else PASSED
    return gate
