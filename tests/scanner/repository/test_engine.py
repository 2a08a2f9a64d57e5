"""The engine protocol on a real repository with an in-memory artifact store: plan (phases,
counters, a small context, the index by reference), one item per rule, summarize, reports;
the rule catalogue is complete and auditable; credentials references are read lazily."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from scanner.engine import ItemResult, ScanEngine, ScanError, ScanTarget
from scanner.repository.engine import EngineOptions, RepositoryEngine
from scanner.repository.rules import catalogue
from tests.support.git_repos import GitRepo, clean_tree, example_story, story


class MemoryStore:
    def __init__(self) -> None:
        self.blobs: dict[str, str] = {}

    def put_json(self, name: str, value: Any) -> str:
        self.blobs[name] = json.dumps(value)
        return f"blob:scans/test/{name}"

    def get_json(self, ref: str) -> Any:
        return json.loads(self.blobs[ref.rsplit("/", 1)[1]])


def target_for(repo: GitRepo, **config: Any) -> ScanTarget:
    return ScanTarget(
        target_type="repository",
        target_id="docs",
        config={"url": str(repo.path), "default_branch": "main", **config},
    )


def run_scan(engine: RepositoryEngine, target: ScanTarget) -> tuple[Any, list[ItemResult], Any]:
    store = MemoryStore()
    steps: list[tuple[str, str | None]] = []
    plan = engine.plan(target, store, lambda phase, step: steps.append((phase, step)))
    # the items run elsewhere: a fresh engine (another worker) reads the index by reference
    other = RepositoryEngine(engine.options)
    results = [other.run(target, item, plan.context, store) for item in plan.items]
    summary = other.summarize(target, plan.context, results, store)
    return plan, results, (summary, steps, store, other)


def test_plan_run_summarize(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "r")
    repo.write_artifacts(clean_tree())
    repo.write("stories/US-006-001.md", example_story())
    repo.commit("example story")
    engine = RepositoryEngine(EngineOptions(allow_local_paths=True))
    assert isinstance(engine, ScanEngine)
    plan, results, (summary, steps, store, other) = run_scan(engine, target_for(repo))

    phases = [phase for phase, _ in steps]
    assert phases[0] == "Fetch" and "Discover" in phases and phases[-1] == "Parse"
    assert steps[-1] == ("Parse", "5 artifacts found")
    assert plan.counters == {"artifactsFound": 5, "filesScanned": 5, "documentsParsed": 5}
    assert [i.item_id for i in plan.items] == list(catalogue())
    assert len(json.dumps(plan.context)) < 1000  # small: the index is in the store
    assert plan.context["index"] == "blob:scans/test/artifact-index.json"
    # the index: its artifacts and its history in parts, and the head that names them
    assert sorted(store.blobs) == [
        "artifact-index-history-0.json",
        "artifact-index-part-0.json",
        "artifact-index.json",
        "commit-log.json",
    ]
    # parts written with the head are named beside it
    assert json.loads(store.blobs["artifact-index.json"])["parts"] == ["artifact-index-part-0.json"]
    assert plan.context["commitLog"] == "blob:scans/test/commit-log.json"

    failed = {r.item_id for r in results if r.status == "failed"}
    assert failed == {"GXP-LINK-UNKNOWN-PARENT", "GXP-LINK-SPEC-MISSING", "GXP-VALIDATION-PENDING"}
    assert all(r.status == "passed" for r in results if r.item_id not in failed)
    res = summary.results
    assert res["commitSha"] == repo.head() and res["branch"] == "main"
    assert (res["incremental"], res["reparsed"], res["baseline"]) == (False, 5, None)
    assert res["artifacts"]["byType"] == {"REQ": 1, "US": 2, "SPEC": 1, "TC": 1, "unknown": 0}
    assert res["findings"]["total"] == 3
    assert res["findings"]["bySeverity"] == {
        "critical": 0,
        "high": 3,
        "medium": 0,
        "low": 0,
        "info": 0,
    }
    assert res["findings"]["byRule"]["GXP-VALIDATION-PENDING"] == 1
    assert res["rules"] == {
        "total": len(catalogue()),
        "evaluated": len(catalogue()),
        "passed": len(catalogue()) - 3,
        "failed": 3,
        "error": 0,
        "skipped": 0,
    }
    assert summary.counters == {"findings": 3, "artifactsFound": 5}

    view = {"scanId": "s1", "targetId": "docs", "status": "completed", "results": res}
    content_type, body = other.report("csv", view, results, store) or ("", "")
    assert content_type.startswith("text/csv")
    assert len(list(csv.DictReader(io.StringIO(body)))) == 3
    assert other.report("xml", view, results, store) is None


def test_findings_per_rule_are_capped_but_counted(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "r")
    for n in range(1, 6):
        repo.write(f"s/US-00{n}-001.md", story(f"US-00{n}-001", f"REQ-00{n}"))
    repo.commit("stories without requirements")
    engine = RepositoryEngine(EngineOptions(allow_local_paths=True, max_findings_per_rule=2))
    _, results, (summary, *_) = run_scan(engine, target_for(repo))
    unknown = next(r for r in results if r.item_id == "GXP-LINK-UNKNOWN-PARENT")
    assert len(unknown.findings) == 2
    assert unknown.data == {"severity": "high", "findingsTotal": 5, "truncated": True}
    assert summary.results["findings"]["byRule"]["GXP-LINK-UNKNOWN-PARENT"] == 5


def test_a_purged_index_fails_the_item_clearly(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "r")
    repo.write_artifacts(clean_tree())
    repo.commit("clean")
    engine = RepositoryEngine(EngineOptions(allow_local_paths=True))
    store = MemoryStore()
    plan = engine.plan(target_for(repo), store, lambda *_: None)
    store.blobs.clear()
    store.get_json = lambda ref: None  # type: ignore[method-assign]
    with pytest.raises(ScanError, match="artifact index is gone"):
        RepositoryEngine(engine.options).run(target_for(repo), plan.items[0], plan.context, store)


def test_catalogue_is_complete_and_partly_declared_as_data() -> None:
    rules = catalogue()
    assert len(rules) >= 15
    for rule in rules.values():
        assert rule.title and rule.rationale and rule.remediation, rule.id
        assert rule.severity in ("critical", "high", "medium", "low", "info")
        assert rule.frameworks, rule.id
    declared = {r.id for r in rules.values() if r.check is not None}
    assert declared >= {
        "GXP-FIELDS-REQUIRED",
        "GXP-US-NO-ACCEPTANCE-CRITERIA",
        "GXP-VALIDATION-PENDING",
        "GXP-APPROVAL-SIGNATURE",
    }
    families = {r.family for r in rules.values()}
    assert families == {"parsing", "identity", "links", "history", "coverage", "validation"}
