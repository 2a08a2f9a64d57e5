"""The pure parts of scanctl: host names as people type them, findings counted from both report
shapes the service produces, and the gate's verdict."""

from __future__ import annotations

import pytest

from scanctl.errors import PASSED, SCAN_FAILED, THRESHOLD, UsageError
from scanctl.findings import COUNTS, NEW, judge, new_from_comparison, new_from_scan, severity_counts
from scanctl.targets_input import HostSpec, parse_host
from scanctl.views.tables import fact_rows


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("web1", HostSpec("web1", None, None)),
        ("web1.example.com:2222", HostSpec("web1.example.com", 2222, None)),
        ("admin@10.0.0.7", HostSpec("10.0.0.7", None, "admin")),
        ("admin@[fe80::1]:22", HostSpec("fe80::1", 22, "admin")),
        ("[::1]", HostSpec("::1", None, None)),
    ],
)
def test_hosts_as_people_write_them(text: str, spec: HostSpec) -> None:
    assert parse_host(text) == spec


@pytest.mark.parametrize("text", ["web1:0", "web1:70000", "a b", "web1:ssh", "@web1", ""])
def test_what_is_not_a_host_is_refused(text: str) -> None:
    with pytest.raises(UsageError):
        parse_host(text)


def test_counts_from_the_common_report_and_from_a_repository_report() -> None:
    common = {
        "summary": {"findingsBySeverity": {"high": 2, "low": 1}},
        "items": [{"findings": [{"severity": "high"}]}],  # listed ones may be truncated
    }
    assert severity_counts(common) == {"critical": 0, "high": 2, "medium": 0, "low": 1, "info": 0}
    repository = {"results": {"findings": {"bySeverity": {"critical": 1, "medium": 3}}}}
    assert severity_counts(repository)["critical"] == 1
    assert severity_counts(repository)["medium"] == 3
    listed_only = {"findings": [{"severity": "info"}, {"severity": "info"}, {"x": 1}]}
    assert severity_counts(listed_only)["info"] == 2


def _scan(status: str, **counts: int) -> dict[str, object]:
    full = {"critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0, **counts}
    return {"scanId": "S", "targetType": "host", "targetId": "h-22", "status": status, COUNTS: full}


def test_gate_threshold_is_inclusive_and_failures_outrank_it() -> None:
    assert judge([_scan("completed", medium=1)], "medium", False).exit_code == THRESHOLD
    assert judge([_scan("completed", critical=1)], "medium", False).exit_code == THRESHOLD
    assert judge([_scan("completed", low=5)], "medium", False).exit_code == PASSED
    assert judge([_scan("completed", high=9)], None, False).exit_code == PASSED
    mixed = judge([_scan("completed", high=1), _scan("failed")], "high", False)
    assert mixed.exit_code == SCAN_FAILED and len(mixed.reasons) == 2


def test_gate_on_new_findings_counts_only_what_is_new() -> None:
    # Nine old high findings, one new low one: the scan carries the total of new ones.
    scan = {
        **_scan("completed", high=9, low=1),
        "newFindings": 1,
        "results": {"comparison": {"baselineScanId": "01OLD", "newFindings": 1}},
    }
    new = new_from_scan(scan)
    assert new == {"baseline": "01OLD", "total": 1, "bySeverity": None}
    alone = judge([{**scan, NEW: new}], None, True)
    assert alone.exit_code == THRESHOLD
    assert alone.reasons == ["host h-22: 1 new finding(s) since scan 01OLD (--fail-on-new)"]
    assert judge([{**scan, NEW: {**new, "total": 0}}], None, True).exit_code == PASSED
    # With a threshold, the comparison's severities decide: the new low one passes --fail-on
    # high, which the old high ones would have failed.
    comparison = {
        "baseline": {"scanId": "01OLD"},
        "findings": {"counts": {"new": 1}, "bySeverity": {"new": {"low": 1}}},
    }
    by_severity = {**scan, NEW: new_from_comparison(comparison)}
    assert judge([by_severity], "high", True).exit_code == PASSED
    assert judge([by_severity], "high", False).exit_code == THRESHOLD
    hit = judge([by_severity], "low", True)
    assert hit.reasons == [
        "host h-22: 1 low finding(s) new since scan 01OLD (--fail-on-new --fail-on low)"
    ]
    # A scan with no delta recorded says so; a first scan names no baseline.
    assert new_from_scan(_scan("completed")) is None
    first = new_from_comparison({"baseline": None, "findings": {"counts": {"new": 2}}})
    assert "(no earlier scan)" in judge([{**scan, NEW: first}], None, True).reasons[0]


def test_comparison_facts_of_every_kind_become_readable_rows() -> None:
    # Shapes as docs/scan-comparison.md gives them.
    host = {
        "system": [{"field": "kernel", "from": "6.1.0-17-amd64", "to": "6.1.0-18-amd64"}],
        "packages": {
            "counts": {"added": 1},
            "added": [{"name": "jq", "arch": "amd64", "version": "1.6-2.1"}],
            "upgraded": [{"name": "libssl3", "arch": "amd64", "from": "3.0.11", "to": "3.0.13"}],
        },
        "disk": {"thresholdPercentPoints": 5.0, "removed": ["/mnt/old"]},
        "notCompared": {"vulnerabilities": "neither scan has it"},
    }
    assert fact_rows(host) == [
        ("system", "kernel: 6.1.0-17-amd64 -> 6.1.0-18-amd64"),
        ("packages added", "jq amd64 1.6-2.1"),
        ("packages upgraded", "libssl3: 3.0.11 -> 3.0.13"),
        ("disk removed", "/mnt/old"),
    ]
    repository = {
        "commit": {"from": "aaa", "to": "bbb"},
        "commits": {"count": 1, "items": [{"sha": "b" * 40, "time": 1, "subject": "fix"}]},
        "artifacts": {
            "changed": [
                {
                    "id": "US-1",
                    "changes": [
                        {"field": "status", "from": "DRAFT", "to": "DONE"},
                        {"field": "approved_by", "from": None, "to": "QA"},
                    ],
                }
            ]
        },
        "links": {"added": [{"from": "SPEC-1", "to": "US-1", "kind": "parent"}]},
    }
    assert fact_rows(repository) == [
        ("commit", "aaa -> bbb"),
        ("commits", "bbbbbbbbbbbb fix"),
        ("artifacts changed", "US-1: status: DRAFT -> DONE; approved_by: not set -> QA"),
        ("links added", "SPEC-1 -> US-1 (parent)"),
    ]
    subscription = {
        "resources": {
            "counts": {"added": 1},
            "added": [{"id": "/subscriptions/s/rg/x", "type": "t", "name": "x"}],
            "typesCompared": ["t"],
            "typesNotCompared": ["u"],
        },
        "findingsByCisControl": [{"control": "3.1", "new": 1, "resolved": 0, "rules": ["ST-1"]}],
    }
    # The types compared are a setting of the comparison, not a change; the others are.
    assert fact_rows(subscription) == [
        ("resources added", "/subscriptions/s/rg/x t x"),
        ("resources typesNotCompared", "u"),
        ("findingsByCisControl", "3.1 1 0"),
    ]
