"""Per-resource and subscription-level ARM reads (collect/children.py) through azure-mgmt-core's
async pipeline against the TLS fakes: rows annotated with their parent, list paging by
nextLink, 404 = none, 403 = section unavailable, persistent failures fail the collection, and
only what the selected rules need is read."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.engine import ScanTarget
from scanner.subscription import inventory as inv
from scanner.subscription.collect.children import CHILD_READS, child_read
from scanner.subscription.collect.credentials import build_credential
from scanner.subscription.collect.errors import ServiceFailureError
from scanner.subscription.collect.inventory import collect, collectable
from scanner.subscription.engine import SubscriptionEngine
from tests.scanner.subscription.test_collect import MemoryStore, config_for, make_fake
from tests.support.azure_fakes import FakeAzure, Tenant, planted_tenant

FIREWALL = inv.children("microsoft.sql/servers", "firewallRules")
BLOB = inv.children("microsoft.storage/storageaccounts", "blobServices/default")
CONTACTS = inv.subscription_section("providers/Microsoft.Security/securityContacts")
SERVERS = inv.resources("microsoft.sql/servers")


def sql_ids(tenant: Tenant) -> list[str]:
    return [r["id"] for r in tenant.resources if r["type"] == "microsoft.sql/servers"]


def storage_ids(tenant: Tenant) -> list[str]:
    return [r["id"] for r in tenant.resources if r["type"] == "microsoft.storage/storageaccounts"]


def firewall_rule(name: str, start: str, end: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "Microsoft.Sql/servers/firewallRules",
        "properties": {"startIpAddress": start, "endIpAddress": end},
    }


def with_children() -> Tenant:
    tenant = planted_tenant()
    tenant.arm_page_size = 2  # five rules on one server: three pages linked by nextLink
    first, *others = sql_ids(tenant)
    tenant.attach(
        first,
        "firewallRules",
        [firewall_rule(f"r{i}", f"10.0.{i}.0", f"10.0.{i}.255") for i in range(5)],
    )
    tenant.attach(others[0], "firewallRules", [firewall_rule("any", "0.0.0.0", "255.255.255.255")])
    # The remaining servers have no firewall rules list at all: 404, read as none.
    account = storage_ids(tenant)[0]
    tenant.attach(
        account,
        "blobServices/default",
        {"properties": {"deleteRetentionPolicy": {"enabled": True, "days": 7}}},
    )
    sub = f"/subscriptions/{tenant.subscription_id}"
    tenant.attach(
        sub,
        "providers/Microsoft.Security/securityContacts",
        [{"name": "default", "properties": {"emails": "secops@contoso.example"}}],
    )
    return tenant


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAzure]:
    fake = make_fake(tmp_path, monkeypatch, with_children())
    yield fake
    fake.stop()


def test_child_rows_carry_their_parent_and_lists_are_followed_page_by_page(
    fake: FakeAzure,
) -> None:
    config = config_for(fake)
    tenant = fake.tenant
    got = collect(
        config, build_credential(config), tenant.subscription_id, {FIREWALL, BLOB, CONTACTS}
    )
    assert got.unavailable == {}
    first, second, *_ = sql_ids(tenant)
    rules = got.sections[FIREWALL]
    assert sorted(r["name"] for r in rules) == ["any", "r0", "r1", "r2", "r3", "r4"]
    assert {r["parentId"] for r in rules if r["name"].startswith("r")} == {first}
    assert [r["parentId"] for r in rules if r["name"] == "any"] == [second]
    assert rules[0]["parentName"] == first.rsplit("/", 1)[-1]
    blob = {row["parentId"]: row for row in got.sections[BLOB]}
    assert set(blob) == set(storage_ids(tenant))  # every planted account has blob services
    assert blob[storage_ids(tenant)[0]]["properties"]["deleteRetentionPolicy"]["days"] == 7
    assert got.sections[CONTACTS][0]["parentId"] == f"/subscriptions/{tenant.subscription_id}"
    # Parent resources were read for the children only: not kept as sections.
    assert SERVERS not in got.sections
    arm = fake.requests("arm")
    firewall_gets = [p for _, p in arm if p.lower().endswith("/firewallrules")]
    servers, accounts = len(sql_ids(tenant)), len(storage_ids(tenant))
    assert len(firewall_gets) == servers + 2  # one per server, two more pages of the first
    assert len([p for _, p in arm if p.endswith("/blobServices/default")]) == accounts
    assert got.requests["Azure Resource Manager"] == len(arm)


def test_forbidden_child_read_marks_its_section_unavailable(fake: FakeAzure) -> None:
    fake.fail("arm", "/blobServices/default", 403)
    config = config_for(fake)
    got = collect(config, build_credential(config), fake.tenant.subscription_id, {FIREWALL, BLOB})
    assert set(got.unavailable) == {BLOB}
    assert "HTTP 403" in got.unavailable[BLOB] and "blobServices/default" in got.unavailable[BLOB]
    assert len(got.sections[FIREWALL]) == 6


def test_a_persistent_failure_of_a_child_read_fails_the_collection(fake: FakeAzure) -> None:
    fake.fail("arm", "/firewallRules", 503)
    config = config_for(fake, retries=1, retry_backoff_s=0.01)
    with pytest.raises(ServiceFailureError) as caught:
        collect(config, build_credential(config), fake.tenant.subscription_id, {FIREWALL})
    message = str(caught.value)
    assert "Azure Resource Manager answered HTTP 503" in message
    assert "/firewallRules" in message and "after 2 attempts" in message


def test_throttled_child_reads_are_retried(fake: FakeAzure) -> None:
    fake.fail("arm", "/firewallRules", 429, times=2, retry_after="0")
    config = config_for(fake)
    got = collect(config, build_credential(config), fake.tenant.subscription_id, {FIREWALL})
    assert len(got.sections[FIREWALL]) == 6


def get(fake: FakeAzure, path: str) -> tuple[int, dict[str, Any]]:
    token, _ = fake.tokens.issue(fake.arm.url)
    request = urllib.request.Request(
        fake.arm.url + path, headers={"Authorization": f"Bearer {token}"}
    )
    context = ssl.create_default_context(cafile=str(fake.ca_path))
    try:
        with urllib.request.urlopen(request, context=context) as response:
            return response.status, __import__("json").loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, __import__("json").loads(exc.read())


def test_the_fake_checks_api_versions_and_answers_unknown_children_404(fake: FakeAzure) -> None:
    server = sql_ids(fake.tenant)[0]
    status, body = get(fake, f"{server}/firewallRules")
    assert status == 400 and body["error"]["code"] == "MissingApiVersionParameter"
    status, body = get(fake, f"{server}/firewallRules?api-version=latest")
    assert status == 400 and body["error"]["code"] == "InvalidApiVersionParameter"
    status, body = get(fake, f"{server}/connectionPolicies/default?api-version=2021-11-01")
    assert status == 404 and body["error"]["code"] == "ResourceNotFound"
    status, body = get(fake, f"{server}/firewallRules/r3?api-version=2021-11-01")
    assert status == 200 and body["properties"]["startIpAddress"] == "10.0.3.0"


def test_only_table_reads_are_collectable() -> None:
    assert all(collectable(read.section) for read in CHILD_READS)
    assert collectable(FIREWALL.upper().replace("CHILDREN:", "children:"))
    assert not collectable("children:microsoft.sql/servers/nosuchchild")
    assert child_read(BLOB) is not None and child_read(BLOB).single  # type: ignore[union-attr]


def test_a_scan_reads_children_only_for_the_rules_that_need_them(fake: FakeAzure) -> None:
    engine = SubscriptionEngine(config_for(fake))
    sub = fake.tenant.subscription_id
    target = ScanTarget(target_type="subscription", target_id=sub, config={"rules": ["ST-001"]})
    engine.plan(target, MemoryStore(), lambda phase, step: None)
    assert not [p for _, p in fake.requests("arm") if "/firewallRules" in p]
    fake.reset_counts()
    target = ScanTarget(target_type="subscription", target_id=sub, config={"rules": ["SQL-005"]})
    store = MemoryStore()
    plan = engine.plan(target, store, lambda phase, step: None)
    result = engine.run(target, plan.items[0], plan.context, store)
    assert [f.location["resourceId"] for f in result.findings] == [sql_ids(fake.tenant)[1]]
    arm = [p for _, p in fake.requests("arm")]
    assert not [p for p in arm if "blobServices" in p]
    assert len([p for p in arm if "/firewallRules" in p]) == len(sql_ids(fake.tenant)) + 2
