"""Repository scans end to end over HTTP on the standalone host (with Azurite): register a real
local Git repository, trigger scans (HEAD and a pinned commit), poll, read results and reports,
and see the registry entry updated."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from scanner.repository.engine import EngineOptions, evaluate_all, index_repository
from scanner.repository.git_source import Limits, Source
from tests.support.git_repos import GitRepo, clean_tree, example_story, requirement, specification
from tests.support.scan_api import Api, scan_api_env, start_api

FULL = EngineOptions(allow_local_paths=True, limits=Limits(max_file_bytes=4096))


@pytest.fixture(scope="module")
def api(azurite: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data = tmp_path_factory.mktemp("repo-api")
    env = scan_api_env(
        azurite,
        REPO_MAX_FILE_BYTES="4096",
        GXP_TOKEN="never-read-token",
        REPO_WORK_DIR=str(data),  # the mirror cache goes with the test's files
    )
    host = start_api(data, env)
    yield Api(host)
    host.stop()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A repository with two commits: a clean trace, then the example story and odd files."""
    repo = GitRepo(tmp_path_factory.mktemp("gxp") / "docs")
    repo.write_artifacts(clean_tree())
    first = repo.commit("clean traceability")
    repo.write("stories/US-006-001.md", example_story())
    repo.write("reqs/REQ-006.md", requirement("REQ-006"))
    repo.write("specs/SPEC-006-001.md", specification("SPEC-006-001", "US-006-001"))
    repo.write("stories/US-001-002.md", "---\ngxp_id: US-001-002\ntitle: [broken\n---\n")
    repo.write("stories/big.md", "---\ngxp_id: US-001-003\n---\n" + "z" * 5000)
    repo.symlink("stories/link.md", "US-006-001.md")
    head = repo.commit("example story, a broken document, an oversized one, a link")
    return {"repo": repo, "first": first, "head": head}


def register(api: Api, repo: GitRepo, **extra: Any) -> str:
    name = f"gxp-{time.time_ns()}"
    answer = api.post(
        "/api/v1/repositories",
        {"name": name, "url": str(repo.path), "defaultBranch": "main", **extra},
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def scan(api: Api, repository_id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = api.post(f"/api/v1/repositories/{repository_id}/scan", body or {})
    assert answer.status_code == 202, answer.text
    started = answer.json()
    assert started["status"] == "pending"
    return api.wait(started["scanId"], timeout=90)


def registry_entry(api: Api, repository_id: str, scan_id: str) -> dict[str, Any]:
    """The registry entry once it names `scan_id` (the scan's record ends a moment before the
    registry is updated by the same activity)."""
    deadline = time.monotonic() + 10
    while True:
        entry: dict[str, Any] = api.get(f"/api/v1/repositories/{repository_id}").json()
        if entry.get("lastScanId") == scan_id or time.monotonic() > deadline:
            return entry
        time.sleep(0.05)


def test_scan_at_head_then_at_a_pinned_commit(api: Api, history: dict[str, Any]) -> None:
    repository_id = register(api, history["repo"], credentialsRef="GXP_TOKEN")
    done = scan(api, repository_id)
    assert done["status"] == "completed", done.get("errorMessage")
    results = done["results"]
    assert results["commitSha"] == history["head"]
    assert results["ref"] == "main"
    assert results["artifacts"] == {
        "total": 7,
        "byType": {"REQ": 2, "US": 2, "SPEC": 2, "TC": 1, "unknown": 0},
    }
    assert results["files"] == {
        "scanned": 9,
        "skipped": {"oversized": 1, "binary": 0, "symlink": 1},
    }
    by_rule = results["findings"]["byRule"]
    assert len(by_rule) == results["rules"]["total"] >= 15
    flagged = {rule for rule, count in by_rule.items() if count}
    assert flagged == {
        "GXP-PARSE-FRONT-MATTER",  # the broken document: a finding, not a crashed scan
        "GXP-PARSE-FILE-SIZE",
        "GXP-PARSE-SYMLINK",
        "GXP-VALIDATION-PENDING",  # the example story: IMPLEMENTED, validation DRAFT
        "GXP-SPEC-NO-TESTS",  # SPEC-006-001: no TC document yet
    }
    assert results["findings"]["bySeverity"]["high"] == 2  # front matter + validation pending
    assert results["findings"]["total"] == 5
    assert results["compliant"] is False
    assert done["artifactsFound"] == 7
    assert done["rulesCompleted"] == done["totalRules"] == results["rules"]["total"]
    assert len(done["items"]) == done["totalRules"]
    assert {i["itemId"] for i in done["items"] if i["status"] == "failed"} == flagged

    pinned = scan(api, repository_id, {"commitSha": history["first"]})
    assert pinned["status"] == "completed"
    assert pinned["results"]["commitSha"] == history["first"]
    assert pinned["results"]["ref"] == history["first"]
    assert pinned["results"]["artifacts"]["total"] == 4
    assert pinned["results"]["findings"]["total"] == 0
    assert pinned["results"]["compliant"] is True

    registered = registry_entry(api, repository_id, pinned["scanId"])
    assert registered["lastScanId"] == pinned["scanId"]
    assert registered["lastStatus"] == "completed"
    assert registered["lastScannedAt"]
    assert registered["credentialsRef"] == "GXP_TOKEN"  # the name only; the token never
    assert "never-read-token" not in json.dumps(registered) + json.dumps(done)


def test_a_rescan_parses_only_what_changed(
    api: Api, tmp_path_factory: pytest.TempPathFactory
) -> None:
    repo = GitRepo(tmp_path_factory.mktemp("rescan") / "docs")
    repo.write_artifacts(clean_tree())
    repo.write_artifacts(clean_tree("002"))
    repo.commit("two clean chains")
    repository_id = register(api, repo)
    first = scan(api, repository_id)
    assert first["status"] == "completed", first.get("errorMessage")
    assert (first["results"]["incremental"], first["results"]["reparsed"]) == (False, 8)
    assert first["results"]["baseline"] is None and first["documentsParsed"] == 8

    repo.write("reqs/REQ-001.md", requirement("REQ-001", title="Reworded"))
    head = repo.commit("a requirement reworded")
    second = scan(api, repository_id)
    results = second["results"]
    assert second["status"] == "completed", second.get("errorMessage")
    assert (results["incremental"], results["reparsed"]) == (True, 1)
    assert results["baseline"]["scanId"] == first["scanId"]
    assert results["commitSha"] == head and second["documentsParsed"] == 1
    assert results["artifacts"]["total"] == 8
    # what a full scan of the same commit finds, finding for finding
    full = evaluate_all(index_repository(Source(str(repo.path)), None, FULL))
    report = api.get(f"/api/v1/scans/{second['scanId']}/report", params={"format": "json"})
    found = sorted((f["rule_id"], f["message"]) for f in report.json()["findings"])
    assert found == sorted((f.rule_id, f.message) for hits in full.values() for f in hits)
    assert ("GXP-LINK-SUSPECT", "US-001-001") in {(r, m.split(":")[0]) for r, m in found}

    # a failed scan in between: the next one still starts from the last completed one
    failed = scan(api, repository_id, {"commitSha": "0123456789abcdef0123"})
    assert failed["status"] == "failed"
    third = scan(api, repository_id)
    assert (third["results"]["incremental"], third["results"]["reparsed"]) == (True, 0)
    assert third["results"]["baseline"] == {"scanId": second["scanId"], "commitSha": head}


def test_unknown_commit_fails_with_a_clear_message(api: Api, history: dict[str, Any]) -> None:
    repository_id = register(api, history["repo"])
    failed = scan(api, repository_id, {"commitSha": "0123456789abcdef0123"})
    assert failed["status"] == "failed"
    assert failed["errorMessage"] == ("commit 0123456789abcdef0123 was not found in the repository")
    registered = registry_entry(api, repository_id, failed["scanId"])
    assert (registered["lastScanId"], registered["lastStatus"]) == (failed["scanId"], "failed")
    bad = api.post(f"/api/v1/repositories/{repository_id}/scan", {"commitSha": "not-hex"})
    assert bad.status_code == 422 and "error" in bad.json()
    missing = api.post("/api/v1/repositories/no-such-repo/scan", {})
    assert missing.status_code == 404


def test_reports_json_sarif_csv_and_the_traceability_matrix(
    api: Api, history: dict[str, Any]
) -> None:
    repository_id = register(api, history["repo"])
    done = scan(api, repository_id)
    scan_id = done["scanId"]

    def report(fmt: str) -> tuple[str, str]:
        answer = api.get(f"/api/v1/scans/{scan_id}/report", params={"format": fmt})
        assert answer.status_code == 200, answer.text
        return answer.headers["Content-Type"], answer.text

    kind, body = report("sarif")
    assert kind == "application/sarif+json"
    sarif = json.loads(body)
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    assert run["versionControlProvenance"][0]["revisionId"] == history["head"]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert len(rule_ids) == done["totalRules"]
    assert all(
        r["help"]["text"] and r["fullDescription"]["text"] for r in run["tool"]["driver"]["rules"]
    )
    located = {
        (
            r["ruleId"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for r in run["results"]
    }
    assert ("GXP-VALIDATION-PENDING", "stories/US-006-001.md", 15) in located
    assert ("GXP-PARSE-FRONT-MATTER", "stories/US-001-002.md", 3) in located
    assert all(rule_ids[r["ruleIndex"]] == r["ruleId"] for r in run["results"])

    kind, body = report("csv")
    assert kind.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 5
    assert {(r["rule_id"], r["file"], r["line"]) for r in rows} >= {
        ("GXP-PARSE-SYMLINK", "stories/link.md", "1")
    }
    assert all(r["commit"] == history["head"] for r in rows)

    kind, body = report("json")
    document = json.loads(body)
    assert document["results"]["commitSha"] == history["head"]
    assert {a["id"] for a in document["artifacts"]} >= {"US-006-001", "TC-001-001-001"}
    assert len(document["rules"]) == done["totalRules"]

    kind, body = report("html")
    assert kind.startswith("text/html")
    assert "<h2>Traceability matrix</h2>" in body
    # the clean chain, coloured validated; the example story amber (implemented, not validated)
    assert "<td class='ok'><b>TC-001-001-001</b>" in body
    assert "<td class='progress' rowspan='1'><b>US-006-001</b>" in body or (
        "<td class='progress'><b>US-006-001</b>" in body
    )
    assert "no test" in body  # SPEC-006-001 has no TC: a gap cell
    assert api.get(f"/api/v1/scans/{scan_id}/report", params={"format": "pdf"}).status_code == 400
