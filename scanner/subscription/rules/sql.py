"""Azure SQL logical servers and databases (CIS section 5.1): the server's own properties and
single child settings (auditing, TDE, threat detection) are data rules in catalogue.yaml; the
checks that join a server to its firewall rules or weigh two vulnerability-assessment settings
register here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scanner.subscription.inventory import Inventory, children, dig, resources
from scanner.subscription.rules.base import Hit, check

SERVER = "microsoft.sql/servers"
FIREWALL_RULES = children(SERVER, "firewallRules")
CLASSIC_VA = children(SERVER, "vulnerabilityAssessments/default")
EXPRESS_VA = children(SERVER, "sqlVulnerabilityAssessments/default")
ADMINISTRATORS = children(SERVER, "administrators")
ENTRA_ONLY = children(SERVER, "azureADOnlyAuthentications/Default")

# publicNetworkAccess values under which the server's firewall rules are not applied: Disabled
# (private endpoints only) and SecuredByPerimeter (a network security perimeter decides).
_FIREWALL_OFF = frozenset({"disabled", "securedbyperimeter"})
# Firewall rule bounds, compared as text (addresses in a rule, never bound to).
ANY_START = "0.0.0.0"  # noqa: S104
ALL_END = "255.255.255.255"
AZURE_END = "0.0.0.0"  # noqa: S104  # 0.0.0.0-0.0.0.0: "Allow Azure services"


def _open_servers(inventory: Inventory) -> set[str]:
    """Servers (ids, lower case) whose firewall rules admit public traffic."""
    return {
        str(server.get("id", "")).casefold()
        for server in inventory.resources(SERVER)
        if str(dig(server, "properties.publicNetworkAccess") or "Enabled").casefold()
        not in _FIREWALL_OFF
    }


def _firewall_check(start: str, end: str, what: str) -> Any:
    def evaluate(inventory: Inventory) -> Iterable[Hit]:
        open_servers = _open_servers(inventory)
        offending: dict[str, list[str]] = {}
        names: dict[str, str] = {}
        for rule in inventory.section(FIREWALL_RULES) or []:
            server = str(rule.get("parentId", ""))
            if server.casefold() not in open_servers:
                continue
            if (
                dig(rule, "properties.startIpAddress") == start
                and dig(rule, "properties.endIpAddress") == end
            ):
                offending.setdefault(server, []).append(str(rule.get("name", "?")))
                names[server] = str(rule.get("parentName", ""))
        for server, rules in sorted(offending.items()):
            yield Hit(
                subject=server,
                name=names[server],
                message=f"firewall rule(s) {', '.join(sorted(rules))} ({start}-{end}) {what}",
                details={"firewallRules": sorted(rules)},
            )

    return evaluate


check("SQL-005", needs=[resources(SERVER), FIREWALL_RULES])(
    _firewall_check(ANY_START, ALL_END, "admits every IPv4 address")
)
check("SQL-006", needs=[resources(SERVER), FIREWALL_RULES])(
    _firewall_check(ANY_START, AZURE_END, "admits connections from any Azure service")
)


def _by_parent(rows: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {str(row.get("parentId", "")).casefold(): row for row in rows}


@check("SQL-011", needs=[resources(SERVER), CLASSIC_VA, EXPRESS_VA])
def vulnerability_assessment(inventory: Inventory) -> Iterable[Hit]:
    express = _by_parent(inventory.section(EXPRESS_VA) or [])
    classic = _by_parent(inventory.section(CLASSIC_VA) or [])
    for server in inventory.resources(SERVER):
        key = str(server.get("id", "")).casefold()
        # The express configuration (sqlVulnerabilityAssessments, state Enabled) needs no
        # storage account and scans on its own schedule.
        if str(dig(express.get(key, {}), "properties.state") or "").casefold() == "enabled":
            continue
        # The classic configuration only scans when it has a storage container and recurring
        # scans are on; an empty classic setting is what a server without it returns.
        setting = classic.get(key, {})
        if dig(setting, "properties.storageContainerPath") and (
            dig(setting, "properties.recurringScans.isEnabled") is True
        ):
            continue
        yield Hit.of(
            server,
            "no vulnerability assessment runs on the server (express configuration "
            "off; classic configuration without storage or recurring scans)",
        )


def _entra_admin(server: Mapping[str, Any], listed: Iterable[Mapping[str, Any]]) -> str | None:
    """The server's Microsoft Entra administrator login: from its administrators list (the
    authority), else from the server's own `administrators` (only filled when the server was
    read with that expansion)."""
    for admin in listed:
        if dig(admin, "properties.login"):
            return str(dig(admin, "properties.login"))
    login = dig(server, "properties.administrators.login")
    return str(login) if login else None


@check("SQL-001", needs=[resources(SERVER), ADMINISTRATORS])
def entra_administrator(inventory: Inventory) -> Iterable[Hit]:
    listed: dict[str, list[Mapping[str, Any]]] = {}
    for admin in inventory.section(ADMINISTRATORS) or []:
        listed.setdefault(str(admin.get("parentId", "")).casefold(), []).append(admin)
    for server in inventory.resources(SERVER):
        if _entra_admin(server, listed.get(str(server.get("id", "")).casefold(), [])) is None:
            yield Hit.of(
                server,
                "no Microsoft Entra admin is configured",
            )


@check("SQL-004", needs=[resources(SERVER), ENTRA_ONLY])
def entra_only_authentication(inventory: Inventory) -> Iterable[Hit]:
    setting = _by_parent(inventory.section(ENTRA_ONLY) or [])
    for server in inventory.resources(SERVER):
        row = setting.get(str(server.get("id", "")).casefold())
        # The azureADOnlyAuthentications/Default setting decides; without it, the server's
        # own administrators.azureADOnlyAuthentication.
        if row is not None:
            only = dig(row, "properties.azureADOnlyAuthentication")
        else:
            only = dig(server, "properties.administrators.azureADOnlyAuthentication")
        if only is not True:
            yield Hit.of(
                server,
                "Microsoft Entra-only authentication is off: SQL logins are accepted",
            )
