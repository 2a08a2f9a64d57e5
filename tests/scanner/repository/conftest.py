"""Helpers of the repository-scan tests: index a real Git repository and evaluate rules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from scanner.engine import Finding
from scanner.repository.engine import EngineOptions, index_repository, rule_findings
from scanner.repository.git_source import Limits, Source
from scanner.repository.graph import TraceGraph
from scanner.repository.model import ScanIndex
from scanner.repository.rules import catalogue
from tests.support.git_repos import GitRepo, make_repo

OPTIONS = EngineOptions(allow_local_paths=True, limits=Limits(max_file_bytes=4096))


def index_of(repo: GitRepo | Path, commit: str | None = None, branch: str = "main") -> ScanIndex:
    path = repo.path if isinstance(repo, GitRepo) else repo
    return index_repository(Source(str(path), branch=branch), commit, OPTIONS)


def findings_of(index: ScanIndex, rule_id: str) -> list[Finding]:
    return rule_findings(catalogue()[rule_id], TraceGraph(index))[0]


def all_findings(index: ScanIndex) -> dict[str, list[Finding]]:
    graph = TraceGraph(index)
    found = {rule.id: rule_findings(rule, graph)[0] for rule in catalogue().values()}
    return {rule_id: f for rule_id, f in found.items() if f}


RepoFactory = Callable[[Mapping[str, str | bytes]], GitRepo]


@pytest.fixture
def repo_of(tmp_path: Path) -> RepoFactory:
    """A new real repository with one commit holding the given files."""
    counter = iter(range(1000))

    def build(files: Mapping[str, str | bytes]) -> GitRepo:
        return make_repo(tmp_path / f"repo{next(counter)}", files)

    return build
