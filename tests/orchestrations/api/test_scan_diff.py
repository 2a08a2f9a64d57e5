"""What changed since the last scan, end to end: the service on the standalone host (Azurite),
scanning a real Git repository with commits in between, a real sshd whose host changes between
scans (a package database and an OS release behind a ForceCommand wrapper), and the TLS fakes
of Azure serving a tenant that changes; then GET /api/v1/scans/{id}/diff, its formats and its
errors, and the new/resolved counts every completed scan carries."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from orchestrations.api.comparison_models import ScanComparison
from scanner.reports import run_guid
from scanner.repository.rules import catalogue
from tests.support import git_repos as gxp
from tests.support.azure_fakes import FakeAzure, planted_tenant
from tests.support.azure_fakes.changes import changed_tenant
from tests.support.changing_host import BOOKWORM, TRIXIE, changing_host, report
from tests.support.scan_api import Api, scan_api_env, start_api
from tests.support.sshd import LOGIN_USER, make_key, public_key

SARIF_SCHEMA = Path(__file__).parents[2] / "support" / "sarif" / "sarif-schema-2.1.0.json"
SUB = planted_tenant().subscription_id

PACKAGES_BEFORE = {
    "bash": "5.2.15-2+b2",
    "curl": "7.88.1-10+deb12u5",
    "libssl3": "3.0.11-1~deb12u2",
    "telnet": "0.17+2.4-2",
    "vim": "2:9.0.1378-2",
}
PACKAGES_AFTER = {
    **{k: v for k, v in PACKAGES_BEFORE.items() if k != "telnet"},
    "libssl3": "3.0.13-1~deb12u1",
    "jq": "1.6-2.1",
}


@pytest.fixture(scope="module")
def client_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_key(tmp_path_factory.mktemp("ssh-client") / "id_ed25519")


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeAzure]:
    with FakeAzure(planted_tenant(), tmp_path_factory.mktemp("fake-azure")) as fake:
        yield fake


@pytest.fixture(scope="module")
def api(
    azurite: str, fake: FakeAzure, client_key: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    """One service for the three kinds: SSH key, the Azure fakes, quick retries."""
    settings = {
        **fake.env(),
        "SSH_PRIVATE_KEY_PATH": str(client_key),
        "SSH_DEFAULT_USERNAME": LOGIN_USER,
        "SUBSCRIPTION_HTTP_RETRIES": "2",
        "SUBSCRIPTION_HTTP_RETRY_BACKOFF_S": "0.05",
    }
    host = start_api(tmp_path_factory.mktemp("comparison-api"), scan_api_env(azurite, **settings))
    try:
        yield Api(host)
    finally:
        host.stop()


@pytest.fixture(scope="module")
def sarif_schema() -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text(encoding="utf-8")))


def finished(api: Api, response: Any, timeout: float = 120) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    done = api.wait(response.json()["scanId"], timeout=timeout)
    assert done["status"] == "completed", done.get("errorMessage")
    return done


def diff(api: Api, scan_id: str, **params: str) -> dict[str, Any]:
    answer = api.get(f"/api/v1/scans/{scan_id}/diff", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    document: dict[str, Any] = answer.json()
    ScanComparison.model_validate(document)  # the documented shape, no field more or less
    schema = api.get("/api/openapi.json").json()
    operation = schema["paths"]["/api/v1/scans/{scanId}/diff"]["get"]
    published = operation["responses"]["200"]["content"]["application/json"]["schema"]
    validator = jsonschema.Draft202012Validator({**published, "components": schema["components"]})
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(document)]
    assert not errors, errors[:5]
    return document


def pairs(findings: list[dict[str, Any]], key: str) -> list[tuple[str, str]]:
    return sorted((f["ruleId"], f["location"][key]) for f in findings)


# -- repository -----------------------------------------------------------------------------------


def test_repository_commit_fixes_one_finding_adds_one_and_flips_a_status(
    api: Api, tmp_path: Path, sarif_schema: jsonschema.Draft4Validator
) -> None:
    repo = gxp.GitRepo(tmp_path / "gxp")
    files = gxp.clean_tree("001")
    files["tests/TC-001-001-001.md"] = gxp.tc_document(
        "TC-001-001-001", "SPEC-001-001", status="WIP"
    )
    files["stories/US-001-002.md"] = gxp.story(
        "US-001-002",
        "REQ-001",
        spec="SPEC-001-003",
        status="IN_PROGRESS",
        validation_status="DRAFT",
    )
    files["specs/SPEC-001-003.md"] = gxp.specification("SPEC-001-003", "US-001-001")
    files["tests/TC-001-003-001.md"] = gxp.tc_document("TC-001-003-001", "SPEC-001-003")
    repo.write_artifacts(files)
    first_commit = repo.commit("baseline")
    registered = api.post(
        "/api/v1/repositories", {"name": "gxp-diff", "url": str(repo.path), "defaultBranch": "main"}
    )
    assert registered.status_code == 201, registered.text
    repository_id = registered.json()["id"]

    def scan() -> dict[str, Any]:
        return finished(api, api.post(f"/api/v1/repositories/{repository_id}/scan", {}))

    first = scan()
    assert (first["newFindings"], first["resolvedFindings"]) == (1, 0)  # no earlier scan
    assert first["results"]["comparison"]["baselineScanId"] is None
    alone = diff(api, first["scanId"])
    assert alone["baseline"] is None and alone["facts"] is None
    assert pairs(alone["findings"]["new"], "artifactId") == [
        ("GXP-STATUS-VOCABULARY", "TC-001-001-001")
    ]

    repo.write("tests/TC-001-001-001.md", gxp.tc_document("TC-001-001-001", "SPEC-001-001"))  # fix
    repo.write("reqs/REQ-003.md", gxp.requirement("REQ-003"))  # a requirement without a story
    repo.write(
        "stories/US-001-002.md",
        gxp.story(
            "US-001-002",
            "REQ-001",
            spec="SPEC-001-003",
            status="IN_PROGRESS",
            validation_status="IN_REVIEW",
        ),
    )
    change = repo.commit("fix TC-001-001-001, add REQ-003, US-001-002 in review")
    second = scan()
    assert (second["newFindings"], second["resolvedFindings"]) == (1, 1)
    assert second["counters"]["newFindings"] == 1
    assert second["results"]["comparison"] == {
        "baselineScanId": first["scanId"],
        "newFindings": 1,
        "resolvedFindings": 1,
    }

    document = diff(api, second["scanId"])
    assert document["against"] == "previous"
    assert document["baseline"]["scanId"] == first["scanId"]
    findings = document["findings"]
    assert pairs(findings["new"], "artifactId") == [("GXP-REQ-NO-STORY", "REQ-003")]
    assert pairs(findings["resolved"], "artifactId") == [
        ("GXP-STATUS-VOCABULARY", "TC-001-001-001")
    ]
    assert findings["counts"] == {"new": 1, "resolved": 1, "unchanged": 0}
    assert findings["new"][0]["severity"] == catalogue()["GXP-REQ-NO-STORY"].severity
    facts = document["facts"]
    assert facts["commit"] == {"from": first_commit, "to": change}
    assert [(c["sha"], c["subject"]) for c in facts["commits"]["items"]] == [
        (change, "fix TC-001-001-001, add REQ-003, US-001-002 in review")
    ]
    artifacts = facts["artifacts"]
    assert [a["id"] for a in artifacts["added"]] == ["REQ-003"]
    assert artifacts["removed"] == []
    assert {a["id"]: a["changes"] for a in artifacts["changed"]} == {
        "TC-001-001-001": [{"field": "status", "from": "WIP", "to": "IMPLEMENTED"}],
        "US-001-002": [{"field": "validation_status", "from": "DRAFT", "to": "IN_REVIEW"}],
    }
    assert facts["links"] == {"added": [], "removed": []}

    # The same diff as SARIF (valid 2.1.0, baselineState per result), CSV and HTML.
    sarif = api.get(f"/api/v1/scans/{second['scanId']}/diff", params={"format": "sarif"})
    assert sarif.status_code == 200 and sarif.headers["Content-Type"] == "application/sarif+json"
    log = sarif.json()
    assert not list(sarif_schema.iter_errors(log))
    run = log["runs"][0]
    assert sorted(r["baselineState"] for r in run["results"]) == ["absent", "new"]
    assert run["baselineGuid"] == run_guid(first["scanId"])
    table = api.get(f"/api/v1/scans/{second['scanId']}/diff", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert ("artifacts", "changed", "US-001-002", "validation_status", "DRAFT", "IN_REVIEW") in [
        (r["section"], r["change"], r["subject"], r["field"], r["from"], r["to"]) for r in rows
    ]
    page = api.get(f"/api/v1/scans/{second['scanId']}/diff", params={"format": "html"})
    assert page.headers["Content-Type"].startswith("text/html") and "REQ-003" in page.text

    # A third scan with no commit in between: nothing changed.
    third = scan()
    assert (third["newFindings"], third["resolvedFindings"]) == (0, 0)
    empty = diff(api, third["scanId"])
    assert empty["baseline"]["scanId"] == second["scanId"]
    assert empty["findings"]["counts"] == {"new": 0, "resolved": 0, "unchanged": 1}
    assert empty["facts"]["commits"]["items"] == [] and empty["facts"]["commits"]["count"] == 0
    assert empty["facts"]["artifacts"]["counts"]["changed"] == 0
    assert empty["facts"]["artifacts"]["added"] == empty["facts"]["artifacts"]["removed"] == []
    # Against a named scan: the third against the first says what the second said.
    named = diff(api, third["scanId"], against=first["scanId"])
    assert named["against"] == first["scanId"] and named["findings"]["counts"]["new"] == 1
    assert named["facts"]["artifacts"] == facts["artifacts"]

    # The scan.finished record of each scan carries its counts.
    log_text = api.host.log()
    assert f"scan={second['scanId']}" in log_text
    finished_lines = [line for line in log_text.splitlines() if f"scan={second['scanId']}" in line]
    assert any(
        "scan completed" in line and "(1 new, 1 resolved)" in line for line in finished_lines
    )


# -- host -----------------------------------------------------------------------------------------


def test_host_packages_gained_lost_and_upgraded_and_a_new_os_version(
    api: Api, client_key: Path
) -> None:
    with changing_host([public_key(client_key)]) as server:
        report(server, BOOKWORM, PACKAGES_BEFORE)
        body = {"targetType": "host", "hostname": "127.0.0.1", "port": server.port}
        first = finished(api, api.post("/api/v1/scans", {**body, "scanType": "full"}))
        assert first["results"]["packages"]["count"] == 5
        report(server, TRIXIE, PACKAGES_AFTER)
        second = finished(api, api.post("/api/v1/scans", {**body, "scanType": "full"}))

    document = diff(api, second["scanId"])
    assert document["baseline"]["scanId"] == first["scanId"]
    facts = document["facts"]
    packages = facts["packages"]
    assert packages["added"] == [{"name": "jq", "arch": "amd64", "version": "1.6-2.1"}]
    assert packages["removed"] == [{"name": "telnet", "arch": "amd64", "version": "0.17+2.4-2"}]
    assert packages["upgraded"] == [
        {"name": "libssl3", "arch": "amd64", "from": "3.0.11-1~deb12u2", "to": "3.0.13-1~deb12u1"}
    ]
    assert packages["downgraded"] == packages["changed"] == []
    assert packages["counts"]["before"] == packages["counts"]["after"] == 5
    system = {c["field"]: (c["from"], c["to"]) for c in facts["system"]}
    assert system == {
        "os": ("Debian GNU/Linux 12 (bookworm)", "Debian GNU/Linux 13 (trixie)"),
        "osVersion": ("12", "13"),
    }
    # The real parts of the host were compared too (same machine, moments apart).
    assert facts["interfaces"] is not None and facts["interfaces"]["added"] == []
    assert facts["disk"] is not None and facts["memory"] is not None
    assert facts["processes"] is not None


# -- subscription ---------------------------------------------------------------------------------


def test_subscription_resource_added_one_fixed_one_removed(api: Api, fake: FakeAzure) -> None:
    body = {"targetType": "subscription", "subscriptionId": SUB}
    first = finished(api, api.post("/api/v1/scans", body), timeout=180)
    tenant, changes = changed_tenant()
    fake.use(tenant)
    try:
        second = finished(api, api.post("/api/v1/scans", body), timeout=180)
    finally:
        fake.use(planted_tenant())
    assert (second["newFindings"], second["resolvedFindings"]) == (1, 2)

    document = diff(api, second["scanId"])
    assert document["baseline"]["scanId"] == first["scanId"]
    facts = document["facts"]
    assert [r["id"] for r in facts["resources"]["added"]] == [changes.added]
    assert [r["id"] for r in facts["resources"]["removed"]] == [changes.removed]
    findings = document["findings"]
    assert pairs(findings["new"], "resourceId") == [("ST-001", changes.added)]
    assert pairs(findings["resolved"], "resourceId") == [
        ("ST-001", changes.fixed),
        ("ST-006", changes.removed),
    ]
    by_rule = {r["ruleId"]: (r["new"], r["resolved"]) for r in facts["findingsByRule"]}
    assert by_rule == {"ST-001": (1, 1), "ST-006": (0, 1)}
    assert facts["findingsByCisControl"] and all(
        set(c["rules"]) <= {"ST-001", "ST-006"} for c in facts["findingsByCisControl"]
    )
    roles = facts["privilegedRoles"]
    assert [(r["principalId"], r["role"]) for r in roles["added"]] == [
        (changes.gained_admin, "Global Administrator")
    ]
    assert [(r["principalId"], r["role"]) for r in roles["removed"]] == [
        (changes.lost_admin, "Global Administrator")
    ]


# -- errors and the summary counts (a synthetic target kind) --------------------------------------


def synthetic(api: Api, name: str, **body: Any) -> Any:
    return api.scan(name=name, **{"item_delay_ms": 0, **body})


def test_errors_and_the_counts_every_completed_scan_carries(api: Api) -> None:
    name = f"diff-{time.time_ns()}"
    first = finished(api, synthetic(api, name, items=3))
    assert (first["newFindings"], first["resolvedFindings"]) == (3, 0)
    second = finished(api, synthetic(api, name, items=5))
    assert (second["newFindings"], second["resolvedFindings"]) == (2, 0)
    third = finished(api, synthetic(api, name, items=1))
    assert (third["newFindings"], third["resolvedFindings"]) == (0, 4)
    document = diff(api, third["scanId"])
    assert document["findings"]["counts"] == {"new": 0, "resolved": 4, "unchanged": 1}
    assert document["facts"] is None  # no facts to compare for this kind
    alone = diff(api, first["scanId"])
    assert alone["baseline"] is None and alone["findings"]["counts"]["new"] == 3

    def error(path: str, status: int, code: str, **params: str) -> dict[str, Any]:
        answer = api.get(path, params=params)
        assert answer.status_code == status, answer.text
        body: dict[str, Any] = answer.json()["error"]
        assert body["code"] == code
        return body

    unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    error(f"/api/v1/scans/{unknown}/diff", 404, "scan_not_found")
    error("/api/v1/scans/not-a-scan/diff", 404, "scan_not_found")
    error(f"/api/v1/scans/{third['scanId']}/diff", 404, "scan_not_found", against=unknown)
    error(f"/api/v1/scans/{third['scanId']}/diff", 400, "invalid_parameter", against="latest")
    error(f"/api/v1/scans/{third['scanId']}/diff", 400, "invalid_parameter", format="xml")
    other = finished(api, synthetic(api, name + "-other", items=1))
    message = error(
        f"/api/v1/scans/{third['scanId']}/diff", 422, "different_targets", against=other["scanId"]
    )["message"]
    assert name + "-other" in message
    failed = api.wait(synthetic(api, name, items=2, fail_items=[1]).json()["scanId"])
    assert failed["status"] == "failed" and "newFindings" not in failed
    error(
        f"/api/v1/scans/{third['scanId']}/diff", 409, "scan_not_completed", against=failed["scanId"]
    )
    error(f"/api/v1/scans/{failed['scanId']}/diff", 409, "scan_not_completed")
    running = synthetic(api, name, items=2, item_delay_ms=3000).json()["scanId"]
    error(f"/api/v1/scans/{running}/diff", 409, "scan_not_completed")
    # The previous scan of a target is its latest *completed* one: the failed scan is skipped.
    done = api.wait(running, timeout=60)
    assert done["results"]["comparison"]["baselineScanId"] == third["scanId"]
    assert (done["newFindings"], done["resolvedFindings"]) == (1, 0)
