"""The read endpoints the dashboard needs: a scan's findings (with service and controls), a
repository scan's trace data and its documents at the scanned commit. Authenticated, 4xx for
what cannot be answered, described in the OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrations.api.scan_views import source_url_template
from tests.dashboard.service import DashboardService


@pytest.fixture(scope="module")
def scans(service: DashboardService) -> dict[str, dict[str, Any]]:
    service.register_repository("views-repo")
    accepted = service.api("POST", "/api/v1/repositories/views-repo/scan", json={}).json()
    repository = service.wait(accepted["scanId"])
    subscription = service.subscription_scan()
    assert repository["status"] == subscription["status"] == "completed"
    return {"repository": repository, "subscription": subscription}


def test_findings_are_flat_with_their_item_service_and_controls(
    service: DashboardService, scans: dict[str, dict[str, Any]]
) -> None:
    scan = scans["subscription"]
    body = service.api("GET", f"/api/v1/scans/{scan['scanId']}/findings").json()
    assert body["total"] == len(body["items"]) == scan["counters"]["findings"] > 0
    assert sum(body["bySeverity"].values()) == body["total"]
    benchmark = scan["results"]["cisBenchmark"]
    mapped = [f for f in body["items"] if benchmark in f["frameworks"]]
    assert mapped, "no finding carries its CIS controls"
    failed_controls = {c for f in mapped for c in f["frameworks"][benchmark]}
    assert failed_controls == set(scan["results"]["cisRecommendationsFailed"])
    assert {f["family"] for f in body["items"]} == set(scan["results"]["findingsByFamily"])
    assert all(f["itemId"] == f["ruleId"] for f in body["items"])
    # Each finding carries its stable identity (what a comparison of two scans matches on).
    assert all(len(f["fingerprint"]) == 32 for f in body["items"])


def test_trace_lists_every_artifact_with_file_line_and_findings(
    service: DashboardService, scans: dict[str, dict[str, Any]]
) -> None:
    scan = scans["repository"]
    trace = service.api("GET", f"/api/v1/scans/{scan['scanId']}/trace").json()
    assert trace["commitSha"] == service.repo.head()
    assert trace["sourceUrlTemplate"] is None  # a local path has no web view
    by_id = {a["id"]: a for a in trace["artifacts"]}
    assert len(by_id) == scan["results"]["artifacts"]["total"]
    story = by_id["US-002-002"]
    assert (story["file"], story["line"], story["type"]) == ("stories/US-002-002.md", 2, "US")
    assert story["parents"] == ["REQ-002"] and story["status"] == "IN_REVIEW"
    assert by_id["SPEC-001-002"]["validationStatus"] == "REJECTED"
    findings = service.api("GET", f"/api/v1/scans/{scan['scanId']}/findings").json()["items"]
    on_story = [f for f in findings if f["location"].get("artifactId") == "US-002-002"]
    assert story["findings"] == len(on_story) > 0


def test_source_returns_an_indexed_document_at_the_commit_and_nothing_else(
    service: DashboardService, scans: dict[str, dict[str, Any]]
) -> None:
    scan_id = scans["repository"]["scanId"]
    document = service.api(
        "GET", f"/api/v1/scans/{scan_id}/source", params={"path": "reqs/REQ-001.md"}
    ).json()
    assert document["text"] == (service.repo.path / "reqs" / "REQ-001.md").read_text()
    assert document["commitSha"] == service.repo.head()
    for path in ("../../etc/passwd", "README.md", "", "reqs"):
        refused = service.api("GET", f"/api/v1/scans/{scan_id}/source", params={"path": path})
        assert refused.status_code == 404, path
        assert refused.json()["error"]["code"] == "document_not_found"


def test_views_answer_4xx_for_what_they_cannot_show(
    service: DashboardService, scans: dict[str, dict[str, Any]]
) -> None:
    subscription = scans["subscription"]["scanId"]
    for path, status, code in (
        (f"/api/v1/scans/{subscription}/trace", 404, "not_a_repository_scan"),
        (f"/api/v1/scans/{subscription}/source?path=a.md", 404, "not_a_repository_scan"),
        ("/api/v1/scans/01NOSUCHSCAN000000000000000/findings", 404, "scan_not_found"),
        ("/api/v1/scans/01NOSUCHSCAN000000000000000/trace", 404, "scan_not_found"),
    ):
        response = service.api("GET", path)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), path
    running = service.slow_scan("views-running", items=50, delay_ms=1000)
    response = service.api("GET", f"/api/v1/scans/{running}/findings")
    assert response.status_code == 200  # findings so far
    service.api("POST", f"/api/v1/scans/{running}/cancel")
    for path in ("findings", "trace", "source?path=reqs/REQ-001.md"):
        response = service.api(
            "GET",
            f"/api/v1/scans/{scans['repository']['scanId']}/{path}",
            headers={"X-API-Key": "x"},
        )
        assert response.status_code == 401, path


def test_openapi_describes_the_views(service: DashboardService) -> None:
    paths = service.api("GET", "/api/openapi.json").json()["paths"]
    for path in ("findings", "trace", "source"):
        operation = paths[f"/api/v1/scans/{{scanId}}/{path}"]["get"]
        assert {"200", "401", "404"} <= set(operation["responses"])


def test_the_host_serves_the_dashboard_at_the_root_and_the_api_beside_it(
    service: DashboardService,
) -> None:
    import requests

    page = requests.get(service.url + "/", timeout=10)
    assert page.status_code == 200 and '<script type="module" src="app/main.js">' in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert requests.get(service.url + "/api/health", timeout=10).json()["status"] == "ok"
    missing = requests.get(service.url + "/api/no-such-function", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert requests.get(service.url + "/../Makefile", timeout=10).status_code == 404


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://github.com/contoso/gxp-docs.git",
            "https://github.com/contoso/gxp-docs/blob/abc1234/{path}#L{line}",
        ),
        (
            "https://x-access-token@gitlab.com/contoso/docs",
            "https://gitlab.com/contoso/docs/blob/abc1234/{path}#L{line}",
        ),
        (
            "https://dev.azure.com/contoso/Quality/_git/gxp-docs",
            "https://dev.azure.com/contoso/Quality/_git/gxp-docs?path=/{path}&version=GCabc1234"
            "&line={line}&lineEnd={line}&lineStartColumn=1&lineEndColumn=1",
        ),
        ("https://git.internal.example/contoso/docs.git", None),
        ("/srv/git/gxp-docs", None),
        ("ssh://git@github.com/contoso/gxp-docs.git", None),
    ],
)
def test_source_links_for_known_hosts(url: str, expected: str | None) -> None:
    assert source_url_template(url, "abc1234") == expected
    assert source_url_template(url, "not-a-commit") is None


def test_the_trace_document_matches_its_published_schema(
    service: DashboardService, scans: dict[str, dict[str, Any]]
) -> None:
    from orchestrations.api.scan_views import TraceView

    scan = scans["repository"]
    body = service.api("GET", f"/api/v1/scans/{scan['scanId']}/trace").json()
    assert TraceView.model_validate(body).model_dump(mode="json", by_alias=True) == body
