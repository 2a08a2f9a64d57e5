"""Findings of two scans matched by fingerprint: new, resolved, unchanged (real repository
findings), with findings that share a fingerprint matched as a multiset."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from scanner.comparison.findings import compare_findings, count_changes, findings_section
from scanner.engine import Finding
from tests.scanner.repository.conftest import all_findings, index_of
from tests.support.git_repos import GitRepo, clean_tree, story


def flat(found: dict[str, list[Finding]]) -> list[Finding]:
    return [f for items in found.values() for f in items]


def test_a_fix_a_new_problem_and_the_rest_unchanged(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "docs")
    repo.write_artifacts(clean_tree())
    # No specification for either story: unchanged findings in both scans.
    repo.write("stories/US-001-002.md", story("US-001-002", "REQ-404"))  # unknown parent
    repo.write("stories/US-001-003.md", story("US-001-003", "REQ-001", status="WIP"))
    before = flat(all_findings(index_of(repo, repo.commit("two problems"))))
    repo.write("stories/US-001-002.md", story("US-001-002", "REQ-001"))  # fixed
    repo.write("stories/US-001-004.md", story("US-001-004", "REQ-001", acceptance_criteria=[]))
    after = flat(all_findings(index_of(repo, repo.commit("one fixed, one new"))))

    delta = compare_findings(before, after)
    assert [(f.rule_id, f.location["artifactId"]) for f in delta.resolved] == [
        ("GXP-LINK-UNKNOWN-PARENT", "US-001-002")
    ]
    assert [(f.rule_id, f.location["artifactId"]) for f in delta.new] == [
        ("GXP-US-NO-ACCEPTANCE-CRITERIA", "US-001-004"),
        ("GXP-US-NO-SPEC", "US-001-004"),
    ]
    assert sorted((f.rule_id, f.location["artifactId"]) for f in delta.unchanged) == [
        ("GXP-STATUS-VOCABULARY", "US-001-003"),
        ("GXP-US-NO-SPEC", "US-001-002"),
        ("GXP-US-NO-SPEC", "US-001-003"),
    ]
    assert count_changes([f.fingerprint for f in before], [f.fingerprint for f in after]) == (
        len(delta.new),
        len(delta.resolved),
    )
    section = findings_section(delta)
    assert section["counts"] == {
        "new": len(delta.new),
        "resolved": 1,
        "unchanged": len(delta.unchanged),
    }
    assert section["resolved"][0]["severity"] == delta.resolved[0].severity
    assert section["bySeverity"]["resolved"] == {delta.resolved[0].severity: 1}
    rules = {row["ruleId"]: row for row in section["byRule"]}
    assert rules["GXP-LINK-UNKNOWN-PARENT"]["resolved"] == 1


def test_findings_sharing_a_fingerprint_pair_by_message_first(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "docs")
    repo.write_artifacts(clean_tree())
    # One story naming two specifications that do not exist: two findings, one fingerprint.
    repo.write(
        "stories/US-001-002.md",
        story(
            "US-001-002", "REQ-001", implementing_specifications=["SPEC-404-001", "SPEC-405-001"]
        ),
    )
    before = all_findings(index_of(repo, repo.commit("two missing specifications")))
    assert len(before["GXP-LINK-SPEC-MISSING"]) == 2
    assert len({f.fingerprint for f in before["GXP-LINK-SPEC-MISSING"]}) == 1
    repo.write(
        "stories/US-001-002.md",
        story("US-001-002", "REQ-001", implementing_specifications=["SPEC-405-001"]),
    )
    after = all_findings(index_of(repo, repo.commit("one of them fixed")))
    delta = compare_findings(before["GXP-LINK-SPEC-MISSING"], after["GXP-LINK-SPEC-MISSING"])
    assert [f.message for f in delta.resolved] == [
        m.message for m in before["GXP-LINK-SPEC-MISSING"] if "SPEC-404-001" in m.message
    ]
    assert delta.new == []
    assert ["SPEC-405-001" in f.message for f in delta.unchanged] == [True]


finding_lists = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.sampled_from(["x", "y", "z"])),
    max_size=12,
)


@given(finding_lists, finding_lists)
def test_counting_agrees_with_matching(
    before: list[tuple[str, str]], after: list[tuple[str, str]]
) -> None:
    def findings(pairs: list[tuple[str, str]]) -> list[Finding]:
        return [
            Finding(rule_id="R", title="t", message=message, location={"subject": subject})
            for subject, message in pairs
        ]

    old, new = findings(before), findings(after)
    delta = compare_findings(old, new)
    assert count_changes([f.fingerprint for f in old], [f.fingerprint for f in new]) == (
        len(delta.new),
        len(delta.resolved),
    )
    assert len(delta.new) + len(delta.unchanged) == len(new)
    assert len(delta.resolved) + len(delta.unchanged) == len(old)
    # Every finding is in exactly one list; identical scans change nothing.
    same = compare_findings(new, findings(after))
    assert (len(same.new), len(same.resolved), len(same.unchanged)) == (0, 0, len(new))
