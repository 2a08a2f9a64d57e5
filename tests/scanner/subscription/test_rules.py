"""The rules as pure functions over inventory data: the catalogue's shape, the parsers they
rely on, and edge cases the planted tenant does not cover."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scanner.subscription import inventory as inv
from scanner.subscription.inventory import DataUnavailableError, Inventory, parse_time
from scanner.subscription.rules import all_rules
from scanner.subscription.rules.base import CIS_BENCHMARK, FAMILIES, RegisteredCheck, check
from scanner.subscription.rules.catalogue import CatalogueError, load
from scanner.subscription.rules.conditions import holds
from scanner.subscription.rules.identity import GLOBAL_ADMINISTRATOR, requires_mfa
from scanner.subscription.rules.networking import exposes_all_ports, exposes_port, port_ranges
from scanner.subscription.software import (
    kubernetes_software,
    runtime_stacks,
    software_in,
    version_tuple,
    vm_image_software,
)

SUB = "00000000-0000-4000-8000-000000000001"


def inventory(sections: dict[str, Any], unavailable: dict[str, str] | None = None) -> Inventory:
    return Inventory(
        load=lambda name: sections.get(name),
        subscription_id=SUB,
        now=datetime(2026, 6, 1, tzinfo=UTC),
        unavailable=unavailable or {},
    )


def hits(rule_id: str, sections: dict[str, Any]) -> list[str]:
    return [h.subject for h in all_rules()[rule_id].check(inventory(sections))]


def test_the_catalogue_covers_every_family_and_describes_each_rule() -> None:
    rules = all_rules()
    assert len(rules) >= 30
    required = {
        "storage",
        "networking",
        "compute",
        "keyvault",
        "sql",
        "appservice",
        "aks",
        "monitoring",
        "identity",
    }
    assert required <= {r.family for r in rules.values()}
    for rule in rules.values():
        assert re.fullmatch(r"[A-Z]+-\d{3}", rule.id)
        assert rule.family in FAMILIES
        assert rule.severity in ("critical", "high", "medium", "low", "info")
        assert len(rule.title) > 10 and len(rule.description) > 20 and len(rule.remediation) > 10
        assert rule.mapping(), f"{rule.id} maps to no framework"
        assert all(re.fullmatch(r"\d+(\.\d+)*", c) for c in rule.cis)
        assert rule.needs
    cis_mapped = [r for r in rules.values() if r.cis]
    assert len(cis_mapped) >= 40  # most rules are CIS Azure Foundations recommendations


def test_nsg_port_parsing_tolerates_odd_rules() -> None:
    rule = {
        "properties": {
            "direction": "Inbound",
            "access": "Allow",
            "protocol": "Tcp",
            "sourceAddressPrefix": "Internet",
            "destinationPortRanges": ["20-30", "3389", "bogus", "9-x"],
        }
    }
    assert port_ranges(rule) == [(20, 30), (3389, 3389)]
    assert exposes_port(rule, 22) and exposes_port(rule, 3389) and not exposes_port(rule, 80)
    assert not exposes_port(rule, 22, "udp")
    assert not exposes_all_ports(rule)
    flat = {
        "direction": "Inbound",
        "access": "Allow",
        "protocol": "*",
        "sourceAddressPrefixes": ["10.0.0.0/8", "0.0.0.0/0"],
        "destinationPortRange": "*",
    }
    assert exposes_all_ports(flat) and exposes_port(flat, 53, "udp")
    denied = {**flat, "access": "Deny"}
    assert not exposes_port(denied, 22)
    assert port_ranges({"properties": None}) == []


@pytest.mark.parametrize(
    ("condition", "resource", "expected"),
    [
        ({"path": "properties.a", "equals": True}, {"properties": {"a": True}}, True),
        ({"path": "properties.a", "equals": "Deny"}, {"properties": {"A": "deny"}}, True),
        ({"path": "properties.a", "equals": True}, {"properties": {}}, False),
        ({"path": "properties.a", "equals": True, "missing": "pass"}, {}, True),
        ({"path": "properties.t", "at_least": "TLS1_2"}, {"properties": {"t": "TLS1_3"}}, True),
        ({"path": "properties.t", "at_least": "1.2"}, {"properties": {"t": "Tls11"}}, False),
        ({"path": "properties.t", "at_least": "1.2"}, {"properties": {"t": "None"}}, False),
        (
            {"path": "properties.b", "contains": "AzureServices"},
            {"properties": {"b": "Logging, AzureServices"}},
            True,
        ),
        ({"path": "properties.r", "nonempty": True}, {"properties": {"r": []}}, False),
        ({"path": "properties.r", "present": True}, {"properties": {"r": 0}}, True),
        (
            {"path": "identity.type", "not_in": ["None"]},
            {"identity": {"type": "SystemAssigned"}},
            True,
        ),
        ({"path": "properties.days", "min": 90}, {"properties": {"days": 90}}, True),
        ({"path": "properties.days", "min": 90}, {"properties": {"days": "30"}}, False),
        ({"path": "properties.days", "max": 3}, {"properties": {"days": True}}, False),
        ({"path": "properties.days", "max": 3, "missing": "pass"}, {}, True),
        (
            {"any": [{"path": "a", "equals": 1}, {"not": {"path": "b", "present": True}}]},
            {"a": 2},
            True,
        ),
        ({"all": [{"path": "a", "equals": 1}, {"path": "b", "equals": 2}]}, {"a": 1}, False),
    ],
)
def test_data_conditions(
    condition: dict[str, Any], resource: dict[str, Any], expected: bool
) -> None:
    assert holds(resource, condition) is expected


_ENTRY = """
  - id: ST-901
    family: storage
    title: A storage rule for the loader tests
    severity: low
    rationale: what the loader must accept or refuse
    remediation: nothing to remediate
    cis: ['4.1']
    reads: {api: Microsoft.Storage/storageAccounts@2023-05-01, fields: [properties.x]}
"""
_DATA = (
    _ENTRY
    + """    resource_type: microsoft.storage/storageaccounts
    require: {path: properties.x, equals: true}
    message: x is off
"""
)


def _registered(rule_id: str) -> dict[str, RegisteredCheck]:
    return {rule_id: RegisteredCheck(lambda inventory: iter(()), ("customRoles",), "tests")}


def test_a_data_rule_is_evaluated_from_the_catalogue_alone() -> None:
    rule = load("rules:" + _DATA, {})["ST-901"]
    assert rule.kind == "data" and rule.needs == ("resources:microsoft.storage/storageaccounts",)
    assert rule.mapping() == {CIS_BENCHMARK: ["4.1"]}
    rows = [
        {"id": "/a", "name": "a", "properties": {"x": False}},
        {"id": "/b", "properties": {"X": True}},
    ]
    found = list(rule.check(inventory({rule.needs[0]: rows})))
    assert [(h.subject, h.message) for h in found] == [("/a", "x is off (x is False)")]


@pytest.mark.parametrize(
    ("text", "checks", "error"),
    [
        (_DATA + "    colour: blue\n", {}, "colour"),
        (_DATA.replace("equals: true", "equal: true"), {}, "unknown key"),
        (_DATA.replace("equals: true", "equals: true, in: [1]"), {}, "exactly one operator"),
        (_DATA.replace("{path: properties.x, equals: true}", "{any: []}"), {}, "non-empty list"),
        (_DATA.replace("equals: true}", "equals: true, missing: maybe}"), {}, "pass or fail"),
        (_DATA.replace("equals: true", "at_least: latest"), {}, "at_least"),
        (_DATA + _DATA, {}, "twice"),
        (_ENTRY, {}, "neither"),
        (_DATA, _registered("ST-901"), "both"),
        (_ENTRY, {**_registered("ST-901"), **_registered("ST-902")}, "ST-902"),
        (_ENTRY.replace("family: storage", "family: gardening"), {}, "unknown family"),
        (_ENTRY.replace("['4.1']", "['v3 4.1']"), {}, "dotted numbers"),
        (_ENTRY.replace("['4.1']", "['4.99']"), {}, "4.99 is not a recommendation"),
        (_ENTRY.replace("['4.1']", "['4.1', '1.1']"), {}, "1.1 is not a recommendation"),
        (_ENTRY.replace("severity: low", "severity: urgent"), {}, "severity"),
        (_ENTRY.replace("    reads:", "    needs:"), {}, "reads"),
        (_ENTRY + "    message: no require\n", _registered("ST-901"), "only belong"),
    ],
)
def test_the_loader_refuses_a_bad_catalogue(
    text: str, checks: dict[str, RegisteredCheck], error: str
) -> None:
    with pytest.raises(CatalogueError, match=error):
        load("rules:" + text, checks)


def test_the_shipped_catalogue_maps_to_cis_v3() -> None:
    rules = all_rules()
    assert CIS_BENCHMARK == "CIS Microsoft Azure Foundations Benchmark v3.0.0"
    assert rules["ST-001"].cis == ("4.1",) and rules["KV-001"].cis == ("3.3.5",)
    assert rules["DEF-001"].cis == ("3.1.3.1",) and rules["ID-009"].cis == ("2.23",)
    assert all(
        r.reads and all("@" in x.api or "Graph" in x.api or "OSV" in x.api for x in r.reads)
        for r in rules.values()
    )
    assert {r.kind for r in rules.values()} == {"data", "code"}


def test_software_named_by_resources() -> None:
    assert version_tuple("~18") == (18,) and version_tuple("v1.27.3") == (1, 27, 3)
    assert version_tuple("latest") == ()
    cluster = {"properties": {"kubernetesVersion": "1.30.1"}}
    ref = kubernetes_software(cluster)
    assert ref is not None and ref.key == "Go|k8s.io/kubernetes|1.30.1"
    assert kubernetes_software({"properties": {}}) is None
    stacks = runtime_stacks({"properties": {"linuxFxVersion": "DOTNETCORE|8.0"}})
    assert [(s.name, s.version) for s in stacks] == [("dotnet", "8.0")]
    windows = runtime_stacks({"properties": {"linuxFxVersion": "", "nodeVersion": "~20"}})
    assert [(s.name, s.version) for s in windows] == [("node", "20")]
    assert runtime_stacks({"properties": {"linuxFxVersion": "DOCKER|nginx:latest"}}) == []
    bitnami = {
        "properties": {
            "storageProfile": {
                "imageReference": {
                    "publisher": "bitnami",
                    "offer": "WordPress",
                    "sku": "6",
                    "version": "latest",
                    "exactVersion": "6.4.2",
                }
            }
        }
    }
    found = vm_image_software(bitnami)
    assert found is not None and found.as_dict() == {
        "ecosystem": "Bitnami",
        "name": "wordpress",
        "version": "6.4.2",
    }
    assert len(software_in([cluster, cluster], [], [bitnami])) == 2  # distinct only


def test_stale_accounts_need_sign_in_activity() -> None:
    users = {"items": [], "signInActivityAvailable": False, "signInActivityError": "HTTP 403"}
    with pytest.raises(DataUnavailableError, match="HTTP 403"):
        hits("ID-004", {inv.USERS: users})
    with pytest.raises(DataUnavailableError, match="could not be collected"):
        list(all_rules()["ID-003"].check(inventory({}, {inv.USERS: "HTTP 403 forbidden"})))


def test_stale_account_boundaries() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)

    def user(uid: str, last: int | None, created: int, enabled: bool = True) -> dict[str, Any]:
        return {
            "id": uid,
            "userPrincipalName": f"{uid}@x",
            "accountEnabled": enabled,
            "createdDateTime": (now - timedelta(days=created)).isoformat(),
            "lastSuccessfulSignInDateTime": (now - timedelta(days=last)).isoformat()
            if last
            else None,
        }

    users = {
        "signInActivityAvailable": True,
        "items": [
            user("recent", 89, 500),
            user("old", 91, 500),
            user("fresh", None, 10),
            user("never", None, 120),
            user("off", 400, 500, enabled=False),
            # Failed attempts (a spray) move the attempt times, not the successful one.
            {**user("sprayed", 300, 500), "lastSignInDateTime": now.isoformat()},
            {**user("sprayed2", 300, 500), "lastNonInteractiveSignInDateTime": now.isoformat()},
            # No creation date: created before mid-2018.
            {**user("ancient", None, 0), "createdDateTime": None},
        ],
    }
    assert hits("ID-004", {inv.USERS: users}) == [
        "/users/ancient",
        "/users/never",
        "/users/old",
        "/users/sprayed",
        "/users/sprayed2",
    ]


def test_global_administrator_count_and_mfa_policies() -> None:
    def assignments(n: int) -> list[dict[str, str]]:
        return [
            {"principalId": f"p{i}", "roleDefinitionId": GLOBAL_ADMINISTRATOR} for i in range(n)
        ]

    assert hits("ID-005", {inv.ROLE_ASSIGNMENTS: assignments(1)})
    assert not hits("ID-005", {inv.ROLE_ASSIGNMENTS: assignments(3)})
    assert hits("ID-005", {inv.ROLE_ASSIGNMENTS: assignments(5)})
    policy = {
        "state": "enabled",
        "builtInControls": ["mfa"],
        "includeApplications": ["All"],
        "includeUsers": ["All"],
    }
    assert requires_mfa(policy)
    assert not requires_mfa({**policy, "state": "enabledForReportingButNotEnforced"})
    assert not requires_mfa({**policy, "includeApplications": ["some-app-id"]})
    sections = {inv.SECURITY_DEFAULTS: {"isEnabled": False}, inv.CONDITIONAL_ACCESS: [policy]}
    assert not hits("ID-006", sections) and not hits("ID-007", sections)
    assert hits("ID-007", {inv.SECURITY_DEFAULTS: {"isEnabled": False}, inv.CONDITIONAL_ACCESS: []})
    assert not hits(
        "ID-007", {inv.SECURITY_DEFAULTS: {"isEnabled": True}, inv.CONDITIONAL_ACCESS: []}
    )


def test_parse_time_handles_graph_and_arm_formats() -> None:
    assert parse_time("2024-05-01T10:00:00Z") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_time("2024-05-01T10:00:00.1234567+00:00") is not None
    assert parse_time("yesterday") is None and parse_time(None) is None


def test_rules_count_what_they_evaluate() -> None:
    gated = _DATA.replace(
        "    require:", "    when: {path: properties.kind, equals: StorageV2}\n    require:"
    )
    rule = load("rules:" + gated, {})["ST-901"]
    rows = [
        {"id": "/a", "properties": {"kind": "StorageV2", "x": True}},
        {"id": "/b", "properties": {"kind": "BlobStorage", "x": False}},
    ]
    assert rule.evaluated(inventory({rule.needs[0]: rows})) == 1  # only what `when` admits
    assert rule.evaluated(inventory({})) == 0
    # A Defender plan is judged for the subscription as a whole, even when no plan is listed.
    assert all_rules()["DEF-001"].evaluated(inventory({inv.DEFENDER_PLANS: []})) == 1
    # Network Watcher is judged per region in use; Graph users count their items.
    watcher = all_rules()["NET-007"]
    assert watcher.evaluated(inventory({inv.LOCATIONS: ["westeurope", "eastus"]})) == 2
    users = {"items": [{"id": "u1"}, {"id": "u2"}, {"id": "u3"}]}
    assert all_rules()["ID-003"].evaluated(inventory({inv.USERS: users})) == 3
    with pytest.raises(ValueError, match="not one of its needs"):
        check("ST-999", needs=["customRoles"], evaluates="users")
