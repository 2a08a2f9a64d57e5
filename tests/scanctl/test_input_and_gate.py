"""The pure parts of scanctl: host names as people type them, findings counted from both report
shapes the service produces, and the gate's verdict."""

from __future__ import annotations

import pytest

from scanctl.errors import PASSED, SCAN_FAILED, THRESHOLD, UsageError
from scanctl.findings import COUNTS, judge, severity_counts
from scanctl.targets_input import HostSpec, parse_host


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
