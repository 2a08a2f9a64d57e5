"""Comparison reports: SARIF 2.1.0 with baselineState (validated against the OASIS schema),
CSV rows a spreadsheet reads back, HTML that shows scanned text as text."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from scanner import reports as scan_reports
from scanner.comparison.document import compare_scans
from scanner.comparison.reports import render
from scanner.fingerprint import SARIF_KEY
from scanner.repository import reports as repository_reports
from scanner.repository.graph import TraceGraph
from scanner.repository.rules import catalogue
from tests.scanner.comparison.test_repository_facts import repository_scan
from tests.scanner.repository.conftest import index_of
from tests.support.git_repos import GitRepo, clean_tree, story

SCHEMA_PATH = Path(__file__).parents[2] / "support" / "sarif" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def sarif_schema() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A comparison with new, resolved and unchanged findings; one carries markup."""
    repo = GitRepo(tmp_path_factory.mktemp("gxp") / "docs")
    repo.write_artifacts(clean_tree())
    repo.write("stories/US-001-002.md", story("US-001-002", "REQ-404"))
    repo.write("stories/US-001-003.md", story("US-001-003", "REQ-001", status="<b>WIP</b>"))
    before = repository_scan("01J0BASELINE0000000000000A", index_of(repo, repo.commit("one")))
    repo.write("stories/US-001-002.md", story("US-001-002", "REQ-001"))
    repo.write("stories/US-001-004.md", story("US-001-004", "REQ-001", acceptance_criteria=[]))
    after = repository_scan("01J0CURRENT00000000000000B", index_of(repo, repo.commit("two")))
    return compare_scans(after, before)


def test_sarif_marks_new_unchanged_and_absent_and_validates(
    document: dict[str, Any], sarif_schema: jsonschema.Draft4Validator
) -> None:
    content_type, body = render("sarif", document)
    assert content_type == "application/sarif+json"
    log = json.loads(body)
    errors = sorted(sarif_schema.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    run = log["runs"][0]
    states: dict[str, set[str]] = {}
    for result in run["results"]:
        states.setdefault(result["baselineState"], set()).add(result["fingerprints"][SARIF_KEY])
    findings = document["findings"]
    assert states == {
        "new": {f["fingerprint"] for f in findings["new"]},
        "unchanged": {f["fingerprint"] for f in findings["unchanged"]},
        "absent": {f["fingerprint"] for f in findings["resolved"]},
    }
    assert all(states.values())
    assert run["baselineGuid"] == scan_reports.run_guid(document["baseline"]["scanId"])
    assert run["automationDetails"]["guid"] == scan_reports.run_guid(document["scanId"])
    # A comparison without a baseline: every result new, no baseline run named.
    alone = {**document, "baseline": None}
    alone_log = json.loads(render("sarif", alone)[1])
    assert not list(sarif_schema.iter_errors(alone_log))
    assert "baselineGuid" not in alone_log["runs"][0]


def test_scan_reports_carry_the_same_fingerprints_and_validate(
    tmp_path: Path, sarif_schema: jsonschema.Draft4Validator
) -> None:
    repo = GitRepo(tmp_path / "docs")
    repo.write("stories/US-001-002.md", story("US-001-002", "REQ-404"))
    scan = repository_scan("01J0SCAN000000000000000000", index_of(repo, repo.commit("one")))
    view = {"scanId": scan.scan_id, "targetId": "docs", "status": "completed", "results": {}}
    graph = TraceGraph(index_of(repo))
    for body in (
        scan_reports.report_sarif(view, scan.items),
        repository_reports.report_sarif(view, scan.items, graph, catalogue()),
    ):
        log = json.loads(body)
        assert not list(sarif_schema.iter_errors(log))
        found = {r["fingerprints"][SARIF_KEY] for r in log["runs"][0]["results"]}
        assert found == {f.fingerprint for f in scan.findings()}
        assert log["runs"][0]["automationDetails"]["guid"] == scan_reports.run_guid(scan.scan_id)


def test_csv_lists_every_finding_and_fact_change(document: dict[str, Any]) -> None:
    content_type, body = render("csv", document)
    assert content_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body)))
    counts = document["findings"]["counts"]
    for state in ("new", "resolved", "unchanged"):
        listed = [r for r in rows if r["section"] == "findings" and r["change"] == state]
        assert len(listed) == counts[state]
    added = [r for r in rows if r["section"] == "artifacts" and r["change"] == "added"]
    assert [r["subject"] for r in added] == ["US-001-004"]
    assert any(r["section"] == "commits" for r in rows)


def test_html_shows_scanned_text_as_text(document: dict[str, Any]) -> None:
    content_type, body = render("html", document)
    assert content_type.startswith("text/html")
    assert "<b>WIP</b>" not in body
    assert "&lt;b&gt;WIP&lt;/b&gt;" in body
    assert f"Resolved findings ({document['findings']['counts']['resolved']})" in body
    assert "US-001-004" in body and "<script" not in body


def test_unknown_format_is_refused(document: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="format must be one of"):
        render("xml", document)
