"""Which findings an exception covers, and when: the pure rules of scanner/mutelist.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scanner.engine import Finding, ItemResult
from scanner.mutelist import FindingException, covering, mark_accepted

NOW = datetime(2026, 6, 1, tzinfo=UTC)
ARM_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/Legacy-RG"
    "/providers/Microsoft.Storage/storageAccounts/sthttp"
)


def exception(**fields: object) -> FindingException:
    base: dict[str, object] = {
        "exception_id": "01J00000000000000000000000",
        "reason": "r",
        "owner": "o",
        "expires_at": NOW + timedelta(days=1),
        "created_at": NOW - timedelta(days=1),
    }
    return FindingException(**{**base, **fields})  # type: ignore[arg-type]


def storage_finding() -> Finding:
    return Finding(rule_id="ST-001", title="t", message="m", location={"resourceId": ARM_ID})


def test_a_rule_pattern_matches_resource_ids_whatever_their_case() -> None:
    finding = storage_finding()
    assert exception(rule_id="ST-001", pattern="*/resourcegroups/legacy-*/*").covers(finding, "s")
    assert not exception(rule_id="ST-001", pattern="*/resourceGroups/prod-*").covers(finding, "s")
    assert not exception(rule_id="ST-002").covers(finding, "s")  # another rule
    assert exception(rule_id="ST-001").covers(finding, "s")  # no pattern: the whole rule


def test_host_subjects_and_software_names_are_matched_too() -> None:
    package = Finding(
        rule_id="PKG-CVE",
        title="t",
        message="m",
        location={"software": {"ecosystem": "Debian", "name": "openssl", "version": "3.0.11"}},
    )
    port = Finding(rule_id="NET-OPEN", title="t", message="m", location={"port": "23/tcp"})
    assert exception(rule_id="PKG-CVE", pattern="openssl*").covers(package, "web1-22")
    assert exception(rule_id="NET-OPEN", pattern="23/*").covers(port, "web1-22")


def test_a_target_limit_and_a_fingerprint_name_exactly_what_they_say() -> None:
    finding = storage_finding()
    assert not exception(rule_id="ST-001", target_id="other").covers(finding, "sub")
    assert exception(fingerprint=finding.fingerprint, target_id="sub").covers(finding, "sub")
    assert not exception(fingerprint="0" * 32).covers(finding, "sub")


def test_a_fingerprint_exception_wins_over_a_rule_exception() -> None:
    finding = storage_finding()
    by_rule = exception(exception_id="A", rule_id="ST-001", created_at=NOW - timedelta(days=9))
    by_print = exception(exception_id="B", fingerprint=finding.fingerprint)
    chosen = covering(finding, "sub", [by_rule, by_print])
    assert chosen is not None and chosen.exception_id == "B"


def test_marking_copies_and_an_exception_stops_at_its_expiry() -> None:
    finding = storage_finding()
    items = [ItemResult(item_id="ST-001", status="failed", findings=[finding])]
    rule = exception(rule_id="ST-001", expires_at=NOW + timedelta(seconds=1))
    marked = mark_accepted(items, "sub", [rule], NOW)
    accepted = marked[0].findings[0].accepted
    assert accepted is not None and accepted.exception_id == rule.exception_id
    assert items[0].findings[0].accepted is None  # the items given are left as they were
    at_expiry = mark_accepted(items, "sub", [rule], NOW + timedelta(seconds=1))
    assert at_expiry[0].findings[0].accepted is None
