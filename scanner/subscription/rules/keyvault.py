"""Key Vaults (CIS section 8). Declared as data over the vault's properties."""

from __future__ import annotations

from scanner.subscription.rules.base import property_rule

VAULT = "microsoft.keyvault/vaults"

RULES = [
    property_rule(
        id="KV-001",
        title="Key Vault is not recoverable (purge protection off)",
        severity="medium",
        family="keyvault",
        resource_type=VAULT,
        passes_if=[{"path": "properties.enablePurgeProtection", "equals": True}],
        message="purge protection is not enabled",
        description="Without purge protection a deleted vault or key can be purged at once, "
        "destroying the data it protects beyond recovery.",
        remediation="Enable purge protection (soft delete is on by default and cannot be "
        "turned off).",
        cis=["8.5"],
    ),
    property_rule(
        id="KV-002",
        title="Key Vault uses access policies instead of Azure RBAC",
        severity="low",
        family="keyvault",
        resource_type=VAULT,
        passes_if=[{"path": "properties.enableRbacAuthorization", "equals": True}],
        message="the vault's data plane is authorized by access policies",
        description="Azure RBAC gives per-secret/key scopes, PIM and one audit trail; vault "
        "access policies are coarse and bypass them.",
        remediation="Switch the vault's permission model to Azure role-based access control "
        "after granting equivalent roles.",
        cis=["8.6"],
    ),
    property_rule(
        id="KV-003",
        title="Key Vault is reachable from all networks",
        severity="medium",
        family="keyvault",
        resource_type=VAULT,
        passes_if=[
            {"path": "properties.publicNetworkAccess", "equals": "Disabled"},
            {"path": "properties.networkAcls.defaultAction", "equals": "Deny"},
        ],
        message="public network access is enabled without a firewall",
        description="Secrets are one leaked credential away from anyone on the Internet when "
        "the vault accepts connections from every network.",
        remediation="Use private endpoints and disable public network access, or set the "
        "firewall's default action to Deny.",
        cis=["8.7"],
    ),
]
