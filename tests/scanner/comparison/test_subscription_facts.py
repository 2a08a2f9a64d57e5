"""Subscription facts compared: the planted tenant's inventory (Resource Graph rows and Graph
objects as the collectors record them) evaluated by the real rules, before and after a week of
changes (tests/support/azure_fakes/changes.py)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from scanner.comparison.document import compare_scans
from scanner.comparison.snapshot import ScanSnapshot
from scanner.engine import ItemResult
from scanner.subscription import inventory as inv
from scanner.subscription.collect.graph import registration_record, user_record
from scanner.subscription.engine import SubscriptionEngine
from scanner.subscription.rules import all_rules
from tests.support.azure_fakes import Tenant, planted_tenant
from tests.support.azure_fakes.changes import changed_tenant
from tests.support.memory_store import MemoryStore


def sections_of(tenant: Tenant) -> dict[str, Any]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in tenant.resources:
        grouped[inv.resources(row["type"])].append(row)
    return {
        **grouped,
        inv.USERS: {
            "items": [user_record(u) for u in tenant.users],
            "signInActivityAvailable": True,
            "signInActivityError": None,
        },
        inv.REGISTRATION_DETAILS: [registration_record(d) for d in tenant.registration_details],
        inv.ROLE_ASSIGNMENTS: [
            {k: a.get(k) for k in ("id", "principalId", "roleDefinitionId", "directoryScopeId")}
            for a in tenant.role_assignments
        ],
    }


def subscription_scan(scan_id: str, tenant: Tenant) -> ScanSnapshot:
    """A stored subscription scan: sections by reference, one item per rule that can run."""
    sections = sections_of(tenant)
    store = MemoryStore(scan_id)
    index = {
        "sections": {name: store.put_json(name, value) for name, value in sections.items()},
        "unavailable": {},
    }
    inventory = inv.Inventory(load=sections.get, subscription_id=tenant.subscription_id)
    items = []
    for rule in all_rules().values():
        if not set(rule.needs) <= set(sections):
            continue
        findings = [
            SubscriptionEngine._finding(rule, hit, tenant.subscription_id)
            for hit in rule.check(inventory)
        ]
        items.append(
            ItemResult(
                item_id=rule.id,
                status="failed" if findings else "passed",
                findings=findings,
                data={"frameworks": rule.mapping()},
            )
        )
    results = {"inventory": store.put_json("inventory/index.json", index)}
    return ScanSnapshot(scan_id, "subscription", tenant.subscription_id, results, items, store)


def test_a_week_of_changes_in_a_subscription() -> None:
    tenant, changes = changed_tenant()
    before = subscription_scan("scan-1", planted_tenant())
    after = subscription_scan("scan-2", tenant)
    document = compare_scans(after, before)
    facts = document["facts"]

    resources = facts["resources"]
    assert [(r["id"], r["type"]) for r in resources["added"]] == [
        (changes.added, "microsoft.storage/storageaccounts")
    ]
    assert [r["id"] for r in resources["removed"]] == [changes.removed]
    assert resources["counts"]["after"] == resources["counts"]["before"]
    assert resources["typesNotCompared"] == []

    findings = document["findings"]
    assert [(f["ruleId"], f["location"]["resourceId"]) for f in findings["new"]] == [
        ("ST-001", changes.added)
    ]
    assert sorted((f["ruleId"], f["location"]["resourceId"]) for f in findings["resolved"]) == [
        ("ST-001", changes.fixed),
        ("ST-006", changes.removed),
    ]
    # The Global Administrator count did not change: the same finding, not a new one.
    unchanged_rules = {f["ruleId"] for f in findings["unchanged"]}
    assert "ID-005" in unchanged_rules

    by_rule = {row["ruleId"]: row for row in facts["findingsByRule"]}
    assert set(by_rule) == {"ST-001", "ST-006"}
    rules = all_rules()
    assert (by_rule["ST-001"]["new"], by_rule["ST-001"]["resolved"]) == (1, 1)
    assert (by_rule["ST-006"]["new"], by_rule["ST-006"]["resolved"]) == (0, 1)
    assert by_rule["ST-006"]["cis"] == list(rules["ST-006"].cis)
    controls = {row["control"]: row for row in facts["findingsByCisControl"]}
    expected_controls = set(rules["ST-001"].cis) | set(rules["ST-006"].cis)
    assert set(controls) == expected_controls
    for control in rules["ST-006"].cis:
        assert controls[control]["resolved"] >= 1 and "ST-006" in controls[control]["rules"]

    roles = facts["privilegedRoles"]
    assert [(r["principalId"], r["role"], r["userPrincipalName"]) for r in roles["added"]] == [
        ("u-carol", "Global Administrator", "carol@contoso.example")
    ]
    assert [(r["principalId"], r["role"]) for r in roles["removed"]] == [
        ("u-alice", "Global Administrator")
    ]
    assert facts["notCompared"] == {}


def test_resource_types_collected_by_one_scan_only_are_not_compared() -> None:
    tenant = planted_tenant()
    before = subscription_scan("scan-1", tenant)
    narrowed = Tenant(
        **{
            **tenant.__dict__,
            "resources": [
                r for r in tenant.resources if r["type"] == "microsoft.storage/storageaccounts"
            ],
        }
    )
    after = subscription_scan("scan-2", narrowed)
    resources = compare_scans(after, before)["facts"]["resources"]
    assert resources["typesCompared"] == ["microsoft.storage/storageaccounts"]
    assert "microsoft.compute/virtualmachines" in resources["typesNotCompared"]
    assert resources["added"] == resources["removed"] == []
