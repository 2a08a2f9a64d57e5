"""A subscription scan through the CIS Azure Foundations v3.0.0 view: GET
/api/v1/scans/{id}/report?framework=cis-azure on the standalone host, the scans run by the real
SDK clients against the TLS fakes serving the planted tenant."""

from __future__ import annotations

import copy
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestrations.api.compliance_models import ComplianceReport
from scanner.subscription.frameworks import cis_azure
from scanner.subscription.rules import all_rules
from tests.support.azure_fakes import FakeAzure, planted_tenant
from tests.support.scan_api import Api, scan_api_env, start_api
from tests.support.sshd import make_key

SUB = planted_tenant().subscription_id
COSMOS = "microsoft.documentdb/databaseaccounts"


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeAzure]:
    with FakeAzure(planted_tenant(), tmp_path_factory.mktemp("fake-azure")) as fake:
        yield fake


@pytest.fixture(scope="module")
def api(azurite: str, fake: FakeAzure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    key = make_key(tmp_path_factory.mktemp("ssh-client") / "id_ed25519")
    env = scan_api_env(
        azurite,
        **fake.env(),
        SSH_PRIVATE_KEY_PATH=str(key),
        SUBSCRIPTION_HTTP_RETRIES="2",
        SUBSCRIPTION_HTTP_RETRY_BACKOFF_S="0.05",
    )
    host = start_api(tmp_path_factory.mktemp("compliance-api"), env)
    yield Api(host)
    host.stop()


@pytest.fixture(scope="module")
def full_scan(api: Api) -> str:
    started = api.scan(targetType="subscription", subscriptionId=SUB)
    assert started.status_code == 202, started.text
    final = api.wait(started.json()["scanId"], timeout=180)
    assert final["status"] == "completed", final.get("errorMessage")
    return str(final["scanId"])


def cis_report(api: Api, scan_id: str, **params: str) -> dict[str, Any]:
    response = api.get(
        f"/api/v1/scans/{scan_id}/report", params={"framework": "cis-azure", **params}
    )
    assert response.status_code == 200, response.text
    ComplianceReport.model_validate(response.json())  # the documented shape, no field more or less
    return dict(response.json())


def test_every_control_has_a_status_that_its_rules_explain(api: Api, full_scan: str) -> None:
    report = cis_report(api, full_scan, format="json")
    assert report["framework"]["version"] == "3.0.0"
    assert report["framework"]["name"] == "CIS Microsoft Azure Foundations Benchmark"
    assert report["scan"]["scanId"] == full_scan
    controls = {c["id"]: c for c in report["controls"]}
    assert len(controls) == len(cis_azure().controls) == report["totals"]["controls"]
    totals = report["totals"]
    assert (
        totals["pass"]
        + totals["fail"]
        + totals["error"]
        + totals["notApplicable"]
        + totals["notChecked"]
        == totals["controls"]
    )
    assert totals["error"] == 0 and totals["fail"] > 0 and totals["pass"] > 0

    # A control fails exactly when one of its rules found something planted, and lists it.
    expected = planted_tenant().expected
    rules = all_rules()
    for control in report["controls"]:
        rule_ids = {r["ruleId"] for r in control["rules"]}
        assert rule_ids == {rid for rid, rule in rules.items() if control["id"] in rule.cis}
        planted = set().union(*(expected.get(rid, set()) for rid in rule_ids))
        assert (control["status"] == "fail") == bool(planted), control["id"]
        for rule in control["rules"]:
            planted_here = expected.get(rule["ruleId"], set())
            assert {r["resourceId"] for r in rule["resources"]} == planted_here
            assert rule["findings"] == len(planted_here)
        if control["status"] == "pass":
            assert any(r["evaluated"] > 0 for r in control["rules"])
        if control["status"] == "not-applicable":
            assert all(r["evaluated"] == 0 for r in control["rules"]) and control["reason"]

    # The privileged users without MFA, by their Graph paths.
    mfa = controls["2.1.2"]
    assert mfa["status"] == "fail" and mfa["rules"][0]["ruleId"] == "ID-002"
    assert {r["resourceId"] for r in mfa["rules"][0]["resources"]} == expected["ID-002"]
    # No rule: manual and automated recommendations alike are not checked, and say why.
    assert controls["2.5"]["status"] == "not-checked" and "manual" in controls["2.5"]["reason"]
    assert controls["5.2.8"]["status"] == "not-checked"
    assert controls["5.2.8"]["reason"] == "no rule checks it yet"
    assert (controls["3.1.3.1"]["section"], controls["3.1.3.1"]["level"]) == ("3.1.3", 2)
    assert controls["4.1"]["assessment"] == "automated"


def test_a_rule_that_could_not_run_makes_its_controls_errors(api: Api, fake: FakeAzure) -> None:
    fake.fail("graph", "/identity/conditionalAccess/policies", 403)
    try:
        started = api.scan(
            targetType="subscription", subscriptionId=SUB, rules=["ID-006", "ID-007", "ST-001"]
        )
        assert started.status_code == 202, started.text
        final = api.wait(started.json()["scanId"], timeout=180)
    finally:
        fake.clear_faults()
    assert final["status"] == "completed", final.get("errorMessage")
    controls = {c["id"]: c for c in cis_report(api, final["scanId"])["controls"]}
    for control_id in ("2.2.4", "2.2.5", "2.1.1"):
        control = controls[control_id]
        assert control["status"] == "error", control
        assert "HTTP 403" in control["reason"] and control["reason"].startswith("ID-00")
    assert controls["4.1"]["status"] in ("pass", "fail")
    # Rules this scan did not select leave their controls not checked.
    assert controls["5.1.1"]["status"] == "not-checked"
    assert "SQL-007" in controls["5.1.1"]["reason"]


def test_nothing_to_evaluate_is_not_applicable(api: Api, fake: FakeAzure) -> None:
    # The same tenant without its Cosmos DB accounts: the Cosmos DB rules run and judge nothing.
    tenant = copy.deepcopy(planted_tenant())
    tenant.resources = [r for r in tenant.resources if r["type"].lower() != COSMOS]
    fake.use(tenant)
    try:
        started = api.scan(
            targetType="subscription", subscriptionId=SUB, rules=["DB-013", "DB-014", "DB-015"]
        )
        assert started.status_code == 202, started.text
        final = api.wait(started.json()["scanId"], timeout=180)
    finally:
        fake.use(planted_tenant())
    assert final["status"] == "completed", final.get("errorMessage")
    report = cis_report(api, final["scanId"])
    controls = {c["id"]: c for c in report["controls"]}
    for control_id in ("5.4.1", "5.4.2", "5.4.3"):
        control = controls[control_id]
        assert control["status"] == "not-applicable", control
        assert [(r["status"], r["evaluated"], r["findings"]) for r in control["rules"]] == [
            ("passed", 0, 0)
        ]
        assert "nothing to evaluate" in control["reason"]
    assert report["totals"]["notApplicable"] == 3 and report["totals"]["checked"] == 3


def test_bad_framework_requests_get_clear_errors(api: Api, full_scan: str) -> None:
    unknown = api.get(f"/api/v1/scans/{full_scan}/report", params={"framework": "pci-dss"})
    assert unknown.status_code == 400
    error = unknown.json()["error"]
    assert error["code"] == "unknown_framework" and unknown.json()["known"] == ["cis-azure"]
    assert "pci-dss" in error["message"] and "cis-azure" in error["message"]
    csv = api.get(
        f"/api/v1/scans/{full_scan}/report", params={"framework": "cis-azure", "format": "csv"}
    )
    assert csv.status_code == 400 and "format=json" in csv.json()["error"]["message"]
    missing = api.get("/api/v1/scans/01J00000000000000000000000/report?framework=cis-azure")
    assert missing.status_code == 404

    # A host scan (of a port nobody listens on) has no CIS Azure controls.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = api.scan(targetType="host", hostname="127.0.0.1", port=port, username="nobody")
    assert started.status_code == 202, started.text
    host_scan = api.wait(started.json()["scanId"], timeout=60)
    answer = api.get(
        f"/api/v1/scans/{host_scan['scanId']}/report", params={"framework": "cis-azure"}
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "framework_not_applicable"
    assert "host scan" in answer.json()["error"]["message"]


def test_accepted_findings_do_not_fail_their_control(api: Api, full_scan: str) -> None:
    before = {c["id"]: c for c in cis_report(api, full_scan)["controls"]}["2.23"]
    assert before["status"] == "fail" and before["findings"] == 1
    fingerprint = before["rules"][0]["resources"][0]["fingerprint"]
    expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    created = api.post(
        "/api/v1/exceptions",
        {
            "fingerprint": fingerprint,
            "reason": "the role is reviewed quarterly",
            "owner": "security",
            "expiresAt": expires,
        },
    )
    assert created.status_code == 201, created.text
    try:
        after = {c["id"]: c for c in cis_report(api, full_scan)["controls"]}["2.23"]
    finally:
        assert api.request("DELETE", f"/api/v1/exceptions/{created.json()['id']}").ok
    assert after["status"] == "pass" and after["findings"] == 0
    assert after["rules"][0]["excepted"] == 1 and after["rules"][0]["resources"] == []
