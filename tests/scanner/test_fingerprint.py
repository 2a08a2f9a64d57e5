"""Finding fingerprints: the same problem keeps its identity across rescans; a different
problem never shares it. Checked on the engines' own findings."""

from __future__ import annotations

from pathlib import Path

from scanner.engine import Finding, ItemResult
from scanner.fingerprint import fingerprint, identity_keys
from scanner.subscription.engine import SubscriptionEngine
from scanner.subscription.rules import all_rules
from scanner.subscription.rules.base import Hit
from tests.scanner.repository.conftest import all_findings, index_of
from tests.support.git_repos import GitRepo, clean_tree, story

VM = (
    "/subscriptions/5e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b/resourceGroups/rg-app/providers/"
    "Microsoft.Compute/virtualMachines/vm-web"
)


def finding(**location: object) -> Finding:
    return Finding(rule_id="R-1", title="t", message="m", location=dict(location))


def test_line_numbers_messages_and_details_do_not_count() -> None:
    base = finding(file="docs/US-1.md", line=3, artifactId="US-1", field="status")
    moved = Finding(
        rule_id="R-1",
        title="Another title",
        severity="critical",
        message="worded differently",
        location={"file": "docs/US-1.md", "line": 40, "artifactId": "US-1", "field": "status"},
    )
    assert moved.fingerprint == base.fingerprint
    # The document moved to another file: still the same document.
    assert finding(file="other/US-1.md", artifactId="US-1", field="status").fingerprint == (
        base.fingerprint
    )


def test_what_the_finding_is_about_counts() -> None:
    base = finding(artifactId="US-1", field="status")
    assert finding(artifactId="US-2", field="status").fingerprint != base.fingerprint
    assert finding(artifactId="US-1", field="validation_status").fingerprint != base.fingerprint
    other_rule = Finding(rule_id="R-2", title="t", message="m", location=base.location)
    assert other_rule.fingerprint != base.fingerprint
    # No id: the file is the subject, normalized.
    assert finding(file="./docs//a.md").fingerprint == finding(file="docs/a.md").fingerprint
    assert finding(file="docs\\a.md").fingerprint == finding(file="docs/a.md").fingerprint
    assert finding(file="docs/a.md").fingerprint != finding(file="docs/b.md").fingerprint


def test_azure_ids_ignore_case_and_software_versions_do_not_count() -> None:
    lower = finding(resourceId=VM.lower() + "/")
    assert finding(resourceId=VM).fingerprint == lower.fingerprint
    old = finding(resourceId=VM, software={"ecosystem": "Ubuntu", "name": "ubuntu", "version": "1"})
    new = finding(resourceId=VM, software={"ecosystem": "Ubuntu", "name": "ubuntu", "version": "2"})
    assert old.fingerprint == new.fingerprint
    other = finding(resourceId=VM, software={"ecosystem": "Ubuntu", "name": "nginx"})
    assert other.fingerprint != old.fingerprint
    assert identity_keys({"resourceId": VM, "count": 3, "name": "vm-web", "line": 2}) == [
        ("resourceId", VM.lower())
    ]


def test_fingerprint_survives_storage_and_is_recomputed() -> None:
    original = finding(artifactId="US-1", field="status")
    stored = original.model_dump()
    stored["fingerprint"] = "stale-value-from-an-older-rule-set"
    item = ItemResult.model_validate({"item_id": "R-1", "status": "failed", "findings": [stored]})
    assert item.findings[0].fingerprint == original.fingerprint
    assert len(original.fingerprint) == 32 and int(original.fingerprint, 16) >= 0
    assert original.fingerprint == fingerprint("R-1", {"field": "status", "artifactId": "US-1"})


def test_repository_findings_keep_their_fingerprints_when_lines_shift(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "docs")
    repo.write_artifacts(clean_tree())
    # A story without a parent and without scenarios: findings located on its fields.
    repo.write("stories/US-001-002.md", story("US-001-002", None, scenarios=()))
    first = repo.commit("a story with gaps")
    before = all_findings(index_of(repo, first))
    # Same gaps, but the document gains lines above every field.
    text = story("US-001-002", None, scenarios=(), owner="QA", reviewer="QA", priority="high")
    repo.write("stories/US-001-002.md", text.replace("---\n", "---\nnote: moved down\n", 1))
    second = repo.commit("more front matter above the fields")
    after = all_findings(index_of(repo, second))

    def identities(found: dict[str, list[Finding]]) -> dict[str, set[str]]:
        return {rule: {f.fingerprint for f in items} for rule, items in found.items()}

    assert identities(after) == identities(before)
    lines_before = {f.location["line"] for items in before.values() for f in items}
    lines_after = {f.location["line"] for items in after.values() for f in items}
    assert lines_before != lines_after  # the lines did move


def test_subscription_findings_are_identified_by_resource_not_by_message() -> None:
    rule = all_rules()["ID-003"]
    first = SubscriptionEngine._finding(
        rule, Hit(subject="/users/u-1", name="guest@x", message="guest account"), "sub"
    )
    renamed = SubscriptionEngine._finding(
        rule, Hit(subject="/users/U-1", name="renamed@x", message="guest account, renamed"), "sub"
    )
    assert first.fingerprint == renamed.fingerprint
    other = SubscriptionEngine._finding(
        rule, Hit(subject="/users/u-2", name="guest@x", message="guest account"), "sub"
    )
    assert other.fingerprint != first.fingerprint
