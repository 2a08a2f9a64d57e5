"""Azure Kubernetes Service clusters: version support and known CVEs, RBAC, API server
exposure, network policy, local accounts. CIS Azure Foundations has no AKS section; these map
to the CIS Azure Kubernetes Service (AKS) Benchmark."""

from __future__ import annotations

from collections.abc import Iterable

from scanner.subscription.inventory import VULNERABILITIES, Inventory, resources
from scanner.subscription.rules.base import (
    Hit,
    Rule,
    describe_vulnerabilities,
    known_vulnerabilities,
    property_rule,
    software_details,
)
from scanner.subscription.software import kubernetes_software, kubernetes_version, version_tuple

CLUSTER = "microsoft.containerservice/managedclusters"
CIS_AKS = "CIS Azure Kubernetes Service (AKS) Benchmark v1.5.0"

# Oldest Kubernetes minor version AKS supports (at rule authoring, 2026; AKS supports the
# three newest minors, update as versions leave support).
MINIMUM_SUPPORTED_MINOR = (1, 33)


def _unsupported_versions(inventory: Inventory) -> Iterable[Hit]:
    for cluster in inventory.resources(CLUSTER):
        version = kubernetes_version(cluster)
        have = version_tuple(version or "")
        if len(have) >= 2 and have[:2] < MINIMUM_SUPPORTED_MINOR:
            ref = kubernetes_software(cluster)
            yield Hit(
                subject=str(cluster.get("id", "")),
                name=str(cluster.get("name", "")),
                message=f"runs Kubernetes {version}; AKS supports "
                f"{'.'.join(map(str, MINIMUM_SUPPORTED_MINOR))} and newer",
                details=software_details(inventory, ref) if ref else {},
            )


def _vulnerable_versions(inventory: Inventory) -> Iterable[Hit]:
    for cluster in inventory.resources(CLUSTER):
        ref = kubernetes_software(cluster)
        if ref is None:
            continue
        vulns = known_vulnerabilities(inventory, ref)
        if vulns:
            yield Hit(
                subject=str(cluster.get("id", "")),
                name=str(cluster.get("name", "")),
                message=f"Kubernetes {ref.version} has {len(vulns)} known vulnerabilities: "
                f"{describe_vulnerabilities(vulns)}",
                details={"software": ref.as_dict(), "vulnerabilities": vulns},
            )


RULES = [
    Rule(
        id="AKS-001",
        title="AKS cluster runs an unsupported Kubernetes version",
        severity="high",
        family="aks",
        description="Kubernetes versions out of AKS support get no security patches or "
        "platform support.",
        remediation="Upgrade the control plane and node pools to a supported version "
        "(az aks upgrade).",
        cis=(),
        needs=(resources(CLUSTER), VULNERABILITIES),
        check=_unsupported_versions,
        frameworks={CIS_AKS: ("5.5",)},
    ),
    Rule(
        id="AKS-002",
        title="AKS Kubernetes version has known vulnerabilities",
        severity="high",
        family="aks",
        description="The cluster's Kubernetes version has published vulnerabilities (OSV).",
        remediation="Upgrade to a patch release that fixes them (az aks upgrade).",
        cis=(),
        needs=(resources(CLUSTER), VULNERABILITIES),
        check=_vulnerable_versions,
        frameworks={CIS_AKS: ("5.5",)},
    ),
    property_rule(
        id="AKS-003",
        title="AKS cluster has Kubernetes RBAC disabled",
        severity="high",
        family="aks",
        resource_type=CLUSTER,
        passes_if=[{"path": "properties.enableRBAC", "equals": True}],
        message="Kubernetes RBAC is disabled",
        description="Without RBAC every authenticated user is effectively cluster admin.",
        remediation="RBAC cannot be turned on in place: recreate the cluster with RBAC and "
        "Microsoft Entra integration.",
        frameworks={CIS_AKS: ("4.1.1",)},
    ),
    property_rule(
        id="AKS-004",
        title="AKS API server is reachable from any address",
        severity="medium",
        family="aks",
        resource_type=CLUSTER,
        passes_if=[
            {"path": "properties.apiServerAccessProfile.enablePrivateCluster", "equals": True},
            {"path": "properties.apiServerAccessProfile.authorizedIPRanges", "nonempty": True},
        ],
        message="the API server is public with no authorized IP ranges",
        description="A public API server without IP restrictions is exposed to credential "
        "stuffing and to vulnerabilities in the API server itself.",
        remediation="Make the cluster private or set authorized IP ranges for the API server.",
        frameworks={CIS_AKS: ("5.4.1",)},
    ),
    property_rule(
        id="AKS-005",
        title="AKS cluster has no network policy",
        severity="medium",
        family="aks",
        resource_type=CLUSTER,
        passes_if=[{"path": "properties.networkProfile.networkPolicy", "nonempty": True}],
        message="no network policy engine is configured",
        description="Without network policies every pod can reach every other pod.",
        remediation="Enable a network policy engine (Azure, Calico or Cilium) and define "
        "policies per namespace.",
        frameworks={CIS_AKS: ("5.4.4",)},
    ),
    property_rule(
        id="AKS-006",
        title="AKS cluster allows local accounts",
        severity="medium",
        family="aks",
        resource_type=CLUSTER,
        passes_if=[{"path": "properties.disableLocalAccounts", "equals": True}],
        message="local (certificate) accounts are enabled",
        description="Local accounts bypass Microsoft Entra: no MFA, no conditional access, "
        "hard to revoke.",
        remediation="Enable Microsoft Entra integration and disable local accounts "
        "(az aks update --disable-local-accounts).",
        frameworks={CIS_AKS: ("5.5.1",)},
    ),
]
