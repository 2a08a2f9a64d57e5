"""Azure Kubernetes Service clusters: version support and known CVEs, RBAC, API server
exposure, network policy, local accounts. CIS Azure Foundations has no AKS section; these map
to the CIS Azure Kubernetes Service (AKS) Benchmark."""

from __future__ import annotations

from collections.abc import Iterable

from scanner.subscription.inventory import VULNERABILITIES, Inventory, dig, resources
from scanner.subscription.rules.base import (
    Hit,
    check,
    describe_vulnerabilities,
    known_vulnerabilities,
    software_details,
)
from scanner.subscription.software import kubernetes_software, kubernetes_version, version_tuple

CLUSTER = "microsoft.containerservice/managedclusters"
CIS_AKS = "CIS Azure Kubernetes Service (AKS) Benchmark v1.5.0"

# Oldest Kubernetes minor version AKS supports (at rule authoring, 2026; AKS supports the
# three newest minors, update as versions leave support).
MINIMUM_SUPPORTED_MINOR = (1, 33)


@check("AKS-001", needs=[resources(CLUSTER), VULNERABILITIES])
def unsupported_versions(inventory: Inventory) -> Iterable[Hit]:
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


@check("AKS-002", needs=[resources(CLUSTER), VULNERABILITIES])
def vulnerable_versions(inventory: Inventory) -> Iterable[Hit]:
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


@check("AKS-011", needs=[resources(CLUSTER)])
def node_public_ips(inventory: Inventory) -> Iterable[Hit]:
    for cluster in inventory.resources(CLUSTER):
        pools = dig(cluster, "properties.agentPoolProfiles")
        public = [
            str(pool.get("name", "?"))
            for pool in (pools if isinstance(pools, list) else [])
            if isinstance(pool, dict) and dig(pool, "enableNodePublicIP") is True
        ]
        if public:
            yield Hit(
                subject=str(cluster.get("id", "")),
                name=str(cluster.get("name", "")),
                message=f"node pool(s) {', '.join(sorted(public))} give nodes public IP addresses",
                details={"nodePools": sorted(public)},
            )
