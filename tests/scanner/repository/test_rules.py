"""Every rule: a real repository that triggers it and a near-miss one that does not.

The base tree (REQ-001 -> US-001-001 -> SPEC-001-001 -> TC-001-001-001) satisfies every rule;
each case changes it a little. Rule-level: the engine's pure functions on real Git repositories.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scanner.repository.rules import catalogue
from tests.scanner.repository.conftest import (
    RepoFactory,
    all_findings,
    findings_of,
    index_of,
)
from tests.support.git_repos import (
    GitRepo,
    clean_tree,
    requirement,
    specification,
    story,
    tc_document,
)

US = "stories/US-001-001.md"
SPEC = "specs/SPEC-001-001.md"
REQ = "reqs/REQ-001.md"
TC = "tests/TC-001-001-001.md"


@dataclass
class Case:
    bad: dict[str, str | bytes]
    good: dict[str, str | bytes]
    file: str  # where the (first) finding points
    line: int | None = None
    says: str = ""
    symlinks: dict[str, str] = field(default_factory=dict)


def tree(changes: dict[str, str | None]) -> dict[str, str | bytes]:
    """The clean tree with files replaced, added or removed (None)."""
    files: dict[str, str | bytes] = dict(clean_tree())
    for path, content in changes.items():
        if content is None:
            files.pop(path, None)
        else:
            files[path] = content
    return files


def with_files(**extra: str | bytes) -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = dict(clean_tree())
    files.update(extra)
    return files


CASES: dict[str, Case] = {
    "GXP-PARSE-FRONT-MATTER": Case(
        bad=with_files(
            **{
                "stories/US-001-002.md": (
                    "---\ngxp_id: US-001-002\ntitle: [unclosed\nstatus: X\n---\n"
                )
            }
        ),
        # front matter without gxp_id that is not YAML-clean is someone else's page: ignored
        good=with_files(**{"site/page.md": "---\nlayout: [post\n---\nHello\n"}),
        file="stories/US-001-002.md",
        line=4,
        says="invalid YAML",
    ),
    "GXP-PARSE-FILE-SIZE": Case(
        bad=with_files(
            **{"stories/US-001-002.md": story("US-001-002", "REQ-001") + "x" * 5000 + "\n"}
        ),
        good=with_files(**{"stories/US-001-002.md": story("US-001-002", "REQ-001") + "x" * 100}),
        file="stories/US-001-002.md",
        line=1,
        says="more than the limit of 4096",
    ),
    "GXP-PARSE-SYMLINK": Case(
        bad=with_files(),
        good=with_files(),
        file="stories/alias.md",
        says="symbolic link",
        symlinks={"stories/alias.md": "US-001-001.md"},
    ),
    "GXP-ID-DUPLICATE": Case(
        bad=with_files(**{"specs/copy.md": specification("SPEC-001-001", "US-001-001")}),
        good=with_files(**{"specs/SPEC-001-002.md": specification("SPEC-001-002", "US-001-001")}),
        file="specs/SPEC-001-001.md",
        line=2,
        says="used by 2 documents",
    ),
    "GXP-ID-FORMAT": Case(
        bad=with_files(**{"tests/TC-1.md": tc_document("TC-1", "SPEC-001-001")}),
        good=with_files(**{"tests/TC-001-001-02.md": tc_document("TC-001-001-02", "SPEC-001-001")}),
        file="tests/TC-1.md",
        line=2,
        says="does not follow the test scheme",
    ),
    "GXP-FIELDS-REQUIRED": Case(
        bad=tree({US: story("US-001-001", "REQ-001", spec="SPEC-001-001", as_a=None)}),
        good=tree({US: story("US-001-001", "REQ-001", spec="SPEC-001-001")}),
        file=US,
        line=2,
        says="missing as_a",
    ),
    "GXP-STATUS-VOCABULARY": Case(
        bad=tree({TC: tc_document("TC-001-001-001", "SPEC-001-001", status="DONE")}),
        good=tree({TC: tc_document("TC-001-001-001", "SPEC-001-001", status="VERIFIED")}),
        file=TC,
        says="status is 'DONE'",
    ),
    "GXP-LINK-UNKNOWN-PARENT": Case(
        bad=tree({TC: tc_document("TC-001-001-001", "SPEC-001-009")}),
        good=tree({TC: tc_document("TC-001-001-001", "US-001-001")}),
        file=TC,
        line=4,
        says="parent SPEC-001-009 does not exist",
    ),
    "GXP-LINK-PARENT-TYPE": Case(
        bad=tree({TC: tc_document("TC-001-001-001", "REQ-001")}),
        good=tree({TC: tc_document("TC-001-001-001", "US-001-001")}),
        file=TC,
        line=4,
        says="expected specification or user story",
    ),
    "GXP-LINK-CYCLE": Case(
        bad=with_files(
            **{
                "reqs/REQ-002.md": requirement("REQ-002", parent_id="REQ-003"),
                "reqs/REQ-003.md": requirement("REQ-003", parent_id="REQ-002"),
            }
        ),
        good=with_files(
            **{
                "reqs/REQ-002.md": requirement("REQ-002", parent_id="REQ-001"),
                "reqs/REQ-003.md": requirement("REQ-003", parent_id="REQ-002"),
            }
        ),
        file="reqs/REQ-002.md",
        says="REQ-002 -> REQ-003 -> REQ-002",
    ),
    "GXP-LINK-SPEC-MISSING": Case(
        bad=tree({US: story("US-001-001", "REQ-001", spec="SPEC-001-009")}),
        good=tree({US: story("US-001-001", "REQ-001", spec=None)}),
        file=US,
        says="SPEC-001-009, which does not exist",
    ),
    "GXP-LINK-ORPHAN": Case(
        bad=with_files(**{"specs/SPEC-002-001.md": specification("SPEC-002-001", None)}),
        # no parent_id, but a story names it: traced through the story
        good=tree(
            {
                US: story("US-001-001", "REQ-001", spec="SPEC-001-001"),
                SPEC: specification("SPEC-001-001", None),
            }
        ),
        file="specs/SPEC-002-001.md",
        says="does not trace up to a requirement",
    ),
    "GXP-LINK-RETIRED-PARENT": Case(
        bad=tree({REQ: requirement("REQ-001", status="DEPRECATED")}),
        good=tree(
            {
                REQ: requirement("REQ-001", status="DEPRECATED"),
                US: story("US-001-001", "REQ-001", spec="SPEC-001-001", status="DEPRECATED"),
                SPEC: specification("SPEC-001-001", "US-001-001", status="OBSOLETE"),
                TC: tc_document("TC-001-001-001", "SPEC-001-001", status="OBSOLETE"),
            }
        ),
        file=US,
        says="parent REQ-001 is DEPRECATED",
    ),
    "GXP-REQ-NO-STORY": Case(
        bad=with_files(**{"reqs/REQ-002.md": requirement("REQ-002")}),
        good=with_files(**{"reqs/REQ-002.md": requirement("REQ-002", status="OBSOLETE")}),
        file="reqs/REQ-002.md",
        line=2,
        says="stories: 0 found",
    ),
    "GXP-US-NO-ACCEPTANCE-CRITERIA": Case(
        bad=tree({US: story("US-001-001", "REQ-001", spec="SPEC-001-001", acceptance_criteria=[])}),
        # criteria in a body section count too
        good=tree(
            {
                US: story("US-001-001", "REQ-001", spec="SPEC-001-001", acceptance_criteria=[])
                + "\n## Acceptance Criteria\n\n- It scans\n"
            }
        ),
        file=US,
        says="acceptance_criteria: 0 found",
    ),
    "GXP-US-NO-SPEC": Case(
        bad=tree(
            {
                US: story("US-001-001", "REQ-001", spec=None),
                SPEC: specification("SPEC-001-001", "US-001-002"),
                TC: None,
            }
        ),
        # no section naming it, but the specification names the story as parent
        good=tree({US: story("US-001-001", "REQ-001", spec=None)}),
        file=US,
        line=2,
        says="implementing_specifications: 0 found",
    ),
    "GXP-US-NO-TESTS": Case(
        bad=tree(
            {
                US: story("US-001-001", "REQ-001", spec="SPEC-001-001", scenarios=()),
                TC: None,
            }
        ),
        # no scenario section, but a TC traces to it through its specification
        good=tree({US: story("US-001-001", "REQ-001", spec="SPEC-001-001", scenarios=())}),
        file=US,
        says="test_scenarios: 0 found",
    ),
    "GXP-SPEC-NO-TESTS": Case(
        bad=tree({TC: tc_document("TC-001-001-001", "US-001-001")}),  # the TC moved to the story
        good=tree(
            {
                TC: tc_document("TC-001-001-001", "US-001-001"),
                SPEC: specification("SPEC-001-001", "US-001-001", status="OBSOLETE"),
            }
        ),
        file=SPEC,
        line=2,
        says="tests: 0 found",
    ),
    "GXP-VALIDATION-PENDING": Case(
        bad=tree(
            {US: story("US-001-001", "REQ-001", spec="SPEC-001-001", validation_status="DRAFT")}
        ),
        good=tree(
            {
                US: story(
                    "US-001-001",
                    "REQ-001",
                    spec="SPEC-001-001",
                    status="IN_PROGRESS",
                    validation_status="DRAFT",
                )
            }
        ),
        file=US,
        says="validation_status is 'DRAFT'",
    ),
    "GXP-APPROVAL-SIGNATURE": Case(
        bad=tree({SPEC: specification("SPEC-001-001", "US-001-001", approved_by=None)}),
        good=tree(
            {
                SPEC: specification(
                    "SPEC-001-001", "US-001-001", approval_date="2026-02-01T10:00:00Z"
                )
            }
        ),
        file=SPEC,
        says="missing approved_by",
    ),
}


def build(path: Path, files: dict[str, str | bytes], symlinks: dict[str, str]) -> GitRepo:
    repo = GitRepo(path)
    for relative, content in files.items():
        repo.write(relative, content)
    for relative, target in symlinks.items():
        repo.symlink(relative, target)
    repo.commit("initial")
    return repo


def test_every_catalogued_rule_has_a_case() -> None:
    assert set(CASES) | {"GXP-LINK-SUSPECT"} == set(catalogue())
    assert len(catalogue()) >= 15


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_triggers_on_a_bad_repository_and_not_on_a_near_miss(
    rule_id: str, tmp_path: Path
) -> None:
    case = CASES[rule_id]
    bad = findings_of(index_of(build(tmp_path / "bad", case.bad, case.symlinks)), rule_id)
    assert bad, f"{rule_id} did not trigger"
    first = bad[0]
    assert first.location["file"] == case.file
    if case.line is not None:
        assert first.location["line"] == case.line
    assert case.says in first.message
    rule = catalogue()[rule_id]
    assert first.severity == rule.severity and first.remediation == rule.remediation

    good = findings_of(index_of(build(tmp_path / "good", case.good, {})), rule_id)
    assert good == []


def test_the_clean_tree_passes_every_rule(repo_of: RepoFactory) -> None:
    assert all_findings(index_of(repo_of(clean_tree()))) == {}


def test_suspect_link_when_the_parent_changes_after_the_child(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "suspect")
    repo.write_artifacts(clean_tree())
    first = repo.commit("baseline")
    repo.write(REQ, requirement("REQ-001", title="Requirement changed"))
    second = repo.commit("requirement reworded")

    suspect = findings_of(index_of(repo), "GXP-LINK-SUSPECT")
    assert [(f.location["file"], f.location["line"]) for f in suspect] == [(US, 4)]
    assert f"REQ-001 changed in commit {second[:12]}" in suspect[0].message
    assert first[:12] in suspect[0].message
    # at the baseline commit nothing was suspect
    assert findings_of(index_of(repo, first), "GXP-LINK-SUSPECT") == []

    # the story reviewed (committed after its parent): the link is cleared, and the next level
    # down (SPEC under the story) becomes suspect in turn
    repo.write(US, story("US-001-001", "REQ-001", spec="SPEC-001-001", title="Reviewed"))
    repo.commit("story reviewed")
    after = findings_of(index_of(repo), "GXP-LINK-SUSPECT")
    assert [f.location["artifactId"] for f in after] == ["SPEC-001-001"]


def test_suspect_link_through_a_merge_uses_the_branch_that_changed_the_file(
    tmp_path: Path,
) -> None:
    repo = GitRepo(tmp_path / "merge")
    repo.write_artifacts(clean_tree())
    repo.commit("baseline")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write(US, story("US-001-001", "REQ-001", spec="SPEC-001-001", title="Story v2"))
    repo.commit("story on a branch")
    repo.git("checkout", "-q", "main")
    repo.write(REQ, requirement("REQ-001", title="Requirement v2"))
    repo.commit("requirement on main")
    repo.git("merge", "-q", "--no-edit", "feature", env={"GIT_COMMITTER_DATE": "1767300000 +0000"})
    index = index_of(repo)
    ranks = {a.gxp_id: index.rank_of(a, index.ranks()) for a in index.artifacts}
    # the merge itself changed neither file: each keeps the commit of its own branch
    assert ranks["REQ-001"] > 0 and ranks["US-001-001"] > 0
    assert index.history[0]["sha"] == repo.head()
