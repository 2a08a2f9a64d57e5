"""A large first scan parses part of its documents in a helper process: the index is the same
as when one process parses everything, and a helper that fails changes nothing but the time."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from scanner.repository import parse_helper
from scanner.repository.engine import index_repository
from scanner.repository.git_source import Source
from tests.scanner.repository.conftest import OPTIONS
from tests.support.git_repos import GitRepo, clean_tree


@pytest.fixture
def odd_repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "r")
    for n in range(1, 6):
        repo.write_artifacts(clean_tree(f"00{n}"))
    repo.write("docs/huge.md", "---\ngxp_id: REQ-777\n---\n" + "y" * 10_000)
    repo.write("docs/image.md", b"---\ngxp_id: REQ-778\n---\n\x00\x01binary")
    repo.write("docs/broken.md", "---\ngxp_id: REQ-779\ntitle: [unclosed\n---\n")
    repo.write("docs/zz-readme.md", "# not an artifact\n")
    repo.symlink("docs/link.md", "../reqs/REQ-001.md")
    repo.commit("documents of every kind")
    return repo


def test_a_helper_process_parses_part_of_the_documents_to_the_same_index(
    odd_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = index_repository(Source(str(odd_repo.path)), None, OPTIONS)
    started: list[int] = []
    original = parse_helper.Helper.__init__

    def counting(self: parse_helper.Helper, *args: object) -> None:
        original(self, *args)  # type: ignore[arg-type]
        started.append(len(self.documents))

    monkeypatch.setattr(parse_helper, "wanted", lambda documents: True)
    monkeypatch.setattr(parse_helper.Helper, "__init__", counting)
    helped = index_repository(Source(str(odd_repo.path)), None, OPTIONS)
    assert started == [int(alone.files_scanned * parse_helper.SHARE)]
    assert helped.to_json() == alone.to_json()
    assert helped.skipped == {"oversized": 1, "binary": 1, "symlink": 1}


def test_a_failed_helper_leaves_its_documents_to_the_scan(
    odd_repo: GitRepo, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    alone = index_repository(Source(str(odd_repo.path)), None, OPTIONS)
    monkeypatch.setattr(parse_helper, "wanted", lambda documents: True)
    monkeypatch.setattr(sys, "executable", "/bin/false")
    with caplog.at_level("WARNING"):
        helped = index_repository(Source(str(odd_repo.path)), None, OPTIONS)
    assert "parse helper exited with 1" in caplog.text
    assert helped.to_json() == alone.to_json()
