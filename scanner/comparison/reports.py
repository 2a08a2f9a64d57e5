"""A comparison document as JSON, CSV, HTML or SARIF 2.1.0. Pure functions.

SARIF: the scan's findings with `baselineState` "new" or "unchanged", and the baseline's
resolved findings with "absent" (SARIF 2.1.0, result.baselineState), so code-scanning tools
show the delta; `run.baselineGuid` names the baseline's run (the guid of its own SARIF report).
"""

from __future__ import annotations

import csv
import html
import io
import json
from typing import Any

from scanner.comparison.document import change_rows
from scanner.comparison.findings import STATES
from scanner.engine import Acceptance, Finding
from scanner.reports import (
    CONTENT_TYPES,
    FORMATS,
    run_guid,
    sarif_locations,
    sarif_log,
    sarif_result,
    sarif_rule,
)

BASELINE_STATE = {"new": "new", "unchanged": "unchanged", "resolved": "absent"}
_SUBJECT_KEYS = ("artifactId", "resourceId", "file", "path", "subject", "package", "mount")


def _finding(entry: dict[str, Any]) -> Finding:
    shown = ("title", "severity", "message", "location")
    accepted = entry.get("accepted")
    return Finding(
        rule_id=entry["ruleId"],
        **{key: entry[key] for key in shown},
        accepted=Acceptance(
            exception_id=accepted["exceptionId"],
            reason=accepted["reason"],
            owner=accepted["owner"],
            expires_at=accepted["expiresAt"],
        )
        if accepted
        else None,
    )


def subject_of(location: dict[str, Any]) -> str:
    """What a finding is about, in a word (for tables)."""
    for key in _SUBJECT_KEYS:
        if location.get(key):
            return str(location[key])
    return ""


def report_json(document: dict[str, Any]) -> str:
    return json.dumps(document)


def report_sarif(document: dict[str, Any]) -> str:
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for state in ("new", "unchanged", "resolved"):
        for entry in document["findings"][state]:
            finding = _finding(entry)
            rules.setdefault(finding.rule_id, sarif_rule(finding))
            results.append(
                sarif_result(finding, sarif_locations(finding), baselineState=BASELINE_STATE[state])
            )
    baseline = document.get("baseline")
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "scan-orchestrator", "rules": list(rules.values())}},
        "automationDetails": {
            "id": f"{document['targetType']}/{document['targetId']}/{document['scanId']}",
            "guid": run_guid(document["scanId"]),
        },
        "results": results,
        "properties": {
            "scanId": document["scanId"],
            "targetType": document["targetType"],
            "targetId": document["targetId"],
            "baselineScanId": baseline["scanId"] if baseline else None,
        },
    }
    if baseline:
        run["baselineGuid"] = run_guid(baseline["scanId"])
    return sarif_log(run)


CSV_HEADER = (
    "section",
    "change",
    "subject",
    "field",
    "from",
    "to",
    "severity",
    "rule",
    "message",
    "accepted_by",
)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def report_csv(document: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for state in STATES:
        for entry in document["findings"][state]:
            writer.writerow(
                [
                    "findings",
                    state,
                    subject_of(entry["location"]),
                    _text(entry["location"].get("field")),
                    "",
                    "",
                    entry["severity"],
                    entry["ruleId"],
                    entry["message"],
                    (entry.get("accepted") or {}).get("exceptionId", ""),
                ]
            )
    for section, change, subject, field, before, after in change_rows(document):
        row = [section, change, subject, field, _text(before), _text(after), "", "", "", ""]
        writer.writerow(row)
    return out.getvalue()


def _table(headers: tuple[str, ...], rows: list[list[str]], css: str = "") -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join(
        f"<tr class='{e(css)}'>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _accepted(entry: dict[str, Any]) -> str:
    accepted = entry.get("accepted")
    if not accepted:
        return ""
    until = str(accepted["expiresAt"])[:10]
    return f"{accepted['exceptionId']} ({accepted['owner']}, until {until}): {accepted['reason']}"


def report_html(document: dict[str, Any]) -> str:
    e = html.escape
    baseline = document.get("baseline")
    against = f"scan {baseline['scanId']}" if baseline else "no earlier scan (every finding is new)"
    title = (
        f"What changed: {document['targetType']} {document['targetId']}, scan {document['scanId']}"
    )
    counts = document["findings"]["counts"]
    accepted = document["findings"].get("accepted") or {}
    parts = [
        f"<h1>{e(title)}</h1><p>Compared with {e(against)}.</p>",
        _table(("new", "resolved", "unchanged"), [[str(counts[s]) for s in STATES]]),
        f"<p>Accepted (covered by an exception, not counted above): "
        f"{e(', '.join(f'{n} {s}' for s, n in accepted.items() if n) or 'none')}</p>",
    ]
    for state in STATES:
        entries = document["findings"][state]
        rows = [
            [f["severity"], f["ruleId"], subject_of(f["location"]), f["message"], _accepted(f)]
            for f in entries
        ]
        table = _table(("Severity", "Rule", "About", "Message", "Accepted"), rows, state)
        heading = f"{state.capitalize()} findings ({len(entries)})"
        if state == "unchanged":
            parts.append(f"<details><summary>{e(heading)}</summary>{table}</details>")
        else:
            parts.append(f"<h2>{e(heading)}</h2>{table}")
    facts = document.get("facts")
    if facts is not None:
        rows = [[_text(c) for c in row] for row in change_rows(document)]
        parts.append(f"<h2>Facts changed ({len(rows)})</h2>")
        parts.append(_table(("Section", "Change", "Subject", "Field", "From", "To"), rows))
        skipped = facts.get("notCompared") or {}
        if skipped:
            parts.append("<h2>Not compared</h2>")
            parts.append(_table(("Facts", "Why"), [[k, v] for k, v in sorted(skipped.items())]))
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{e(title)}</title><style>"
        "body{font-family:sans-serif}table{border-collapse:collapse;margin-bottom:1em}"
        "td,th{border:1px solid #999;padding:4px 8px;text-align:left}"
        ".new{background:#f8d0d0}.resolved{background:#d8f0d8}"
        "</style></head><body>" + "".join(parts) + "</body></html>"
    )


_RENDERERS = {"json": report_json, "sarif": report_sarif, "csv": report_csv, "html": report_html}


def render(fmt: str, document: dict[str, Any]) -> tuple[str, str]:
    """(content type, body) of the comparison in `fmt`; ValueError for an unknown format."""
    if fmt not in _RENDERERS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    return CONTENT_TYPES[fmt], _RENDERERS[fmt](document)
