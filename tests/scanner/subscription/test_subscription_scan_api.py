"""Subscription scans end to end: the HTTP API on the standalone host, the real SDK clients
(azure-identity, azure-mgmt-resource, azure-mgmt-resourcegraph, msgraph-sdk, azure-core for
OSV) in the host's worker process, against TLS fakes of Entra ID, ARM/Resource Graph,
Microsoft Graph and OSV serving a tenant with planted misconfigurations."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scanner.subscription.rules import all_rules
from tests.support.azure_fakes import FakeAzure, planted_tenant
from tests.support.scan_api import Api, scan_api_env, start_api

SUB = planted_tenant().subscription_id


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeAzure]:
    with FakeAzure(planted_tenant(), tmp_path_factory.mktemp("fake-azure")) as fake:
        yield fake


@pytest.fixture(scope="module")
def api(azurite: str, fake: FakeAzure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    env = scan_api_env(
        azurite,
        **fake.env(),
        SCAN_SUBSCRIPTION_IDS=SUB,
        SUBSCRIPTION_HTTP_RETRIES="2",
        SUBSCRIPTION_HTTP_RETRY_BACKOFF_S="0.05",
    )
    host = start_api(tmp_path_factory.mktemp("subscription-api"), env)
    yield Api(host)
    host.stop()


@pytest.fixture(autouse=True)
def _no_faults(fake: FakeAzure) -> Iterator[None]:
    fake.clear_faults()
    yield
    fake.clear_faults()


def findings_by_rule(api: Api, scan_id: str) -> dict[str, list[dict[str, Any]]]:
    report = api.get(f"/api/v1/scans/{scan_id}/report", params={"format": "json"})
    assert report.status_code == 200, report.text
    return {item["itemId"]: item["findings"] for item in report.json()["items"]}


def subjects(findings: dict[str, list[dict[str, Any]]]) -> dict[str, set[str]]:
    return {
        rule: {f["location"]["resourceId"] for f in items}
        for rule, items in findings.items()
        if items
    }


def test_trigger_finds_every_planted_issue_and_flags_nothing_clean(
    api: Api, fake: FakeAzure
) -> None:
    fake.reset_counts()
    began = time.monotonic()
    response = api.post("/api/scans/trigger", {})  # the configured subscription
    answered = time.monotonic() - began
    assert response.status_code == 202, response.text
    assert answered < 5.0  # the scan did not run inside the request
    body = response.json()
    assert body["targetType"] == "subscription" and body["targetId"] == SUB
    assert [s["targetId"] for s in body["scans"]] == [SUB]

    seen: list[dict[str, Any]] = []
    final = api.wait(body["scanId"], seen=seen, timeout=120)
    assert final["status"] == "completed", final.get("errorMessage")
    total = len(all_rules())
    assert total >= 30
    assert final["totalRules"] == final["rulesCompleted"] == total
    phases = {s["currentPhase"] for s in seen}
    assert "Collect" in phases
    assert phases <= {
        "Queued",
        "Plan",
        "Collect",
        "Enrich",
        "Store",
        "Evaluate",
        "Summarize",
        "Done",
    }
    assert final["progress"] == 100
    assert {i["status"] for i in final["items"]} <= {"passed", "failed"}  # no rule errored

    found = subjects(findings_by_rule(api, body["scanId"]))
    expected = {rule: subs for rule, subs in planted_tenant().expected.items() if subs}
    assert found == expected  # every planted issue, nothing else

    results = final["results"]
    assert results["enrichment"]["status"] == "ok"
    assert results["sectionsUnavailable"] == {}
    assert final["counters"]["usersCollected"] == 9
    assert final["counters"]["findings"] == sum(len(v) for v in expected.values())
    assert "2.1.2" in results["cisRecommendationsFailed"]

    # Paging was followed: page sizes of the planted tenant are 7 rows / 3 objects.
    counts = fake.counts()
    graph_paths = [path for _, path in fake.requests("graph")]
    assert graph_paths.count("/v1.0/users") == 3  # 9 users, 3 per page
    assert graph_paths.count("/v1.0/reports/authenticationMethods/userRegistrationDetails") == 3
    assert counts["resourceGraph"] >= 13 + 4  # 85 resources / 7 per page, + the other tables
    # 85 rows; the 7 read only as parents of child reads (SQL databases, PostgreSQL and MySQL
    # servers) are not kept as sections.
    assert final["counters"]["resourcesCollected"] == 78


def test_findings_carry_cves_from_osv(api: Api) -> None:
    scan = api.post(
        "/api/v1/scans",
        {"targetType": "subscription", "subscriptionId": SUB, "rules": ["AKS-001", "AKS-002"]},
    )
    assert scan.status_code == 202, scan.text
    final = api.wait(scan.json()["scanId"], timeout=60)
    assert final["status"] == "completed", final.get("errorMessage")
    assert final["totalRules"] == 2
    findings = findings_by_rule(api, final["scanId"])
    old = next(f for f in findings["AKS-002"] if f["location"]["name"] == "aks-old")
    assert "CVE-2023-2727" in old["message"]
    assert "https://osv.dev/vulnerability/GHSA-fake-k8s-0001" in old["references"]
    outdated = findings["AKS-001"][0]
    assert outdated["location"]["software"] == {
        "ecosystem": "Go",
        "name": "k8s.io/kubernetes",
        "version": "1.27.3",
    }
    assert {v["id"] for v in outdated["location"]["vulnerabilities"]} == {
        "GHSA-fake-k8s-0001",
        "GHSA-fake-k8s-0002",
    }


def test_rules_restrict_what_is_collected(api: Api, fake: FakeAzure) -> None:
    fake.reset_counts()
    scan = api.post(
        "/api/v1/scans",
        {"targetType": "subscription", "subscriptionId": SUB, "rules": ["ST-001", "NET-002"]},
    )
    final = api.wait(scan.json()["scanId"], timeout=60)
    assert final["status"] == "completed", final.get("errorMessage")
    assert [i["itemId"] for i in final["items"]] == ["NET-002", "ST-001"]
    found = subjects(findings_by_rule(api, final["scanId"]))
    assert found == {r: planted_tenant().expected[r] for r in ("NET-002", "ST-001")}
    assert fake.counts()["graph"] == 0  # no identity rule: no Microsoft Graph call
    assert fake.counts()["osv"] == 0


def test_throttling_with_retry_after_is_retried_and_the_scan_completes(
    api: Api, fake: FakeAzure
) -> None:
    fake.reset_counts()
    fake.fail("resourceGraph", "/providers/Microsoft.ResourceGraph", 429, times=2, retry_after="1")
    fake.fail("graph", "/v1.0/users", 429, times=1, retry_after="1")
    began = time.monotonic()
    scan = api.post(
        "/api/v1/scans",
        {"targetType": "subscription", "subscriptionId": SUB, "rules": ["ST-004", "ID-003"]},
    )
    final = api.wait(scan.json()["scanId"], timeout=60)
    assert final["status"] == "completed", final.get("errorMessage")
    assert time.monotonic() - began >= 2.0  # two Retry-After: 1 waits on the ARG chain
    found = subjects(findings_by_rule(api, final["scanId"]))
    assert found == {r: planted_tenant().expected[r] for r in ("ST-004", "ID-003")}
    graph_paths = [path for _, path in fake.requests("graph")]
    assert graph_paths.count("/v1.0/users") == 3 + 1  # 3 pages + the throttled attempt


def test_a_persistent_5xx_fails_the_scan_with_service_and_status(api: Api, fake: FakeAzure) -> None:
    fake.fail("graph", "/reports/authenticationMethods", 503)
    scan = api.post(
        "/api/v1/scans",
        {"targetType": "subscription", "subscriptionId": SUB, "rules": ["ID-001"]},
    )
    final = api.wait(scan.json()["scanId"], timeout=60)
    assert final["status"] == "failed"
    message = final["errorMessage"]
    assert "Microsoft Graph answered HTTP 503" in message
    assert "userRegistrationDetails" in message
    # The target is free again: the next scan (fault gone) completes.
    fake.clear_faults()
    again = api.post(
        "/api/v1/scans",
        {"targetType": "subscription", "subscriptionId": SUB, "rules": ["ID-001"]},
    )
    assert again.status_code == 202, again.text
    assert api.wait(again.json()["scanId"], timeout=60)["status"] == "completed"


def test_resource_graph_5xx_and_unknown_subscription_fail_clearly(
    api: Api, fake: FakeAzure
) -> None:
    fake.fail("resourceGraph", "/providers/Microsoft.ResourceGraph", 500)
    scan = api.post(
        "/api/v1/scans",
        {"targetType": "subscription", "subscriptionId": SUB, "rules": ["KV-001"]},
    )
    final = api.wait(scan.json()["scanId"], timeout=60)
    assert final["status"] == "failed"
    assert "Azure Resource Graph answered HTTP 500" in final["errorMessage"]
    assert "after 3 attempts" in final["errorMessage"]

    other = "0badc0de-0000-4000-8000-000000000000"
    missing = api.post("/api/scans/trigger", {"subscriptionId": other, "rules": ["KV-001"]})
    assert missing.status_code == 202
    failed = api.wait(missing.json()["scanId"], timeout=60)
    assert failed["status"] == "failed"
    assert "Azure Resource Manager answered HTTP 404" in failed["errorMessage"]
    assert "SubscriptionNotFound" in failed["errorMessage"]


def test_bad_requests_get_clear_errors(api: Api) -> None:
    bad = api.post("/api/v1/scans", {"targetType": "subscription", "subscriptionId": "nope"})
    assert bad.status_code == 422
    unknown = api.post(
        "/api/v1/scans",
        {"targetType": "subscription", "subscriptionId": SUB, "rules": ["XX-999"]},
    )
    assert unknown.status_code == 202
    final = api.wait(unknown.json()["scanId"], timeout=60)
    assert final["status"] == "failed"
    assert "unknown rule id(s): XX-999" in final["errorMessage"]


def test_an_exception_accepts_a_subscription_finding_and_its_expiry_restores_it(api: Api) -> None:
    scan = api.post(
        "/api/v1/scans",
        {"targetType": "subscription", "subscriptionId": SUB, "rules": ["ST-001", "NET-002"]},
    )
    final = api.wait(scan.json()["scanId"], timeout=60)
    assert final["status"] == "completed", final.get("errorMessage")
    scan_id = final["scanId"]
    before = api.get(f"/api/v1/scans/{scan_id}/report", params={"format": "json"}).json()
    counts_before = before["summary"]["findingsBySeverity"]
    st001 = [f for i in before["items"] if i["itemId"] == "ST-001" for f in i["findings"]]
    assert st001 and before["summary"]["accepted"] == 0

    # The storage account served over plain HTTP, by rule and a glob over its resource id.
    expires = datetime.now(UTC) + timedelta(seconds=8)
    made = api.post(
        "/api/v1/exceptions",
        {
            "ruleId": "ST-001",
            "resourcePattern": "/subscriptions/*/providers/Microsoft.Storage/*",
            "targetId": SUB,
            "reason": "legacy client; HTTPS migration ticket open",
            "owner": "storage-team",
            "expiresAt": expires.isoformat(),
        },
    )
    assert made.status_code == 201, made.text
    report = api.get(f"/api/v1/scans/{scan_id}/report", params={"format": "json"}).json()
    accepted = [f for i in report["items"] if i["itemId"] == "ST-001" for f in i["findings"]]
    assert all(f["accepted"]["exception_id"] == made.json()["id"] for f in accepted)
    assert report["summary"]["accepted"] == len(st001)
    severity = st001[0]["severity"]
    expected = {**counts_before, severity: counts_before[severity] - len(st001)}
    assert report["summary"]["findingsBySeverity"] == {k: v for k, v in expected.items() if v}
    sarif = api.get(f"/api/v1/scans/{scan_id}/report", params={"format": "sarif"}).json()
    suppressed = [r for r in sarif["runs"][0]["results"] if r.get("suppressions")]
    assert {r["ruleId"] for r in suppressed} == {"ST-001"} and len(suppressed) == len(st001)

    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.5)
    again = api.get(f"/api/v1/scans/{scan_id}/report", params={"format": "json"}).json()
    assert again["summary"]["findingsBySeverity"] == counts_before
    assert again["summary"]["accepted"] == 0
