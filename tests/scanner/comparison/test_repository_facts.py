"""Repository facts compared: two scans of a real Git repository indexed by the repository
engine, with real commits (and a merged branch) in between."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scanner.comparison.document import change_rows, compare_scans
from scanner.comparison.snapshot import CompareOptions, ScanSnapshot
from scanner.engine import ItemResult
from scanner.repository.engine import COMMIT_LOG_NAME, INDEX_NAME
from scanner.repository.model import ScanIndex
from tests.scanner.repository.conftest import all_findings, index_of
from tests.support.git_repos import GitRepo, clean_tree, requirement, specification, story
from tests.support.memory_store import MemoryStore


def repository_scan(scan_id: str, index: ScanIndex) -> ScanSnapshot:
    """A stored repository scan as the engine leaves it: index and commit log by reference."""
    store = MemoryStore(scan_id)
    results = {
        "commitSha": index.commit,
        "artifactIndex": store.put_json(INDEX_NAME, index.to_json()),
        "commitLog": store.put_json(COMMIT_LOG_NAME, index.log),
    }
    items = [
        ItemResult(item_id=rule, status="failed", findings=findings)
        for rule, findings in all_findings(index).items()
    ]
    return ScanSnapshot(scan_id, "repository", "docs", results, items, store)


def test_artifacts_links_and_commits_between_two_scans(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "docs")
    repo.write_artifacts(clean_tree())
    repo.write("stories/US-001-002.md", story("US-001-002", "REQ-001", validation_status="DRAFT"))
    repo.write("reqs/REQ-002.md", requirement("REQ-002"))
    first = repo.commit("baseline")
    before = repository_scan("scan-1", index_of(repo, first))

    repo.git("checkout", "-q", "-b", "side")
    repo.write("specs/SPEC-001-002.md", specification("SPEC-001-002", "US-001-002"))
    side = repo.commit("specify US-001-002")
    repo.git("checkout", "-q", "main")
    repo.write(
        "stories/US-001-002.md",
        story("US-001-002", "REQ-001", validation_status="VALIDATED", title="Better title"),
    )
    repo.remove("reqs/REQ-002.md")
    main = repo.commit("validate US-001-002, retire REQ-002")
    repo.git("merge", "-q", "--no-ff", "-m", "merge side", "side")
    merge = repo.head()
    after = repository_scan("scan-2", index_of(repo, merge))

    document = compare_scans(after, before)
    facts = document["facts"]
    assert facts["commit"] == {"from": first, "to": merge}
    commits = facts["commits"]
    assert commits["complete"] is True
    assert {c["sha"] for c in commits["items"]} == {merge, main, side}
    assert commits["count"] == 3
    assert {c["subject"] for c in commits["items"]} == {
        "merge side",
        "validate US-001-002, retire REQ-002",
        "specify US-001-002",
    }
    assert commits["items"][0]["author"] == "GxP Author"

    artifacts = facts["artifacts"]
    assert [a["id"] for a in artifacts["added"]] == ["SPEC-001-002"]
    assert [a["id"] for a in artifacts["removed"]] == ["REQ-002"]
    assert artifacts["removed"][0]["path"] == "reqs/REQ-002.md"
    assert [a["id"] for a in artifacts["changed"]] == ["US-001-002"]
    assert artifacts["changed"][0]["changes"] == [
        {"field": "title", "from": "Story US-001-002", "to": "Better title"},
        {"field": "validation_status", "from": "DRAFT", "to": "VALIDATED"},
    ]
    assert artifacts["counts"] == {
        "before": 6,
        "after": 6,
        "added": 1,
        "removed": 1,
        "changed": 1,
    }
    assert facts["links"] == {
        "added": [{"from": "SPEC-001-002", "to": "US-001-002", "kind": "parent"}],
        "removed": [],
    }
    assert facts["notCompared"] == {}
    # The story now has a specification: its finding is resolved.
    resolved = [
        (f["ruleId"], f["location"]["artifactId"]) for f in document["findings"]["resolved"]
    ]
    assert ("GXP-US-NO-SPEC", "US-001-002") in resolved
    rows = change_rows(document)
    assert ("artifacts", "changed", "US-001-002", "validation_status", "DRAFT", "VALIDATED") in rows
    assert ("links", "added", "SPEC-001-002", "parent", None, "US-001-002") in rows

    # Rescanning the same commit: an empty delta.
    same = compare_scans(repository_scan("scan-3", index_of(repo, merge)), after)
    assert same["facts"]["commits"] == {"complete": True, "count": 0, "items": [], "note": None}
    assert same["findings"]["counts"]["new"] == same["findings"]["counts"]["resolved"] == 0
    empty: dict[str, Any] = {"added": [], "removed": []}
    assert same["facts"]["links"] == empty
    assert same["facts"]["artifacts"]["changed"] == []


def test_a_rewritten_history_says_the_commits_are_unknown(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "docs")
    repo.write_artifacts(clean_tree())
    first = repo.commit("baseline")
    before = repository_scan("scan-1", index_of(repo, first))
    repo.write("reqs/REQ-002.md", requirement("REQ-002"))
    repo.git("commit", "-q", "--amend", "-a", "-m", "rewritten")
    repo.git("add", "-A")
    repo.git("commit", "-q", "--amend", "-m", "rewritten")
    after = repository_scan("scan-2", index_of(repo, repo.head()))
    commits = compare_scans(after, before, CompareOptions(commits_listed=10))["facts"]["commits"]
    assert commits["complete"] is False and commits["count"] is None
    assert "not among the last 1 commits" in commits["note"]


def test_without_a_baseline_every_finding_is_new(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "docs")
    repo.write("stories/US-001-002.md", story("US-001-002", "REQ-404"))
    scan = repository_scan("scan-1", index_of(repo, repo.commit("one story")))
    document = compare_scans(scan, None)
    assert document["baseline"] is None and document["facts"] is None
    assert document["findings"]["counts"]["new"] == len(scan.findings()) > 0
    assert document["findings"]["counts"]["resolved"] == 0


def test_a_moved_document_is_changed_and_duplicated_ids_are_told_apart(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "docs")
    repo.write_artifacts(clean_tree())
    repo.write("reqs/REQ-002.md", requirement("REQ-002"))
    repo.write("old/REQ-002.md", requirement("REQ-002", title="A copy"))
    before = repository_scan("scan-1", index_of(repo, repo.commit("a duplicated id")))
    repo.remove("reqs/REQ-001.md")
    repo.write("requirements/REQ-001.md", requirement("REQ-001"))
    repo.write("old/REQ-002.md", requirement("REQ-002", title="The copy, edited"))
    after = repository_scan("scan-2", index_of(repo, repo.commit("moved and edited")))
    artifacts = compare_scans(after, before)["facts"]["artifacts"]
    assert artifacts["added"] == artifacts["removed"] == []
    assert {a["id"]: a["changes"] for a in artifacts["changed"]} == {
        "REQ-001": [{"field": "path", "from": "reqs/REQ-001.md", "to": "requirements/REQ-001.md"}],
        "REQ-002": [{"field": "title", "from": "A copy", "to": "The copy, edited"}],
    }
    assert [a["path"] for a in artifacts["changed"]] == [
        "requirements/REQ-001.md",
        "old/REQ-002.md",
    ]
