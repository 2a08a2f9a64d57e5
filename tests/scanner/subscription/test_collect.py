"""Collection with the real SDK clients against the TLS fakes, in this process: paging,
token refresh, throttling, failures that mark one section unavailable vs failures that end
the scan, and CVE enrichment failing softly."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.engine import ScanError, ScanTarget
from scanner.subscription import inventory as inv
from scanner.subscription.collect.credentials import build_credential
from scanner.subscription.collect.errors import CredentialError, ServiceFailureError
from scanner.subscription.collect.inventory import collect
from scanner.subscription.config import ScanConfig
from scanner.subscription.engine import SubscriptionEngine
from tests.support.azure_fakes import FakeAzure, Tenant, planted_tenant


class MemoryStore:
    """An ArtifactStore in memory (values go through JSON, as they would to a blob)."""

    def __init__(self) -> None:
        self.blobs: dict[str, str] = {}

    def put_json(self, name: str, value: Any) -> str:
        self.blobs[name] = json.dumps(value)
        return name

    def get_json(self, ref: str) -> Any:
        return json.loads(self.blobs[ref])


def make_fake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tenant: Tenant, **kw: Any
) -> FakeAzure:
    fake = FakeAzure(tenant, tmp_path / "fake", **kw)
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    return fake


def config_for(fake: FakeAzure, **overrides: Any) -> ScanConfig:
    env = fake.env()
    return ScanConfig(
        authority_host=env["AZURE_AUTHORITY_HOST"],
        arm_endpoint=env["ARM_ENDPOINT"],
        graph_endpoint=env["GRAPH_ENDPOINT"],
        osv_endpoint=env["OSV_ENDPOINT"],
        retries=overrides.pop("retries", 2),
        retry_backoff_s=overrides.pop("retry_backoff_s", 0.05),
        **overrides,
    )


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAzure]:
    fake = make_fake(tmp_path, monkeypatch, planted_tenant())
    yield fake
    fake.stop()


def run_rules(engine: SubscriptionEngine, rules: list[str], sub: str) -> dict[str, Any]:
    target = ScanTarget(target_type="subscription", target_id=sub, config={"rules": rules})
    store = MemoryStore()
    plan = engine.plan(target, store, lambda phase, step: None)
    return {item.item_id: engine.run(target, item, plan.context, store) for item in plan.items}


def test_paging_is_followed_for_resource_graph_and_graph(fake: FakeAzure) -> None:
    tenant = fake.tenant
    storage = inv.resources("microsoft.storage/storageaccounts")
    nsgs = inv.resources("microsoft.network/networksecuritygroups")
    got = collect(
        config_for(fake),
        build_credential(config_for(fake)),
        tenant.subscription_id,
        {storage, nsgs, inv.USERS, inv.REGISTRATION_DETAILS, inv.ROLE_ASSIGNMENTS},
    )
    assert len(got.sections[storage]) == 10 and len(got.sections[nsgs]) == 7
    assert len(got.sections[inv.USERS]["items"]) == len(tenant.users) == 9
    assert len(got.sections[inv.ROLE_ASSIGNMENTS]) == len(tenant.role_assignments)
    pages = math.ceil(17 / tenant.resource_graph_page_size)
    assert fake.counts()["resourceGraph"] == pages  # one paged query for both types
    graph = [path for _, path in fake.requests("graph")]
    assert graph.count("/v1.0/users") == math.ceil(9 / tenant.graph_page_size)
    assert got.requests["Microsoft Graph"] == len(graph)


def test_expired_tokens_are_replaced_and_never_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tokens live 5 s and the fakes reject expired ones with 401. A Retry-After of 6 s in
    # the middle of the collection outlives the first token: the retry must carry a new one.
    fake = make_fake(tmp_path, monkeypatch, planted_tenant(), token_lifetime_s=5)
    try:
        fake.fail(
            "resourceGraph", "/providers/Microsoft.ResourceGraph", 429, times=1, retry_after="6"
        )
        config = config_for(fake)
        section = inv.resources("microsoft.keyvault/vaults")
        got = collect(config, build_credential(config), fake.tenant.subscription_id, {section})
        assert len(got.sections[section]) == 5
        arm_tokens = fake.tokens.used[fake.arm.url]
        assert len(arm_tokens) >= 2  # the same audience, a fresh token after the wait
        posts = [p for p in fake.requests("token") if p[0] == "POST"]
        assert len(posts) >= 2
    finally:
        fake.stop()


def test_forbidden_graph_data_marks_sections_unavailable_not_the_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = planted_tenant()
    tenant.sign_in_activity_licensed = False  # Graph answers 403 to $select=signInActivity
    fake = make_fake(tmp_path, monkeypatch, tenant)
    try:
        fake.fail("graph", "/identity/conditionalAccess/policies", 403)
        engine = SubscriptionEngine(config_for(fake))
        results = run_rules(engine, ["ID-003", "ID-004", "ID-006"], tenant.subscription_id)
        assert results["ID-003"].status == "failed"  # users were read without sign-in data
        assert {f.location["resourceId"] for f in results["ID-003"].findings} == tenant.expected[
            "ID-003"
        ]
        assert results["ID-004"].status == "error"
        assert "sign-in activity is not available" in str(results["ID-004"].error)
        assert "HTTP 403" in str(results["ID-004"].error)
        assert results["ID-006"].status == "error"
        assert "conditionalAccess" in str(results["ID-006"].error)
    finally:
        fake.stop()


def test_persistent_server_errors_end_collection_with_the_service_named(fake: FakeAzure) -> None:
    fake.fail("arm", "/providers", 502)
    config = config_for(fake, retries=1)
    with pytest.raises(ServiceFailureError) as raised:
        collect(config, build_credential(config), fake.tenant.subscription_id, set())
    message = str(raised.value)
    assert "Azure Resource Manager answered HTTP 502" in message
    assert f"GET /subscriptions/{fake.tenant.subscription_id}/providers" in message
    assert isinstance(raised.value, ScanError)
    assert fake.counts()["arm"] == 2  # the first try and one retry


def test_a_wrong_secret_fails_with_the_authority_named(
    fake: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "not-the-secret")
    config = config_for(fake)
    with pytest.raises(CredentialError) as raised:
        collect(config, build_credential(config), fake.tenant.subscription_id, set())
    assert "Microsoft Entra ID: no token for Azure Resource Manager" in str(raised.value)
    assert "AADSTS7000215" in str(raised.value)
    assert "not-the-secret" not in str(raised.value)


def test_osv_failure_annotates_findings_and_never_fails_the_scan(fake: FakeAzure) -> None:
    fake.fail("osv", "/v1/querybatch", 503)
    engine = SubscriptionEngine(config_for(fake))
    results = run_rules(engine, ["AKS-001", "AKS-002", "APP-008"], fake.tenant.subscription_id)
    assert results["AKS-002"].status == "error"
    assert "CVE enrichment unavailable: OSV answered HTTP 503" in str(results["AKS-002"].error)
    outdated = results["AKS-001"].findings
    assert [f.location["name"] for f in outdated] == ["aks-old"]
    assert outdated[0].location["enrichment"].startswith("unavailable: OSV answered HTTP 503")
    assert results["APP-008"].status == "failed"
    assert fake.counts()["osv"] == 3  # one query and its two retries, no more


def test_subscription_summary_counts_findings(fake: FakeAzure) -> None:
    engine = SubscriptionEngine(config_for(fake))
    sub = fake.tenant.subscription_id
    target = ScanTarget(
        target_type="subscription", target_id=sub, config={"rules": ["KV-001", "KV-002", "SQL-001"]}
    )
    store = MemoryStore()
    plan = engine.plan(target, store, lambda phase, step: None)
    assert plan.counters["resourcesCollected"] == 8  # 5 vaults + 3 SQL servers
    assert len(json.dumps(plan.context)) < 2000  # the inventory travels by reference
    results = [engine.run(target, item, plan.context, store) for item in plan.items]
    summary = engine.summarize(target, plan.context, results, store)
    assert summary.counters["findings"] == 4  # KV-001 twice (purge protection, soft delete)
    assert summary.counters["findingsMedium"] == 3 and summary.counters["findingsLow"] == 1
    assert summary.results["rulesFailed"] == ["KV-001", "KV-002", "SQL-001"]
    assert summary.results["cisRecommendationsFailed"] == ["3.3.5", "3.3.6", "5.1.4"]


def test_without_any_credential_the_scan_fails_at_once_without_network(
    fake: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZURE_CLIENT_SECRET")
    config = config_for(fake)
    assert not config.managed_identity  # not on Azure: no IMDS probe
    with pytest.raises(CredentialError) as raised:
        collect(config, build_credential(config), fake.tenant.subscription_id, set())
    assert "Microsoft Entra ID: no token for Azure Resource Manager" in str(raised.value)
    assert fake.counts() == {label: 0 for label in fake.counts()}
