"""Reading real Git repositories at a commit: commit pinning, unknown commits, limits, symlinks,
binaries, temporary copies, the example story as a fixture."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from scanner.engine import ScanError
from scanner.repository.engine import EngineOptions, index_repository
from scanner.repository.git_source import Source, redact
from tests.scanner.repository.conftest import OPTIONS, RepoFactory, all_findings, index_of
from tests.support.git_repos import (
    GitRepo,
    clean_tree,
    example_story,
    requirement,
    specification,
    story,
    tc_document,
)


def test_a_pinned_commit_and_head_give_different_results(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "r")
    repo.write_artifacts(clean_tree())
    first = repo.commit("clean")
    repo.write("stories/US-001-002.md", story("US-001-002", "REQ-009", spec=None))
    head = repo.commit("a story under a missing requirement")

    at_head = index_of(repo)
    pinned = index_of(repo, first)
    short = index_of(repo, first[:8])
    assert (at_head.commit, at_head.ref) == (head, "main")
    assert (pinned.commit, pinned.ref) == (first, first)
    assert short.commit == first
    assert len(at_head.artifacts) == 5 and len(pinned.artifacts) == 4
    assert all_findings(pinned) == {}
    found = all_findings(at_head)
    assert set(found) == {"GXP-LINK-UNKNOWN-PARENT", "GXP-US-NO-SPEC"}
    assert found["GXP-LINK-UNKNOWN-PARENT"][0].location["file"] == "stories/US-001-002.md"


def test_unknown_commit_and_branch_fail_with_a_clear_message(repo_of: RepoFactory) -> None:
    repo = repo_of(clean_tree())
    with pytest.raises(ScanError, match="commit 0123456789abcdef was not found in the repository"):
        index_of(repo, "0123456789abcdef")
    with pytest.raises(ScanError, match="not a hexadecimal commit id"):
        index_of(repo, "HEAD~1")
    with pytest.raises(ScanError, match="branch 'release' was not found"):
        index_of(repo, None, branch="release")
    tree_id = repo.git("rev-parse", "HEAD^{tree}")
    with pytest.raises(ScanError, match="is not a commit"):
        index_of(repo, tree_id)


def test_other_branches_and_tags_are_reachable_by_commit(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "r")
    repo.write_artifacts(clean_tree())
    repo.commit("main")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("reqs/REQ-002.md", requirement("REQ-002"))
    feature = repo.commit("feature only")
    repo.git("checkout", "-q", "main")
    assert len(index_of(repo).artifacts) == 4
    assert len(index_of(repo, feature).artifacts) == 5
    assert len(index_of(repo, None, branch="feature").artifacts) == 5


def test_oversized_binary_and_symlinked_documents_are_not_read(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "r")
    repo.write_artifacts(clean_tree())
    repo.write("docs/huge.md", "---\ngxp_id: REQ-777\n---\n" + "y" * 10_000)
    repo.write("docs/image.md", b"---\ngxp_id: REQ-778\n---\n\x00\x01\x02binary")
    repo.write("docs/latin1.txt", "---\ngxp_id: REQ-779\n---\ncaf\xe9".encode("latin-1"))
    outside = tmp_path / "outside.md"
    outside.write_text("---\ngxp_id: REQ-780\ntitle: secret\n---\n", encoding="utf-8")
    repo.symlink("docs/outside.md", str(outside))  # points outside the repository
    repo.symlink("docs/again.md", "../reqs/REQ-001.md")
    repo.write("notes/README.md", "# Not an artifact\n")
    repo.write("src/main.py", "print('no')\n")
    repo.commit("odd files")

    index = index_of(repo)
    assert sorted(a.gxp_id for a in index.artifacts) == sorted(
        ["REQ-001", "US-001-001", "SPEC-001-001", "TC-001-001-001"]
    )
    assert index.skipped == {"oversized": 1, "binary": 2, "symlink": 2}
    problems = {(p.rule_id, p.path) for p in index.problems}
    assert problems == {
        ("GXP-PARSE-FILE-SIZE", "docs/huge.md"),
        ("GXP-PARSE-SYMLINK", "docs/again.md"),
        ("GXP-PARSE-SYMLINK", "docs/outside.md"),
    }
    assert index.files_scanned == 8  # documents by extension; symlinks and main.py are not
    assert "secret" not in str(index.to_json())


def test_every_scan_uses_a_temporary_bare_copy_that_is_removed(
    repo_of: RepoFactory, tmp_path: Path
) -> None:
    repo = repo_of(clean_tree())
    work = tmp_path / "work"
    work.mkdir()
    options = EngineOptions(allow_local_paths=True, work_dir=str(work))
    index = index_repository(Source(str(repo.path)), None, options)
    assert index.commit == repo.head()
    assert list(work.iterdir()) == []
    with pytest.raises(ScanError):
        index_repository(Source(str(repo.path)), "deadbeef", options)
    assert list(work.iterdir()) == []
    # the repository itself is untouched (no checkout, no new refs)
    assert repo.git("status", "--porcelain") == ""


def test_fetch_through_a_url(repo_of: RepoFactory) -> None:
    repo = repo_of(clean_tree())
    index = index_repository(Source(f"file://{repo.path}"), None, OPTIONS)
    assert index.commit == repo.head() and len(index.artifacts) == 4


def test_local_paths_need_the_setting_and_must_exist(repo_of: RepoFactory) -> None:
    repo = repo_of(clean_tree())
    closed = EngineOptions(allow_local_paths=False)
    with pytest.raises(ScanError, match="REPO_ALLOW_LOCAL_PATHS"):
        index_repository(Source(str(repo.path)), None, closed)
    with pytest.raises(ScanError, match="REPO_ALLOW_LOCAL_PATHS"):
        index_repository(Source(f"file://{repo.path}"), None, closed)
    with pytest.raises(ScanError, match="does not exist"):
        index_repository(Source(tempfile.gettempdir() + "/no-such-repo-xyz"), None, OPTIONS)
    with pytest.raises(ScanError, match="must be https://"):
        index_repository(Source("ftp://example.com/repo.git"), None, OPTIONS)


def test_example_story_as_a_fixture(tmp_path: Path) -> None:
    alone = GitRepo(tmp_path / "alone")
    alone.write("docs/stories/US-006-001.md", example_story())
    alone.commit("the example story")
    found = all_findings(index_of(alone))
    assert set(found) == {
        "GXP-LINK-UNKNOWN-PARENT",  # REQ-006 is not in the repository
        "GXP-LINK-SPEC-MISSING",  # nor is SPEC-006-001
        "GXP-VALIDATION-PENDING",  # IMPLEMENTED, validation DRAFT
    }
    pending = found["GXP-VALIDATION-PENDING"][0]
    assert pending.location == {
        "file": "docs/stories/US-006-001.md",
        "line": 15,
        "artifactId": "US-006-001",
        "artifactType": "US",
        "field": "validation_status",
    }
    assert found["GXP-LINK-UNKNOWN-PARENT"][0].location["line"] == 4

    # with its requirement, specification and a test in place the validation gap remains, and
    # the link to the requirement is suspect: the requirement was committed after the story
    alone.write("reqs/REQ-006.md", requirement("REQ-006"))
    alone.write("specs/SPEC-006-001.md", specification("SPEC-006-001", "US-006-001"))
    alone.write("tests/TC-006-001-01.md", tc_document("TC-006-001-01", "SPEC-006-001"))
    alone.commit("trace the example story")
    assert set(all_findings(index_of(alone))) == {"GXP-VALIDATION-PENDING", "GXP-LINK-SUSPECT"}


def test_redact_removes_credentials_from_urls() -> None:
    assert redact("https://user:tok3n@example.com/r.git failed") == (
        "https://***@example.com/r.git failed"
    )
    assert redact("ssh://git@host/x") == "ssh://***@host/x"
