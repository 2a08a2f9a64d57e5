"""Incremental rescans on real Git repositories: the index updated from the previous scan's
index is the index a full scan of the same commit builds, field for field, and so are the
findings; an older commit, another history and a changed rule catalogue fall back to a full
parse; the mirror cache survives damage and stays within its cap."""

from __future__ import annotations

import json
import random
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pygit2
import pytest
import yaml

from scanner.repository import rules, stored_index
from scanner.repository.engine import EngineOptions, index_repository, scan_repository
from scanner.repository.git_source import Limits, Source
from scanner.repository.history import FirstChanges, newest_commits
from scanner.repository.indexing import Outcome
from scanner.repository.mirrors import MirrorCache, mirror_key
from scanner.repository.model import ScanIndex
from scanner.repository.rules import field_table
from tests.scanner.repository.conftest import all_findings
from tests.support.git_repos import GitRepo, clean_tree, fast_import, requirement, story
from tests.support.memory_store import MemoryStore

REQ = "reqs/REQ-001.md"
US = "stories/US-001-001.md"
OPTIONS = EngineOptions(allow_local_paths=True, limits=Limits(max_file_bytes=4096))


class Rescans:
    """Scans of one repository through a mirror cache, each from the previous one's index,
    each checked against a full scan of the same commit (no cache, no previous index)."""

    def __init__(self, repo: GitRepo, cache_dir: Path, options: EngineOptions = OPTIONS):
        self.repo = repo
        self.options = options
        self.mirrors = MirrorCache(cache_dir, 1 << 30)
        self.previous: ScanIndex | None = None
        self.blobs: dict[str, str] = {}
        self.scans = 0

    def scan(self, commit: str | None = None) -> tuple[ScanIndex, Outcome]:
        source = Source(str(self.repo.path))
        index, outcome = scan_repository(
            source, commit, self.options, previous=self.previous, mirrors=self.mirrors
        )
        full = index_repository(source, commit, self.options)
        assert index.to_json() == full.to_json()
        assert index.log == full.log
        assert all_findings(index) == all_findings(full)
        # the next scan starts from this one as stored (index and commit log read back), its
        # parts written next to those of the scans before
        self.scans += 1
        store = MemoryStore(f"scan-{self.scans}")
        store.blobs = self.blobs
        reference = stored_index.put(index, store, "artifact-index.json", self.previous)
        self.previous = stored_index.read(store.get_json(reference), store.get_json, reference)
        assert self.previous is not None and self.previous.to_json() == index.to_json()
        self.previous.log = json.loads(json.dumps(index.log))
        return index, outcome


@pytest.fixture
def gxp(tmp_path: Path) -> Iterator[tuple[GitRepo, Rescans]]:
    repo = GitRepo(tmp_path / "gxp")
    repo.write_artifacts(clean_tree())
    repo.write_artifacts(clean_tree("002"))
    repo.write("README.md", "# GxP documents\n")
    repo.commit("baseline")
    yield repo, Rescans(repo, tmp_path / "mirrors")


def test_added_modified_renamed_and_deleted_artifacts(gxp: tuple[GitRepo, Rescans]) -> None:
    repo, scans = gxp
    first, outcome = scans.scan()
    assert (outcome.incremental, outcome.reparsed, outcome.reason) == (False, 9, None)

    _, outcome = scans.scan()  # nothing new
    assert (outcome.incremental, outcome.reparsed) == (True, 0)

    repo.write("reqs/REQ-003.md", requirement("REQ-003"))  # added (no story: a finding)
    repo.commit("added")
    index, outcome = scans.scan()
    assert (outcome.incremental, outcome.reparsed) == (True, 1)
    assert "GXP-REQ-NO-STORY" in all_findings(index)

    repo.write(US, story("US-001-001", "REQ-001", spec="SPEC-001-001", status="BOGUS"))
    repo.commit("modified")
    index, outcome = scans.scan()
    assert (outcome.incremental, outcome.reparsed) == (True, 1)
    assert "GXP-STATUS-VOCABULARY" in all_findings(index)

    (repo.path / "specs" / "renamed").mkdir()
    repo.git("mv", "specs/SPEC-002-001.md", "specs/renamed/SPEC-002-001.md")
    repo.commit("renamed")
    index, outcome = scans.scan()
    assert (outcome.incremental, outcome.reparsed) == (True, 1)
    assert "specs/renamed/SPEC-002-001.md" in {a.path for a in index.artifacts}

    repo.remove("tests/TC-002-001-001.md")
    repo.remove("README.md")
    repo.commit("deleted")
    index, outcome = scans.scan()
    assert (outcome.incremental, outcome.reparsed) == (True, 0)
    assert len(index.artifacts) == len(first.artifacts)  # one added, one deleted
    assert index.files_scanned == first.files_scanned - 1


def test_odd_files_come_and_go(gxp: tuple[GitRepo, Rescans], tmp_path: Path) -> None:
    repo, scans = gxp
    scans.scan()
    repo.write("docs/huge.md", "---\ngxp_id: REQ-777\n---\n" + "y" * 10_000)
    repo.write("docs/image.md", b"---\ngxp_id: REQ-778\n---\n\x00\x01binary")
    repo.write("docs/broken.md", "---\ngxp_id: REQ-779\ntitle: [unclosed\n---\n")
    repo.symlink("docs/link.md", "../reqs/REQ-001.md")
    repo.commit("odd files")
    index, outcome = scans.scan()
    assert (outcome.incremental, outcome.reparsed) == (True, 3)
    assert index.skipped == {"oversized": 1, "binary": 1, "symlink": 1}
    assert "GXP-PARSE-FRONT-MATTER" in all_findings(index)

    repo.remove("docs/link.md")
    repo.write("docs/link.md", requirement("REQ-780"))  # the link becomes a document
    repo.write("docs/image.md", requirement("REQ-778"))  # the binary becomes text
    repo.remove("docs/huge.md")
    repo.write("docs/broken.md", requirement("REQ-779"))
    repo.commit("odd files fixed")
    index, outcome = scans.scan()
    assert (outcome.incremental, outcome.reparsed) == (True, 3)
    assert index.skipped == {"oversized": 0, "binary": 0, "symlink": 0}


def test_a_changed_parent_makes_the_link_suspect(gxp: tuple[GitRepo, Rescans]) -> None:
    repo, scans = gxp
    index, _ = scans.scan()
    assert "GXP-LINK-SUSPECT" not in all_findings(index)
    repo.write(REQ, requirement("REQ-001", title="Requirement reworded"))
    changed = repo.commit("requirement reworded")
    index, outcome = scans.scan()
    assert outcome.incremental
    suspect = all_findings(index)["GXP-LINK-SUSPECT"]
    assert [f.location["artifactId"] for f in suspect] == ["US-001-001"]
    assert changed[:12] in suspect[0].message

    repo.write(US, story("US-001-001", "REQ-001", spec="SPEC-001-001", title="Reviewed"))
    repo.commit("story reviewed")
    index, outcome = scans.scan()
    assert outcome.incremental
    suspect = all_findings(index)["GXP-LINK-SUSPECT"]
    assert [f.location["artifactId"] for f in suspect] == ["SPEC-001-001"]


def test_a_merge_reuses_the_parse_and_walks_the_history_again(
    gxp: tuple[GitRepo, Rescans],
) -> None:
    repo, scans = gxp
    scans.scan()
    # requirements reworded on a branch while main gets a third one, then merged
    repo.git("checkout", "-q", "-b", "rewording")
    repo.write(REQ, requirement("REQ-001", title="Requirement v2"))
    repo.commit("reworded")
    repo.git("checkout", "-q", "main")
    repo.write("reqs/REQ-003.md", requirement("REQ-003"))
    repo.commit("one more requirement")
    repo.git("merge", "-q", "--no-edit", "rewording")
    index, outcome = scans.scan()
    assert (outcome.incremental, outcome.reparsed) == (True, 2)
    assert len(index.history) >= 3


def test_a_force_push_to_another_history_is_a_full_parse(
    gxp: tuple[GitRepo, Rescans],
) -> None:
    repo, scans = gxp
    first, _ = scans.scan()
    assert first.artifacts
    repo.git("checkout", "-q", "--orphan", "rewritten")
    repo.git("rm", "-q", "-r", "--cached", ".")
    for path in [*repo.path.glob("*/*.md"), repo.path / "README.md"]:
        path.unlink()
    repo.write_artifacts(clean_tree("007"))
    repo.commit("a new history")
    repo.git("branch", "-f", "main", "rewritten")
    repo.git("checkout", "-q", "main")
    index, outcome = scans.scan()
    assert not outcome.incremental and outcome.reparsed == 4
    assert outcome.reason == "the commit does not descend from the previous scan's commit"
    assert {a.gxp_id for a in index.artifacts} == {
        "REQ-007",
        "US-007-001",
        "SPEC-007-001",
        "TC-007-001-001",
    }


def test_an_older_commit_is_a_full_parse(gxp: tuple[GitRepo, Rescans]) -> None:
    repo, scans = gxp
    old = repo.head()
    repo.write("reqs/REQ-003.md", requirement("REQ-003"))
    repo.commit("newer")
    scans.scan()
    index, outcome = scans.scan(old)
    assert not outcome.incremental
    assert outcome.reason == "the commit does not descend from the previous scan's commit"
    assert index.commit == old and len(index.artifacts) == 8
    _, outcome = scans.scan()  # back to the head: the head descends from the old commit
    assert (outcome.incremental, outcome.reparsed) == (True, 1)


def test_a_changed_rule_catalogue_is_a_full_parse(
    gxp: tuple[GitRepo, Rescans], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, scans = gxp
    scans.scan()
    catalogue = yaml.safe_load(rules.CATALOGUE_PATH.read_text(encoding="utf-8"))
    # a requirement now also needs an owner: the index records one more field
    for rule in catalogue["rules"]:
        if rule.get("check", {}).get("applies_to") == ["REQ"]:
            rule["check"]["require"] = {"all": [rule["check"]["require"], {"present": ["owner"]}]}
            break
    else:
        raise AssertionError("no requirement rule to change")
    changed = tmp_path / "catalogue.yaml"
    changed.write_text(yaml.safe_dump(catalogue, sort_keys=False), encoding="utf-8")
    monkeypatch.setattr(rules, "CATALOGUE_PATH", changed)
    _clear_rule_caches()
    try:
        assert "owner" in field_table().keys
        index, outcome = scans.scan()
        assert not outcome.incremental and outcome.reparsed == 9
        assert outcome.reason == "the parser, artifact schema, rule catalogue or limits changed"
        assert "owner" in index.fields.keys
        _, outcome = scans.scan()
        assert outcome.incremental
    finally:
        monkeypatch.undo()
        _clear_rule_caches()


def _clear_rule_caches() -> None:
    rules.catalogue.cache_clear()
    field_table.cache_clear()


def test_last_changes_beyond_the_history_limit(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "deep")
    repo.write_artifacts(clean_tree())
    baseline = repo.commit("baseline")
    options = EngineOptions(allow_local_paths=True, limits=Limits(max_history_commits=3))
    scans = Rescans(repo, tmp_path / "mirrors", options)
    scans.scan()
    # the requirement changes, then other files: it slides out of the walked window
    repo.write(REQ, requirement("REQ-001", title="v2"))
    reworded = repo.commit("requirement v2")
    for n in range(4):
        index, outcome = scans.scan()
        assert outcome.incremental
        last = {a.gxp_id: a.last_change for a in index.artifacts}
        assert last["REQ-001"] == (reworded if n < 3 else None)  # three commits deep at most
        assert last["US-001-001"] == (baseline if n < 2 else None)
        suspect = "GXP-LINK-SUSPECT" in all_findings(index)
        assert suspect == (n < 3)
        repo.write(f"notes/note-{n}.md", f"note {n}\n")
        repo.commit(f"note {n}")


def test_git_and_libgit2_place_the_same_changes(tmp_path: Path) -> None:
    """Both ways of diffing the history agree: merges (changed only against every parent),
    deletions, renames, symbolic links, re-added files."""
    repo = GitRepo(tmp_path / "h")
    repo.write_artifacts(clean_tree())
    repo.commit("baseline")
    repo.git("checkout", "-q", "-b", "side")
    repo.write("reqs/REQ-002.md", requirement("REQ-002"))
    repo.remove("tests/TC-001-001-001.md")
    repo.commit("side")
    repo.git("checkout", "-q", "main")
    repo.git("mv", "specs/SPEC-001-001.md", "specs/SPEC-001-001-moved.md")
    repo.symlink("docs/link.md", "../reqs/REQ-001.md")
    repo.commit("main")
    repo.git("merge", "-q", "--no-edit", "side")
    removed = "tests/TC-001-001-001.md"
    repo.write(removed, clean_tree()[removed])  # re-added
    repo.write_artifacts({k: v for k, v in clean_tree("002").items() if k.startswith("specs/")})
    repo.commit("re-added")
    git = pygit2.Repository(str(repo.path / ".git"))
    commit = git.revparse_single("HEAD").peel(pygit2.Commit)
    walk = newest_commits(git, commit, 100)
    paths = [*repo.git("ls-files").split("\n"), "reqs/nowhere.md"]
    by_git = FirstChanges(git, walk, use_git=True).ranks(paths)
    by_libgit2 = FirstChanges(git, walk, use_git=False).ranks(paths)
    assert by_git == by_libgit2
    assert set(by_git) == set(paths) - {"reqs/nowhere.md"}
    assert by_git["reqs/REQ-002.md"] == [str(c.id) for c in walk].index(
        repo.git("rev-parse", "side")
    )


# -- the mirror cache ---------------------------------------------------------------------------


def test_a_damaged_mirror_is_cloned_again(
    gxp: tuple[GitRepo, Rescans], caplog: pytest.LogCaptureFixture
) -> None:
    repo, scans = gxp
    scans.scan()
    (mirror,) = [f for _, f in scans.mirrors.mirrors()]
    # replaced, not written in place: a local clone shares the source's object files
    for damaged in [*(mirror / "objects" / "pack").glob("*"), *(mirror / "objects").glob("??/*")]:
        damaged.unlink()
        damaged.write_bytes(b"not a git object")
    repo.write("reqs/REQ-003.md", requirement("REQ-003"))
    repo.commit("after the damage")
    with caplog.at_level("WARNING"):
        index, outcome = scans.scan()  # checked against a full scan inside
    assert len(index.artifacts) == 9 and outcome.incremental
    assert "cloning it again" in caplog.text
    caplog.clear()

    shutil.rmtree(mirror / "refs")
    (mirror / "HEAD").write_text("garbage\n", encoding="utf-8")
    with caplog.at_level("WARNING"):
        index, _ = scans.scan()
    assert len(index.artifacts) == 9
    assert "cloning it again" in caplog.text
    (mirror_again,) = [f for _, f in scans.mirrors.mirrors()]
    assert (mirror_again / "HEAD").read_text(encoding="utf-8") != "garbage\n"
    caplog.clear()

    # damage that only reading a document meets (the fetch has nothing to do)
    blob = repo.git("rev-parse", f"HEAD:{REQ}")
    damaged = mirror_again / "objects" / blob[:2] / blob[2:]
    damaged.unlink()
    damaged.write_bytes(b"not a git object")
    scans.previous = None  # a full parse reads every document
    with caplog.at_level("WARNING"):
        index, _ = scans.scan()
    assert len(index.artifacts) == 9
    assert "cannot be read" in caplog.text


def test_the_cache_keeps_the_most_recently_used_mirrors_within_its_cap(
    tmp_path: Path,
) -> None:
    repos = []
    for n in range(3):
        repo = GitRepo(tmp_path / f"r{n}")
        repo.write_artifacts(clean_tree(f"00{n + 1}"))
        repo.commit("one")
        repos.append(repo)
    probe = MirrorCache(tmp_path / "probe", 1 << 30)
    scan_repository(Source(str(repos[0].path)), None, OPTIONS, mirrors=probe)
    one_mirror = probe.size_of(probe.mirrors()[0][1])
    mirrors = MirrorCache(tmp_path / "mirrors", int(one_mirror * 2.5))

    errors: list[BaseException] = []

    def scan(repo: GitRepo) -> None:
        try:
            for _ in range(3):
                index, _ = scan_repository(Source(str(repo.path)), None, OPTIONS, mirrors=mirrors)
                assert len(index.artifacts) == 4
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=scan, args=(repo,)) for repo in repos]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(mirrors.mirrors()) <= 2
    scan_repository(Source(str(repos[1].path)), None, OPTIONS, mirrors=mirrors)
    scan_repository(Source(str(repos[2].path)), None, OPTIONS, mirrors=mirrors)
    kept = {folder.name for _, folder in mirrors.mirrors()}
    assert len(kept) == 2 and sum(mirrors.size_of(f) for _, f in mirrors.mirrors()) <= (
        mirrors.max_bytes
    )
    assert kept == {mirror_key(str(repos[1].path)), mirror_key(str(repos[2].path))}


def test_the_diffs_stop_once_every_document_is_placed(tmp_path: Path) -> None:
    """10,000 commits over ten documents: each is placed within the newest few dozen commits,
    so the rest of git's output is never read (and git is stopped, not waited for)."""
    files = {f"reqs/REQ-{n:03d}.md": requirement(f"REQ-{n:03d}") for n in range(1, 11)}
    fast_import(tmp_path / "long.git", files, edits=10_000)
    git = pygit2.Repository(str(tmp_path / "long.git"))
    commit = git.revparse_single("main").peel(pygit2.Commit)
    walk = newest_commits(git, commit, 20_000)
    assert len(walk) == 10_001
    answer: dict[str, dict[str, int]] = {}

    def by_git() -> None:
        answer["git"] = FirstChanges(git, walk, use_git=True).ranks(files)

    reader = threading.Thread(target=by_git, daemon=True)
    reader.start()
    reader.join(timeout=60)
    assert "git" in answer, "reading git diff-tree did not end"
    assert answer["git"] == FirstChanges(git, walk, use_git=False).ranks(files)
    assert max(answer["git"].values()) < 200


def test_a_long_walk_diffed_in_runs_places_documents_never_edited(tmp_path: Path) -> None:
    """2,500 edits over 2,000 documents: many are never edited after the first commit, so the
    oldest run of the walk (another git process) places them."""
    files = {f"docs/d{n % 50}/REQ-{n:04d}.md": f"REQ-{n:04d}\n" for n in range(2000)}
    fast_import(tmp_path / "wide.git", files, edits=2500)
    git = pygit2.Repository(str(tmp_path / "wide.git"))
    walk = newest_commits(git, git.revparse_single("main").peel(pygit2.Commit), 10_000)
    by_git = FirstChanges(git, walk, use_git=True).ranks(files)
    assert by_git == FirstChanges(git, walk, use_git=False).ranks(files)
    assert len(by_git) == 2000 and max(by_git.values()) == 2500  # the first commit


@pytest.mark.parametrize(("seed", "log_commits"), [(1, 500), (2, 3)])
def test_random_histories_give_the_same_index_either_way(
    tmp_path: Path, seed: int, log_commits: int
) -> None:
    """Random edits, renames, deletions, odd files, merges and scans of older commits: after
    every step the updated index and commit log equal a full scan's (Rescans compares them),
    with a commit log longer than the history and one shorter."""
    rng = random.Random(seed)
    repo = GitRepo(tmp_path / "random")
    repo.write_artifacts(clean_tree())
    repo.write_artifacts(clean_tree("002"))
    commits = [repo.commit("baseline")]
    limits = Limits(max_file_bytes=4096, max_log_commits=log_commits)
    scans = Rescans(
        repo, tmp_path / "mirrors", EngineOptions(allow_local_paths=True, limits=limits)
    )
    scans.scan()

    def documents() -> list[str]:
        return sorted(p for p in repo.git("ls-files").split("\n") if p.endswith(".md"))

    for step in range(12):
        action = rng.choice(["edit", "edit", "add", "rename", "delete", "odd", "merge", "older"])
        if action == "edit":
            path = rng.choice(documents())
            gxp_id = Path(path).stem
            repo.write(path, requirement(gxp_id, title=f"step {step}"))
        elif action == "add":
            repo.write(f"reqs/REQ-{100 + step}.md", requirement(f"REQ-{100 + step}"))
        elif action == "rename":
            path = rng.choice(documents())
            (repo.path / "moved").mkdir(exist_ok=True)
            repo.git("mv", path, f"moved/{step}-{Path(path).name}")
        elif action == "delete" and len(documents()) > 2:
            repo.remove(rng.choice(documents()))
        elif action == "odd":
            repo.write(f"odd/{step}.md", rng.choice([b"\x00binary", "---\n[broken\n---\n"]))
        elif action == "merge":
            repo.git("checkout", "-q", "-b", f"side-{step}")
            repo.write(f"side/REQ-{200 + step}.md", requirement(f"REQ-{200 + step}"))
            repo.commit(f"side {step}")
            repo.git("checkout", "-q", "main")
            repo.write(f"main/REQ-{300 + step}.md", requirement(f"REQ-{300 + step}"))
            repo.commit(f"main {step}")
            repo.git("merge", "-q", "--no-edit", f"side-{step}")
        if action == "older":
            scans.scan(rng.choice(commits))
            continue
        commits.append(repo.commit(f"step {step}: {action}"))
        scans.scan()
