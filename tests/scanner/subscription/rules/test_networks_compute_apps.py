"""Networking, compute, App Service, AKS and container registry rules over the shapes Azure
returns, beyond what the rule cases plant: port ranges, reserved subnets, provisioning states,
publishing policies per endpoint, node pool lists. Payloads start from the published examples
(tests/support/azure_fakes/examples/, see SOURCE.md there) with single fields edited."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scanner.subscription import inventory as inv
from scanner.subscription.inventory import Inventory
from scanner.subscription.rules import all_rules

EXAMPLES = Path(__file__).resolve().parents[4] / "tests/support/azure_fakes/examples"
SUB = "00000000-0000-4000-8000-000000000001"
NSG = "microsoft.network/networksecuritygroups"
VNET = "microsoft.network/virtualnetworks"
VM = "microsoft.compute/virtualmachines"
BASTION = "microsoft.network/bastionhosts"
CLUSTER = "microsoft.containerservice/managedclusters"
POLICIES = inv.children("microsoft.web/sites", "basicPublishingCredentialsPolicies")


def example(provider: str, name: str, body: str = "responses.200.body") -> Any:
    value: Any = json.loads((EXAMPLES / provider / name).read_text(encoding="utf-8"))
    for part in body.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return copy.deepcopy(value)


def subjects(rule_id: str, sections: dict[str, Any]) -> list[str]:
    inventory = Inventory(
        load=lambda name: sections.get(name),
        subscription_id=SUB,
        now=datetime(2026, 6, 1, tzinfo=UTC),
    )
    return [hit.subject for hit in all_rules()[rule_id].check(inventory)]


def nsg_opening(**rule: Any) -> dict[str, Any]:
    nsg = example("network", "NetworkSecurityGroupGet.json")
    nsg["properties"]["securityRules"][0]["properties"].update(rule)
    return nsg


@pytest.mark.parametrize(
    ("rule", "flagged"),
    [
        ({"destinationPortRange": "1400-1500"}, True),  # spans SQL Server's 1433
        ({"destinationPortRange": "137", "protocol": "Udp"}, True),  # NetBIOS name service
        ({"destinationPortRange": "", "destinationPortRanges": ["443", "5986"]}, True),
        ({"destinationPortRange": "445", "sourceAddressPrefix": "10.0.0.0/8"}, False),
        ({"destinationPortRange": "3306", "access": "Deny"}, False),
        ({"destinationPortRange": "*"}, False),  # every port: NET-003 reports it
        ({"destinationPortRange": "443"}, False),
    ],
)
def test_service_ports_open_to_the_internet(rule: dict[str, Any], flagged: bool) -> None:
    nsg = nsg_opening(**rule)
    assert bool(subjects("NET-011", {inv.resources(NSG): [nsg]})) is flagged
    if rule.get("destinationPortRange") == "*":
        assert subjects("NET-003", {inv.resources(NSG): [nsg]}) == [nsg["id"]]


def test_reserved_subnets_need_no_nsg_whatever_their_spelling() -> None:
    vnet = example("network", "VirtualNetworkGet.json")
    subnet = vnet["properties"]["subnets"][0]
    reserved = [
        {**copy.deepcopy(subnet), "name": name}
        for name in ("gatewaysubnet", "AzureFirewallSubnet", "RouteServerSubnet")
    ]
    vnet["properties"]["subnets"] = [*reserved, {**copy.deepcopy(subnet), "name": "apps"}]
    assert subjects("NET-009", {inv.resources(VNET): [vnet]}) == [f"{vnet['id']}/subnets/apps"]
    vnet["properties"]["subnets"] = None  # a VNet without subnets
    assert subjects("NET-009", {inv.resources(VNET): [vnet]}) == []


def test_a_bastion_host_counts_once_it_is_provisioned() -> None:
    vm = example("compute", "VirtualMachine_Create_WithUefiSettings.json")
    bastion = example("network", "BastionHostGet.json")
    sections = {inv.resources(VM): [vm], inv.resources(BASTION): [bastion]}
    assert subjects("VM-010", sections) == []
    bastion["properties"]["provisioningState"] = "Updating"
    assert subjects("VM-010", sections) == [f"/subscriptions/{SUB}"]
    # No VMs: nothing to reach, no finding.
    assert subjects("VM-010", {inv.resources(VM): [], inv.resources(BASTION): []}) == []


def test_basic_publishing_credentials_are_judged_per_site_and_endpoint() -> None:
    site_a, site_b = (f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Web/sites/{n}"
                      for n in ("a", "b"))  # fmt: skip
    rows = []
    for site, allow in ((site_a, {"ftp": False, "scm": True}), (site_b, {"ftp": False})):
        for policy in example("web", "ListPublishingCredentialsPolicies.json")["value"]:
            if policy["name"] in allow:
                policy["properties"]["allow"] = allow[policy["name"]]
            else:
                policy["properties"].pop("allow")  # absent: allowed
            rows.append({**policy, "parentId": site, "parentName": site.rsplit("/", 1)[-1]})
    hits = list(all_rules()["APP-011"].check(
        Inventory(load=lambda name: {POLICIES: rows}.get(name), subscription_id=SUB)
    ))  # fmt: skip
    assert [(h.subject, h.details["endpoints"]) for h in hits] == [
        (site_a, ["scm"]),
        (site_b, ["scm"]),
    ]


def test_node_pool_rules_read_each_pool() -> None:
    cluster = example("containerservice", "ManagedClustersGet.json")
    pool = cluster["properties"]["agentPoolProfiles"][0]
    cluster["properties"]["agentPoolProfiles"] = [
        {**pool, "name": "system", "enableEncryptionAtHost": True},
        {**pool, "name": "public", "enableNodePublicIP": True, "enableEncryptionAtHost": True},
        {**pool, "name": "plain"},
    ]
    section = {inv.resources(CLUSTER): [cluster]}
    hits = {h.name: h.details for h in all_rules()["AKS-011"].check(
        Inventory(load=lambda name: section.get(name), subscription_id=SUB)
    )}  # fmt: skip
    assert hits == {"clustername1": {"nodePools": ["public"]}}
    assert subjects("AKS-013", section) == [cluster["id"]]
    cluster["properties"]["agentPoolProfiles"] = None
    assert subjects("AKS-011", section) == subjects("AKS-013", section) == []
