"""Reports of a repository scan: the HTML traceability matrix (gaps, colours, untraced
documents), SARIF 2.1.0 structure, CSV safety."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from scanner.engine import ItemResult
from scanner.repository.engine import rule_findings
from scanner.repository.graph import TraceGraph
from scanner.repository.reports import render
from scanner.repository.rules import catalogue
from tests.scanner.repository.conftest import index_of
from tests.support.git_repos import (
    GitRepo,
    clean_tree,
    requirement,
    specification,
    story,
    tc_document,
)


def scan_of(tmp_path: Path) -> tuple[dict, list[ItemResult], TraceGraph]:
    repo = GitRepo(tmp_path / "r")
    repo.write_artifacts(clean_tree())
    repo.write("reqs/REQ-002.md", requirement("REQ-002", title="<script>alert(1)</script>"))
    repo.write("stories/US-001-002.md", story("US-001-002", "REQ-001", spec="SPEC-001-009"))
    repo.write("tests/TC-001-002-01.md", tc_document("TC-001-002-01", "US-001-002"))
    repo.write("specs/SPEC-003-001.md", specification("SPEC-003-001", None))  # orphan
    repo.write("=evil.md", "---\ngxp_id: '=HYPERLINK(1)'\n---\n")
    repo.commit("gaps")
    graph = TraceGraph(index_of(repo))
    items = []
    for rule in catalogue().values():
        findings, total = rule_findings(rule, graph)
        items.append(
            ItemResult(
                item_id=rule.id,
                title=rule.title,
                status="failed" if total else "passed",
                findings=findings,
                data={"findingsTotal": total},
            )
        )
    scan = {
        "scanId": "s1",
        "targetId": "docs",
        "status": "completed",
        "startedAt": "2026-01-01T00:00:00Z",
        "completedAt": "2026-01-01T00:00:05Z",
        "results": {
            "commitSha": repo.head(),
            "ref": "main",
            "branch": "main",
            "repository": str(repo.path),
        },
    }
    return scan, items, graph


def test_html_matrix_shows_chains_gaps_and_untraced_documents(tmp_path: Path) -> None:
    scan, items, graph = scan_of(tmp_path)
    content_type, page = render("html", scan, items, graph, catalogue()) or ("", "")
    assert content_type == "text/html; charset=utf-8"
    matrix = page.split("<h2>Traceability matrix</h2>")[1].split("</table>")[0]
    assert matrix.count("<tr>") == 1 + 4  # header; REQ-001 x3 leaves; REQ-002 (no story)
    assert "<td class='ok' rowspan='3'><b>REQ-001</b>" in matrix
    assert "<td class='gap'>no story</td>" in matrix  # REQ-002
    assert "<td class='gap'>SPEC-001-009 missing</td>" in matrix
    assert "<td class='none'>&mdash;</td><td class='ok'><b>TC-001-002-01</b>" in matrix
    untraced = page.split("<h2>Not traced to a requirement</h2>")[1].split("</table>")[0]
    assert "SPEC-003-001" in untraced
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_sarif_rules_results_and_provenance(tmp_path: Path) -> None:
    scan, items, graph = scan_of(tmp_path)
    _, body = render("sarif", scan, items, graph, catalogue()) or ("", "")
    sarif = json.loads(body)
    assert sarif["$schema"].endswith("sarif-2.1.0.json") and sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(catalogue())
    assert {r["defaultConfiguration"]["level"] for r in rules} <= {"error", "warning", "note"}
    fingerprints = {f.fingerprint for item in items for f in item.findings}
    assert fingerprints
    for result in run["results"]:
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uriBaseId"] == "REPOROOT"
        assert location["region"]["startLine"] >= 1
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["fingerprints"]["scanFinding/v1"] in fingerprints
    provenance = run["versionControlProvenance"][0]
    assert provenance["revisionId"] == scan["results"]["commitSha"]
    assert provenance["repositoryUri"].startswith("file://")
    assert run["invocations"][0]["executionSuccessful"] is True


def test_csv_neutralises_formulas(tmp_path: Path) -> None:
    scan, items, graph = scan_of(tmp_path)
    _, body = render("csv", scan, items, graph, catalogue()) or ("", "")
    rows = list(csv.DictReader(io.StringIO(body)))
    evil = [r for r in rows if "evil" in r["file"]]
    assert evil and all(r["file"] == "'=evil.md" for r in evil)
    assert all(r["artifact_id"] == "'=HYPERLINK(1)" for r in evil if r["artifact_id"])
    assert not any(value.startswith("=") for r in rows for value in r.values())
