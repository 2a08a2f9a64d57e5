"""Findings reports of a scan: JSON, SARIF 2.1.0, CSV and HTML. Pure functions.

Engines with richer reports (the repository engine's traceability matrix) add their own;
this is the common form every scan has.
"""

from __future__ import annotations

import csv
import html
import io
import json
import uuid
from typing import Any

from scanner.engine import Finding, ItemResult
from scanner.fingerprint import SARIF_KEY
from scanner.mutelist import counted

FORMATS = ("json", "sarif", "csv", "html")
CONTENT_TYPES = {
    "json": "application/json",
    "sarif": "application/sarif+json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
_SARIF_LEVEL = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "note",
    "info": "note",
}
_SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_RUN_NAMESPACE = uuid.UUID("6f1d2c1e-52a4-4d7a-9b0e-3c8f6a7d5e21")  # SARIF run guids of scans


def _findings(items: list[ItemResult]) -> list[Finding]:
    return [finding for item in items for finding in item.findings]


def findings_summary(findings: list[Finding]) -> dict[str, Any]:
    """The counts a gate reads: findings not accepted, by severity; accepted ones apart."""
    open_findings = counted(findings)
    by_severity: dict[str, int] = {}
    for finding in open_findings:
        by_severity[finding.severity] = by_severity.get(finding.severity, 0) + 1
    return {
        "findings": len(open_findings),
        "findingsBySeverity": by_severity,
        "accepted": len(findings) - len(open_findings),
    }


def report_json(scan: dict[str, Any], items: list[ItemResult]) -> str:
    findings = _findings(items)
    document = {
        "scan": scan,
        "summary": {
            "items": len(items),
            "itemsByStatus": {
                status: sum(1 for i in items if i.status == status)
                for status in sorted({i.status for i in items})
            },
            **findings_summary(findings),
        },
        "items": [
            {
                "itemId": i.item_id,
                "title": i.title,
                "status": i.status,
                "error": i.error,
                "findings": [f.model_dump(mode="json") for f in i.findings],
            }
            for i in sorted(items, key=lambda i: i.item_id)
        ],
    }
    return json.dumps(document, indent=2)


def sarif_locations(finding: Finding) -> list[dict[str, Any]]:
    where = finding.location
    path = where.get("file") or where.get("path")
    if path:
        region = {"startLine": int(where["line"])} if str(where.get("line", "")).isdigit() else {}
        physical: dict[str, Any] = {"artifactLocation": {"uri": str(path)}}
        if region:
            physical["region"] = region
        return [{"physicalLocation": physical}]
    resource = where.get("resourceId") or where.get("resource") or where.get("target")
    if resource:
        return [{"logicalLocations": [{"fullyQualifiedName": str(resource)}]}]
    return []


def sarif_rule(finding: Finding) -> dict[str, Any]:
    return {
        "id": finding.rule_id,
        "name": finding.rule_id,
        "shortDescription": {"text": finding.title},
        "help": {"text": finding.remediation or finding.title},
        "properties": {"severity": finding.severity},
    }


def sarif_result(finding: Finding, locations: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """One SARIF result for a finding; `fingerprints` carries its stable identity (`extra`:
    properties, rule index, baseline state). An accepted finding carries an external,
    accepted `suppression` with the exception's reason, so SARIF viewers hide it."""
    result = {
        "ruleId": finding.rule_id,
        "level": sarif_level(finding.severity),
        "message": {"text": finding.message},
        "locations": locations,
        "fingerprints": {SARIF_KEY: finding.fingerprint},
        **extra,
    }
    if finding.accepted is not None:
        result["suppressions"] = [sarif_suppression(finding)]
    return result


def sarif_suppression(finding: Finding) -> dict[str, Any]:
    accepted = finding.accepted
    assert accepted is not None
    return {
        "kind": "external",
        "status": "accepted",
        "justification": accepted.reason,
        "properties": {
            "exceptionId": accepted.exception_id,
            "owner": accepted.owner,
            "expiresAt": accepted.expires_at.isoformat(),
        },
    }


def accepted_cells(finding: Finding | None) -> list[str]:
    """The CSV cells of a finding's acceptance: exception id, reason, owner, expiry."""
    accepted = finding.accepted if finding is not None else None
    if accepted is None:
        return ["", "", "", ""]
    return [
        accepted.exception_id,
        safe_cell(accepted.reason),
        safe_cell(accepted.owner),
        accepted.expires_at.isoformat(),
    ]


def safe_cell(value: str) -> str:
    """Neutralise spreadsheet formulas in text people or scanned systems wrote."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


ACCEPTED_HEADER = ["accepted_by", "accepted_reason", "accepted_owner", "accepted_until"]


def run_guid(scan_id: Any) -> str:
    """The SARIF run guid of a scan's findings (a comparison names its baseline's)."""
    return str(uuid.uuid5(_RUN_NAMESPACE, str(scan_id)))


def sarif_log(run: dict[str, Any], indent: int = 2) -> str:
    """A SARIF 2.1.0 log of one run."""
    return json.dumps({"$schema": _SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=indent)


def sarif_level(severity: str) -> str:
    return _SARIF_LEVEL.get(severity, "note")


def report_sarif(
    scan: dict[str, Any], items: list[ItemResult], tool: str = "scan-orchestrator"
) -> str:
    findings = _findings(items)
    rules: dict[str, dict[str, Any]] = {}
    for finding in findings:
        rules.setdefault(finding.rule_id, sarif_rule(finding))
    return sarif_log(
        {
            "tool": {"driver": {"name": tool, "rules": list(rules.values())}},
            "automationDetails": {"guid": run_guid(scan.get("scanId"))},
            "results": [sarif_result(f, sarif_locations(f)) for f in findings],
            "properties": {"scanId": scan.get("scanId"), "targetId": scan.get("targetId")},
        }
    )


def report_csv(scan: dict[str, Any], items: list[ItemResult]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["item", "item_status", "rule", "severity", "title", "message", "location"]
    writer.writerow([*header, *ACCEPTED_HEADER])
    for item in sorted(items, key=lambda i: i.item_id):
        if not item.findings:
            row = [item.item_id, item.status, "", "", item.title, item.error or "", ""]
            writer.writerow([*row, *accepted_cells(None)])
        for finding in item.findings:
            location = json.dumps(finding.location, sort_keys=True) if finding.location else ""
            writer.writerow(
                [
                    item.item_id,
                    item.status,
                    finding.rule_id,
                    finding.severity,
                    finding.title,
                    finding.message,
                    location,
                    *accepted_cells(finding),
                ]
            )
    return out.getvalue()


def report_html(scan: dict[str, Any], items: list[ItemResult]) -> str:
    e = html.escape
    accepted = sum(1 for f in _findings(items) if f.accepted)
    rows = []
    for item in sorted(items, key=lambda i: i.item_id):
        for finding in item.findings or [None]:  # type: ignore[list-item]
            if finding is None:
                rows.append(
                    f"<tr class='{e(item.status)}'><td>{e(item.item_id)}</td><td>{e(item.status)}"
                    f"</td><td></td><td></td><td>{e(item.error or item.title)}</td></tr>"
                )
            else:
                css = "accepted" if finding.accepted else finding.severity
                rows.append(
                    f"<tr class='{e(css)}'><td>{e(item.item_id)}</td>"
                    f"<td>{e(item.status)}</td><td>{e(finding.rule_id)}</td>"
                    f"<td>{e(finding.severity)}</td><td>{e(finding.message)}"
                    f"{accepted_note(finding)}</td></tr>"
                )
    title = (
        f"Scan {scan.get('scanId', '')} of {scan.get('targetType', '')} {scan.get('targetId', '')}"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{e(title)}</title><style>"
        "body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:4px 8px}"
        ".critical,.high,.error{background:#f8d0d0}.medium,.failed{background:#fbe8c0}"
        ".low,.info{background:#eef}.passed{background:#d8f0d8}.accepted{background:#eee;color:#555}"
        f"</style></head><body><h1>{e(title)}</h1>"
        f"<p>Status: {e(str(scan.get('status', '')))}</p>"
        f"<p>Accepted findings (covered by an exception, not counted): {accepted}</p>"
        "<table><tr><th>Item</th><th>Status</th><th>Rule</th><th>Severity</th><th>Message</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )


def accepted_note(finding: Finding) -> str:
    """An HTML note on an accepted finding: by which exception, why, whose, until when."""
    accepted = finding.accepted
    if accepted is None:
        return ""
    e = html.escape
    return (
        f"<br><small class='accepted-note'>Accepted ({e(accepted.exception_id)}) by "
        f"{e(accepted.owner)} until {e(accepted.expires_at.date().isoformat())}: "
        f"{e(accepted.reason)}</small>"
    )


def render(fmt: str, scan: dict[str, Any], items: list[ItemResult]) -> tuple[str, str]:
    """(content type, body) of the report in `fmt`; ValueError for an unknown format."""
    renderers = {"json": report_json, "sarif": report_sarif, "csv": report_csv, "html": report_html}
    if fmt not in renderers:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    return CONTENT_TYPES[fmt], renderers[fmt](scan, items)
