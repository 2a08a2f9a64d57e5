"""Azure SQL logical servers (CIS section 4.1). Declared as data over the server's properties."""

from __future__ import annotations

from scanner.subscription.inventory import children
from scanner.subscription.rules.base import property_rule

SERVER = "microsoft.sql/servers"
FIREWALL_RULES = children(SERVER, "firewallRules")

RULES = [
    property_rule(
        id="SQL-001",
        title="SQL server has no Microsoft Entra administrator",
        severity="medium",
        family="sql",
        resource_type=SERVER,
        passes_if=[{"path": "properties.administrators.login", "present": True}],
        message="no Microsoft Entra admin is configured",
        description="Entra authentication centralises identities, enables MFA and removes "
        "the need for SQL logins with passwords.",
        remediation="Set a Microsoft Entra group as the server's Entra admin.",
        cis=["4.1.4"],
    ),
    property_rule(
        id="SQL-002",
        title="SQL server is reachable from public networks",
        severity="high",
        family="sql",
        resource_type=SERVER,
        passes_if=[{"path": "properties.publicNetworkAccess", "equals": "Disabled"}],
        message="public network access is enabled",
        description="A server open to public networks depends on firewall rules alone; rules "
        "such as 0.0.0.0-255.255.255.255 are common and expose it to the Internet.",
        remediation="Disable public network access and connect through private endpoints.",
        cis=["4.1.2"],
    ),
    property_rule(
        id="SQL-003",
        title="SQL server accepts TLS versions below 1.2",
        severity="medium",
        family="sql",
        resource_type=SERVER,
        passes_if=[{"path": "properties.minimalTlsVersion", "at_least": "1.2"}],
        message="minimal TLS version is below 1.2",
        description="TLS 1.0 and 1.1 have known weaknesses and are deprecated.",
        remediation="Set the server's minimal TLS version to 1.2.",
        frameworks={"Microsoft cloud security benchmark": ("DP-3",)},
    ),
    property_rule(
        id="SQL-004",
        title="SQL server allows SQL authentication",
        severity="low",
        family="sql",
        resource_type=SERVER,
        passes_if=[{"path": "properties.administrators.azureADOnlyAuthentication", "equals": True}],
        message="Microsoft Entra-only authentication is off",
        description="SQL logins are passwords without MFA or central revocation.",
        remediation="Enable Microsoft Entra-only authentication on the server.",
        frameworks={"Microsoft cloud security benchmark": ("IM-1",)},
    ),
    property_rule(
        id="SQL-005",
        title="SQL server firewall admits any IP address",
        severity="high",
        family="sql",
        section=FIREWALL_RULES,
        subject_path="parentId",
        # A rule passes unless it spans the whole IPv4 space (0.0.0.0-255.255.255.255).
        passes_if=[
            {"path": "properties.startIpAddress", "not_in": ["0.0.0.0"]},  # noqa: S104 (an address, not a bind),
            {"path": "properties.endIpAddress", "not_in": ["255.255.255.255"]},
        ],
        message="a firewall rule admits every IPv4 address",
        description="A firewall rule from 0.0.0.0 to 255.255.255.255 opens the server to the "
        "whole Internet; only its logins stand between an attacker and the data.",
        remediation="Delete the rule and admit only the client ranges that need access "
        "(or disable public network access and use private endpoints).",
        cis=["4.1.2"],
    ),
]
