"""Azure Kubernetes Service clusters: version support and known CVEs, RBAC, API server
exposure, network policy, local accounts. CIS Azure Foundations has no AKS section; these map
to the CIS Azure Kubernetes Service (AKS) Benchmark."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from scanner.subscription.inventory import VULNERABILITIES, Inventory, dig, resources
from scanner.subscription.rules.base import (
    Check,
    Hit,
    check,
    software_details,
    vulnerable_software_rule,
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
            yield Hit.of(
                cluster,
                f"runs Kubernetes {version}; AKS supports "
                f"{'.'.join(map(str, MINIMUM_SUPPORTED_MINOR))} and newer",
                details=software_details(inventory, ref) if ref else {},
            )


check("AKS-002", needs=[resources(CLUSTER), VULNERABILITIES])(
    vulnerable_software_rule(CLUSTER, kubernetes_software, lambda ref: f"Kubernetes {ref.version}")
)


def _pools(cluster: dict[str, Any], offends: Callable[[dict[str, Any]], bool]) -> list[str]:
    """The names of a cluster's node pools (agentPoolProfiles) that `offends` picks."""
    pools = dig(cluster, "properties.agentPoolProfiles")
    return sorted(
        str(pool.get("name", "?"))
        for pool in (pools if isinstance(pools, list) else [])
        if isinstance(pool, dict) and offends(pool)
    )


def _pool_check(offends: Callable[[dict[str, Any]], bool], what: str) -> Check:
    def evaluate(inventory: Inventory) -> Iterable[Hit]:
        for cluster in inventory.resources(CLUSTER):
            names = _pools(cluster, offends)
            if names:
                yield Hit.of(
                    cluster,
                    f"node pool(s) {', '.join(names)} {what}",
                    details={"nodePools": names},
                )

    return evaluate


# Both settings are false when absent: only an explicit true gives nodes public addresses, and
# only an explicit true encrypts at host.
check("AKS-011", needs=[resources(CLUSTER)])(
    _pool_check(lambda pool: dig(pool, "enableNodePublicIP") is True, "give nodes public IPs")
)
check("AKS-013", needs=[resources(CLUSTER)])(
    _pool_check(
        lambda pool: dig(pool, "enableEncryptionAtHost") is not True, "do not encrypt at host"
    )
)
