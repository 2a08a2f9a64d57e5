"""Reports of a repository scan: JSON, SARIF 2.1.0, CSV and the HTML traceability matrix
(REQ -> US -> SPEC -> TC, coloured by status). Pure functions of the scan view, its item
results, the trace graph and the rule catalogue."""

from __future__ import annotations

import csv
import html
import io
import json
from collections import defaultdict
from typing import Any

from scanner.engine import Finding, ItemResult
from scanner.reports import (
    ACCEPTED_HEADER,
    CONTENT_TYPES,
    accepted_cells,
    accepted_note,
    findings_summary,
    run_guid,
    sarif_level,
    sarif_log,
    sarif_result,
)
from scanner.repository.graph import TraceGraph
from scanner.repository.model import Artifact, schema
from scanner.repository.rules import Rule

TOOL_NAME = "gxp-traceability-scan"
TOOL_VERSION = "1.0.0"
_SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
_GOOD = {"APPROVED", "VALIDATED", "VERIFIED"}
_PROGRESS = {"IMPLEMENTED", "IN_REVIEW", "IN_PROGRESS"}
_DRAFT = {"DRAFT", "PROPOSED"}
_RESULT_CLASS = {"passed": "ok", "failed": "bad", "error": "bad"}


def _findings(items: list[ItemResult]) -> list[Finding]:
    found = [f for item in items for f in item.findings]
    found.sort(
        key=lambda f: (
            _SEVERITY_ORDER.get(f.severity, 9),
            f.rule_id,
            str(f.location.get("file", "")),
            int(f.location.get("line") or 0),
        )
    )
    return found


def _commit(scan: dict[str, Any]) -> str:
    return str((scan.get("results") or {}).get("commitSha") or "")


# -- JSON ---------------------------------------------------------------------------------


def report_json(
    scan: dict[str, Any],
    items: list[ItemResult],
    graph: TraceGraph | None,
    rules: dict[str, Rule],
) -> str:
    by_item = {i.item_id: i for i in items}
    findings = _findings(items)
    per_artifact: dict[str, int] = defaultdict(int)
    for finding in findings:
        if finding.location.get("artifactId"):
            per_artifact[finding.location["artifactId"]] += 1
    document: dict[str, Any] = {
        "tool": {"name": TOOL_NAME, "version": TOOL_VERSION},
        "scan": {
            k: scan.get(k)
            for k in ("scanId", "targetId", "status", "startedAt", "completedAt", "errorMessage")
        },
        "results": scan.get("results"),
        # What gates read: the findings not accepted (the stored results count every one).
        "summary": findings_summary(findings),
        "rules": [
            {
                "id": rule.id,
                "title": rule.title,
                "severity": rule.severity,
                "family": rule.family,
                "rationale": rule.rationale,
                "remediation": rule.remediation,
                "frameworks": rule.frameworks,
                "status": by_item[rule.id].status if rule.id in by_item else "not run",
                "findings": int(by_item[rule.id].data.get("findingsTotal", 0))
                if rule.id in by_item
                else 0,
                "error": by_item[rule.id].error if rule.id in by_item else None,
            }
            for rule in rules.values()
        ],
        "findings": [f.model_dump(mode="json") for f in findings],
        "artifacts": [
            {
                "id": a.gxp_id,
                "type": a.type,
                "file": a.path,
                "title": a.title,
                "status": a.value("status"),
                "validationStatus": a.value("validation_status"),
                "parents": list(a.parents),
                "specifications": list(a.spec_refs),
                "findings": per_artifact.get(a.gxp_id, 0),
            }
            for a in (graph.artifacts if graph else [])
        ],
    }
    return json.dumps(document, indent=1)


# -- SARIF 2.1.0 --------------------------------------------------------------------------


def _sarif_rule(rule: Rule) -> dict[str, Any]:
    tags = [f"{name} {clause}" for name, clauses in rule.frameworks.items() for clause in clauses]
    return {
        "id": rule.id,
        "name": "".join(word.capitalize() for word in rule.title.replace("-", " ").split()),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": rule.remediation, "markdown": f"**Remediation:** {rule.remediation}"},
        "defaultConfiguration": {"level": sarif_level(rule.severity)},
        "properties": {"severity": rule.severity, "family": rule.family, "tags": ["gxp", *tags]},
    }


def report_sarif(
    scan: dict[str, Any],
    items: list[ItemResult],
    graph: TraceGraph | None,
    rules: dict[str, Rule],
) -> str:
    rule_list = list(rules.values())
    rule_index = {rule.id: n for n, rule in enumerate(rule_list)}
    results = []
    for finding in _findings(items):
        where = finding.location
        physical: dict[str, Any] = {
            "artifactLocation": {"uri": str(where.get("file", "")), "uriBaseId": "REPOROOT"},
            "region": {"startLine": max(1, int(where.get("line") or 1))},
        }
        result = sarif_result(
            finding,
            [{"physicalLocation": physical}],
            properties={"severity": finding.severity},
        )
        if finding.rule_id in rule_index:
            result["ruleIndex"] = rule_index[finding.rule_id]
        if where.get("artifactId"):
            result["properties"]["artifactId"] = where["artifactId"]
            result["locations"][0]["logicalLocations"] = [
                {"name": str(where["artifactId"]), "kind": "object"}
            ]
        results.append(result)
    summary = scan.get("results") or {}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "version": TOOL_VERSION,
                "rules": [_sarif_rule(rule) for rule in rule_list],
            }
        },
        "automationDetails": {"guid": run_guid(scan.get("scanId"))},
        "originalUriBaseIds": {
            "REPOROOT": {"description": {"text": f"repository root at commit {_commit(scan)}"}}
        },
        "invocations": [
            {
                "executionSuccessful": scan.get("status") == "completed",
                "startTimeUtc": scan.get("startedAt"),
                "endTimeUtc": scan.get("completedAt"),
                "toolExecutionNotifications": [
                    {"level": "error", "message": {"text": i.error or "rule failed"}}
                    for i in items
                    if i.status == "error"
                ],
            }
        ],
        "results": results,
        "properties": {
            "scanId": scan.get("scanId"),
            "targetId": scan.get("targetId"),
            "commitSha": _commit(scan),
        },
    }
    repository = str(summary.get("repository") or "")
    if _commit(scan):
        uri = repository if "://" in repository else f"file://{repository}"
        run["versionControlProvenance"] = [
            {
                "repositoryUri": uri,
                "revisionId": _commit(scan),
                **({"branch": summary["branch"]} if summary.get("branch") else {}),
                "mappedTo": {"uriBaseId": "REPOROOT"},
            }
        ]
    run["invocations"][0] = {k: v for k, v in run["invocations"][0].items() if v is not None}
    return sarif_log(run, indent=1)


# -- CSV ----------------------------------------------------------------------------------


def report_csv(
    scan: dict[str, Any],
    items: list[ItemResult],
    graph: TraceGraph | None,
    rules: dict[str, Rule],
) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "rule_id",
            "severity",
            "title",
            "artifact_id",
            "artifact_type",
            "file",
            "line",
            "message",
            "commit",
            "remediation",
            *ACCEPTED_HEADER,
        ]
    )
    commit = _commit(scan)
    for f in _findings(items):
        where = f.location
        writer.writerow(
            [
                f.rule_id,
                f.severity,
                f.title,
                _safe_cell(str(where.get("artifactId") or "")),
                where.get("artifactType") or "",
                _safe_cell(str(where.get("file") or "")),
                where.get("line") or "",
                _safe_cell(f.message),
                commit,
                f.remediation,
                *accepted_cells(f),
            ]
        )
    return out.getvalue()


def _safe_cell(value: str) -> str:
    """Neutralise spreadsheet formulas in text taken from the repository."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


# -- HTML traceability matrix -------------------------------------------------------------

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #aaa;padding:3px 7px;vertical-align:top;font-size:13px}
th{background:#eee}
.ok{background:#d4f0d4}.progress{background:#fde9b8}.draft{background:#e4e4e4}
.bad{background:#f6c8c8}.gap{background:#f6c8c8;font-style:italic;color:#8a1010}
.none{background:#fff;color:#999}
.flag{color:#a00000;font-weight:bold;font-size:11px}
.sev-critical,.sev-high{background:#f6c8c8}.sev-medium{background:#fde9b8}.sev-low{background:#eef}
.accepted{background:#eee;color:#555}
small{color:#555}
"""


def _state(artifact: Artifact) -> str:
    validation = artifact.value("validation_status") or ""
    status = artifact.value("status") or ""
    if validation in _GOOD or (status in _GOOD and not validation):
        return "ok"
    if validation == "REJECTED" or status in ("DEPRECATED", "OBSOLETE"):
        return "bad"
    if status in _PROGRESS or validation in _PROGRESS:
        return "progress"
    if status in _DRAFT or validation in _DRAFT:
        return "draft"
    return "bad"


def _cell(
    artifact: Artifact | None,
    flags: dict[str, list[str]],
    rowspan: int,
    gap: str | None = None,
) -> str:
    span = f" rowspan='{rowspan}'" if rowspan > 1 else ""
    e = html.escape
    if artifact is None:
        if gap is None:
            return f"<td class='none'{span}>&mdash;</td>"
        return f"<td class='gap'{span}>{e(gap)}</td>"
    rules = flags.get(artifact.gxp_id, [])
    flag = (
        f"<br><span class='flag' title='{e(', '.join(sorted(set(rules))))}'>"
        f"{len(rules)} finding{'s' if len(rules) != 1 else ''}</span>"
        if rules
        else ""
    )
    status = " / ".join(
        v for v in (artifact.value("status"), artifact.value("validation_status")) if v
    )
    return (
        f"<td class='{_state(artifact)}'{span}><b>{e(artifact.gxp_id)}</b> {e(artifact.title)}"
        f"<br><small>{e(status or 'no status')} &middot; {e(artifact.path)}</small>{flag}</td>"
    )


def _matrix_rows(graph: TraceGraph, flags: dict[str, list[str]]) -> tuple[list[str], set[str]]:
    """Rows of the matrix and the ids it shows."""
    shown: set[str] = set()
    rows: list[str] = []
    requirements = sorted((a for a in graph.artifacts if a.type == "REQ"), key=lambda a: a.gxp_id)
    for req in requirements:
        shown.add(req.gxp_id)
        # story -> [(spec or gap, [test or gap])]
        blocks: list[tuple[Artifact, list[tuple[Artifact | None, str | None, list[Any]]]]] = []
        for story in sorted(graph.children_of(req, "US"), key=lambda a: a.gxp_id):
            shown.add(story.gxp_id)
            specs: list[tuple[Artifact | None, str | None, list[Any]]] = []
            for spec_id in graph.specifications_of(story):
                spec = graph.get(spec_id)
                if spec is None:
                    specs.append((None, f"{spec_id} missing", [(None, "no test")]))
                    continue
                shown.add(spec.gxp_id)
                spec_tests = sorted(graph.children_of(spec, "TC"), key=lambda a: a.gxp_id)
                shown.update(t.gxp_id for t in spec_tests)
                specs.append((spec, None, [(t, None) for t in spec_tests] or [(None, "no test")]))
            direct = sorted(graph.children_of(story, "TC"), key=lambda a: a.gxp_id)
            shown.update(t.gxp_id for t in direct)
            if direct:
                # tests directly under the story; "no specification" when it has none at all
                spec_gap = None if specs else "no specification"
                specs.append((None, spec_gap, [(t, None) for t in direct]))
            if not specs:
                gap_test = "no test" if story.scenarios == 0 else f"{story.scenarios} scenario(s)"
                specs.append((None, "no specification", [(None, gap_test)]))
            blocks.append((story, specs))
        if not blocks:
            rows.append(
                "<tr>"
                + _cell(req, flags, 1)
                + _cell(None, flags, 1, "no story")
                + _cell(None, flags, 1)
                + _cell(None, flags, 1)
                + "</tr>"
            )
            continue
        req_span = sum(len(tests) for _, specs in blocks for _, _, tests in specs)
        first_req = True
        for story, specs in blocks:
            story_span = sum(len(tests) for _, _, tests in specs)
            first_story = True
            for spec, spec_gap, tests in specs:
                first_spec = True
                for test, test_gap in tests:
                    cells = []
                    if first_req:
                        cells.append(_cell(req, flags, req_span))
                        first_req = False
                    if first_story:
                        cells.append(_cell(story, flags, story_span))
                        first_story = False
                    if first_spec:
                        cells.append(_cell(spec, flags, len(tests), spec_gap))
                        first_spec = False
                    cells.append(_cell(test, flags, 1, test_gap))
                    rows.append("<tr>" + "".join(cells) + "</tr>")
    return rows, shown


def report_html(
    scan: dict[str, Any],
    items: list[ItemResult],
    graph: TraceGraph | None,
    rules: dict[str, Rule],
) -> str:
    e = html.escape
    findings = _findings(items)
    flags: dict[str, list[str]] = defaultdict(list)
    for finding in findings:
        if finding.location.get("artifactId"):
            flags[str(finding.location["artifactId"])].append(finding.rule_id)
    summary = scan.get("results") or {}
    counts = (summary.get("artifacts") or {}).get("byType") or {}
    title = f"GxP traceability: {scan.get('targetId', '')} at {_commit(scan)[:12] or '?'}"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        "<table>",
        f"<tr><th>Repository</th><td>{e(str(summary.get('repository') or ''))}</td></tr>",
        f"<tr><th>Commit</th><td><code>{e(_commit(scan))}</code> "
        f"({e(str(summary.get('ref') or ''))})</td></tr>",
        f"<tr><th>Scan</th><td>{e(str(scan.get('scanId', '')))}: {e(str(scan.get('status')))}"
        f", completed {e(str(scan.get('completedAt') or ''))}</td></tr>",
        "<tr><th>Artifacts</th><td>"
        + ", ".join(f"{e(str(k))}: {int(v)}" for k, v in counts.items())
        + "</td></tr>",
        f"<tr><th>Findings</th><td>{len(findings)}"
        f" ({sum(1 for f in findings if f.accepted)} accepted)</td></tr></table>",
        "<p>Colours: <span class='ok'>validated / approved</span> "
        "<span class='progress'>implemented or in review, not validated</span> "
        "<span class='draft'>draft</span> <span class='bad'>rejected, retired or unknown</span> "
        "<span class='gap'>missing link</span></p>",
        "<h2>Traceability matrix</h2>",
        "<table class='matrix'><tr><th>Requirement</th><th>User story</th>"
        "<th>Specification</th><th>Test</th></tr>",
    ]
    shown: set[str] = set()
    if graph is not None:
        rows, shown = _matrix_rows(graph, flags)
        parts += rows
    parts.append("</table>")
    if graph is not None:
        untraced = [a for a in graph.artifacts if a.gxp_id not in shown]
        if untraced:
            parts.append("<h2>Not traced to a requirement</h2><table>")
            parts.append("<tr><th>Document</th><th>Type</th><th>Parent</th></tr>")
            for artifact in sorted(untraced, key=lambda a: (a.type or "", a.gxp_id)):
                kind = schema().types[artifact.type].name if artifact.type else "unknown"
                parts.append(
                    "<tr>"
                    + _cell(artifact, flags, 1)
                    + f"<td>{e(kind)}</td><td>{e(', '.join(artifact.parents) or '-')}</td></tr>"
                )
            parts.append("</table>")
    parts.append("<h2>Rules</h2><table><tr><th>Rule</th><th>Severity</th><th>Title</th>")
    parts.append("<th>Result</th><th>Findings</th></tr>")
    by_item = {i.item_id: i for i in items}
    for rule in rules.values():
        item = by_item.get(rule.id)
        status = item.status if item else "not run"
        total = int(item.data.get("findingsTotal", 0)) if item else 0
        parts.append(
            f"<tr><td>{e(rule.id)}</td><td class='sev-{e(rule.severity)}'>{e(rule.severity)}</td>"
            f"<td>{e(rule.title)}</td><td class='{_RESULT_CLASS.get(status, 'none')}'>"
            f"{e(status)}</td><td>{total}</td></tr>"
        )
    parts.append("</table><h2>Findings</h2><table><tr><th>Severity</th><th>Rule</th>")
    parts.append("<th>Location</th><th>Message</th></tr>")
    for finding in findings:
        where = finding.location
        parts.append(
            f"<tr class='{'accepted' if finding.accepted else 'sev-' + e(finding.severity)}'>"
            f"<td>{e(finding.severity)}</td><td>{e(finding.rule_id)}</td>"
            f"<td>{e(str(where.get('file', '')))}:{e(str(where.get('line', '')))}</td>"
            f"<td>{e(finding.message)}{accepted_note(finding)}</td></tr>"
        )
    parts.append("</table></body></html>")
    return "".join(parts)


_RENDERERS = {
    "json": report_json,
    "sarif": report_sarif,
    "csv": report_csv,
    "html": report_html,
}


def render(
    fmt: str,
    scan: dict[str, Any],
    items: list[ItemResult],
    graph: TraceGraph | None,
    rules: dict[str, Rule],
) -> tuple[str, str] | None:
    """(content type, body), or None for a format this engine leaves to scanner.reports."""
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        return None
    return CONTENT_TYPES[fmt], renderer(scan, items, graph, rules)
