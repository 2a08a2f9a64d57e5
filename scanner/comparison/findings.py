"""Findings of two scans matched by fingerprint: new, resolved and unchanged.

Findings match by fingerprint (scanner/fingerprint.py). When several findings of one scan share
a fingerprint (e.g. one document naming two parents that do not exist), they are matched as a
multiset: equal messages pair first, the rest pair in order, and only the surplus is new or
resolved. Counting alone (`count_changes`) gives the same numbers without building the lists.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, get_args

from scanner.engine import Finding, Severity
from scanner.mutelist import counted

SEVERITY_ORDER = {severity: rank for rank, severity in enumerate(get_args(Severity))}
STATES = ("new", "resolved", "unchanged")


@dataclass
class FindingsDelta:
    """`unchanged` holds the current scan's findings (their message as it reads today)."""

    new: list[Finding] = field(default_factory=list)
    resolved: list[Finding] = field(default_factory=list)
    unchanged: list[Finding] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {state: len(getattr(self, state)) for state in STATES}


def _order(finding: Finding) -> tuple[int, str, str, str]:
    return (
        SEVERITY_ORDER.get(finding.severity, len(SEVERITY_ORDER)),
        finding.rule_id,
        finding.fingerprint,
        finding.message,
    )


def _pair(
    before: list[Finding], after: list[Finding]
) -> tuple[list[Finding], list[Finding], list[Finding]]:
    """(new, resolved, unchanged) among findings that share one fingerprint."""
    if len(before) == 1 and len(after) == 1:
        return [], [], after
    by_message: dict[str, list[Finding]] = defaultdict(list)
    for old in before:
        by_message[old.message].append(old)
    unmatched: list[Finding] = []
    unchanged: list[Finding] = []
    for finding in after:
        twins = by_message.get(finding.message)
        if twins:
            twins.pop()
            unchanged.append(finding)
        else:
            unmatched.append(finding)
    remaining = [old for twins in by_message.values() for old in twins]
    paired = min(len(unmatched), len(remaining))
    unchanged += unmatched[:paired]
    return unmatched[paired:], remaining[paired:], unchanged


def compare_findings(baseline: Iterable[Finding], current: Iterable[Finding]) -> FindingsDelta:
    """What is new in `current`, what `baseline` had that is gone, and what stayed."""
    before: dict[str, list[Finding]] = defaultdict(list)
    for finding in baseline:
        before[finding.fingerprint].append(finding)
    after: dict[str, list[Finding]] = defaultdict(list)
    for finding in current:
        after[finding.fingerprint].append(finding)
    delta = FindingsDelta()
    for fingerprint, findings in after.items():
        old = before.pop(fingerprint, None)
        if old is None:
            delta.new += findings
            continue
        new, resolved, unchanged = _pair(old, findings)
        delta.new += new
        delta.resolved += resolved
        delta.unchanged += unchanged
    for findings in before.values():
        delta.resolved += findings
    for state in STATES:
        getattr(delta, state).sort(key=_order)
    return delta


def count_changes(baseline: Iterable[str], current: Iterable[str]) -> tuple[int, int]:
    """(new, resolved) between two scans' fingerprints; the numbers `compare_findings` gives."""
    before, after = Counter(baseline), Counter(current)
    return sum((after - before).values()), sum((before - after).values())


def entry(finding: Finding) -> dict[str, Any]:
    """A finding as the comparison lists it (with the exception that accepts it, if any)."""
    shown = finding.model_dump(include={"title", "severity", "message", "location"})
    listed = {"fingerprint": finding.fingerprint, "ruleId": finding.rule_id, **shown}
    if finding.accepted is not None:
        accepted = finding.accepted
        listed["accepted"] = {
            "exceptionId": accepted.exception_id,
            "reason": accepted.reason,
            "owner": accepted.owner,
            "expiresAt": accepted.expires_at.isoformat(),
        }
    return listed


def by_severity(findings: Iterable[Finding]) -> dict[str, int]:
    counts = Counter(f.severity for f in findings)
    return {severity: counts[severity] for severity in SEVERITY_ORDER if counts[severity]}


def by_rule(
    delta: FindingsDelta,
    states: tuple[str, ...] = STATES,
    details: Callable[[str], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Per rule with a finding in one of `states`: how many are in each, plus `details` of the
    rule (sorted by rule id)."""
    rules: dict[str, dict[str, Any]] = {}
    for state in states:
        for finding in getattr(delta, state):
            row = rules.get(finding.rule_id)
            if row is None:
                row = rules[finding.rule_id] = {
                    "ruleId": finding.rule_id,
                    "title": finding.title,
                    "severity": finding.severity,
                    **(details(finding.rule_id) if details else {}),
                    **dict.fromkeys(states, 0),
                }
            row[state] += 1
    return sorted(rules.values(), key=lambda r: r["ruleId"])


def findings_section(delta: FindingsDelta) -> dict[str, Any]:
    """The `findings` part of a comparison document. Every finding is listed; the counts (which
    gates read) leave accepted findings out, and `accepted` counts them apart."""
    still_open = FindingsDelta(*(counted(getattr(delta, state)) for state in STATES))
    return {
        "counts": still_open.counts(),
        "accepted": {
            state: len(getattr(delta, state)) - len(getattr(still_open, state)) for state in STATES
        },
        "bySeverity": {state: by_severity(getattr(still_open, state)) for state in STATES},
        "byRule": by_rule(still_open),
        **{state: [entry(f) for f in getattr(delta, state)] for state in STATES},
    }
