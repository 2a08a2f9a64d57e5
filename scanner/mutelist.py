"""Exceptions (the mutelist): findings someone accepted, with a reason, an owner and an expiry.

An exception names the findings it covers either by fingerprint (one finding, across rescans)
or by rule id and a glob over what the finding is about (its resource id, document, file, host
subject ...), optionally only on one target. While it has not expired, the findings it covers
are *accepted*: still listed, marked with the exception, but left out of the severity counts
that gates read. Pure functions: the service stores exceptions and applies them whenever it
reads findings, so expiry and deletion act at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from scanner.engine import Acceptance, Finding, ItemResult

# The location keys that say what a finding is about; a pattern is matched against each.
SUBJECT_KEYS = (
    "resourceId",
    "artifactId",
    "file",
    "path",
    "resource",
    "target",
    "subject",
    "package",
    "mount",
    "interface",
    "port",
    "user",
    "setting",
)


@dataclass(frozen=True)
class FindingException:
    """One accepted risk. Exactly one of `fingerprint` and `rule_id` is set; `pattern` (a glob,
    case-insensitive; empty: every finding of the rule) goes with `rule_id`; `target_id`
    (empty: any target) limits it to the findings of one target."""

    exception_id: str
    reason: str
    owner: str
    expires_at: datetime
    created_at: datetime
    created_by: str = ""
    fingerprint: str = ""
    rule_id: str = ""
    pattern: str = ""
    target_id: str = ""

    def active(self, now: datetime) -> bool:
        return now < self.expires_at

    def covers(self, finding: Finding, target_id: str) -> bool:
        if self.target_id and self.target_id != target_id:
            return False
        if self.fingerprint:
            return finding.fingerprint == self.fingerprint
        if finding.rule_id != self.rule_id:
            return False
        return not self.pattern or any(
            fnmatchcase(subject.lower(), self.pattern.lower())
            for subject in subjects(finding.location)
        )

    def acceptance(self) -> Acceptance:
        return Acceptance(
            exception_id=self.exception_id,
            reason=self.reason,
            owner=self.owner,
            expires_at=self.expires_at,
        )


def subjects(location: Mapping[str, Any]) -> list[str]:
    """What a finding is about, as the texts a pattern is matched against."""
    found = [str(location[key]).strip() for key in SUBJECT_KEYS if location.get(key)]
    software = location.get("software")
    if isinstance(software, Mapping) and software.get("name"):
        found.append(str(software["name"]).strip())
    return found


def covering(
    finding: Finding, target_id: str, exceptions: Iterable[FindingException]
) -> FindingException | None:
    """The active exception that covers the finding (a fingerprint's before a rule's; among
    equals the oldest), or None. `exceptions` are the active ones."""
    matches = [e for e in exceptions if e.covers(finding, target_id)]
    if not matches:
        return None
    return min(matches, key=lambda e: (not e.fingerprint, e.created_at, e.exception_id))


def mark_accepted(
    items: list[ItemResult],
    target_id: str,
    exceptions: Iterable[FindingException],
    now: datetime,
) -> list[ItemResult]:
    """The items with every finding an active exception covers marked `accepted` (copies; the
    items given are not changed). Expired exceptions cover nothing."""
    active = [e for e in exceptions if e.active(now)]
    if not active:
        return items
    marked = []
    for item in items:
        findings = []
        changed = False
        for finding in item.findings:
            exception = covering(finding, target_id, active)
            if exception is not None:
                finding = finding.model_copy(update={"accepted": exception.acceptance()})
                changed = True
            findings.append(finding)
        marked.append(item.model_copy(update={"findings": findings}) if changed else item)
    return marked


def counted(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that count towards severities and gates: those not accepted."""
    return [f for f in findings if f.accepted is None]
