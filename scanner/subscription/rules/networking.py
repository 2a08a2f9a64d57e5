"""Network security groups, flow logs and Network Watcher (CIS section 7)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scanner.subscription.inventory import LOCATIONS, Inventory, dig, resources
from scanner.subscription.rules.base import Hit, check

NSG = "microsoft.network/networksecuritygroups"
FLOW_LOG = "microsoft.network/networkwatchers/flowlogs"
WATCHER = "microsoft.network/networkwatchers"
VNET = "microsoft.network/virtualnetworks"

INTERNET_SOURCES = frozenset({"*", "0.0.0.0/0", "internet", "any", "::/0"})


def _field(rule: Mapping[str, Any], name: str) -> Any:
    """Security rules come flattened or with their own `properties` (as ARM returns them)."""
    inner = rule.get("properties")
    if isinstance(inner, dict) and name in inner:
        return inner[name]
    return rule.get(name)


def _values(rule: Mapping[str, Any], single: str, plural: str) -> list[str]:
    out = [str(v) for v in (_field(rule, plural) or []) if v is not None]
    one = _field(rule, single)
    if one not in (None, ""):
        out.append(str(one))
    return out


def from_internet(rule: Mapping[str, Any]) -> bool:
    """An inbound Allow rule whose source is any address / the Internet tag."""
    if str(_field(rule, "direction") or "").casefold() != "inbound":
        return False
    if str(_field(rule, "access") or "").casefold() != "allow":
        return False
    sources = _values(rule, "sourceAddressPrefix", "sourceAddressPrefixes")
    return any(s.strip().casefold() in INTERNET_SOURCES or s.endswith("/0") for s in sources)


def port_ranges(rule: Mapping[str, Any]) -> list[tuple[int, int]]:
    """Destination port ranges as (low, high); `*` is the whole range. Odd text is ignored."""
    ranges: list[tuple[int, int]] = []
    for text in _values(rule, "destinationPortRange", "destinationPortRanges"):
        for part in text.split(","):
            part = part.strip()
            if part in ("*", "any", "Any"):
                ranges.append((0, 65535))
            elif "-" in part:
                low, _, high = part.partition("-")
                if low.strip().isdigit() and high.strip().isdigit():
                    ranges.append((int(low), int(high)))
            elif part.isdigit():
                ranges.append((int(part), int(part)))
    return ranges


def _protocol_matches(rule: Mapping[str, Any], protocol: str) -> bool:
    have = str(_field(rule, "protocol") or "*").casefold()
    return have in ("*", "any") or have == protocol.casefold()


def exposes_port(rule: Mapping[str, Any], port: int, protocol: str = "tcp") -> bool:
    """Whether a security rule opens `port`/`protocol` to the Internet."""
    if not from_internet(rule) or not _protocol_matches(rule, protocol):
        return False
    return any(low <= port <= high for low, high in port_ranges(rule))


def exposes_all_ports(rule: Mapping[str, Any]) -> bool:
    return from_internet(rule) and any(r == (0, 65535) for r in port_ranges(rule))


def _security_rules(nsg: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    rules = dig(nsg, "properties.securityRules")
    return [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []


def _nsg_check(predicate: Any, what: str) -> Any:
    def evaluate(inventory: Inventory) -> Iterable[Hit]:
        for nsg in inventory.resources(NSG):
            offending = [str(r.get("name", "?")) for r in _security_rules(nsg) if predicate(r)]
            if offending:
                yield Hit.of(
                    nsg,
                    f"{what} from the Internet by rule(s) {', '.join(sorted(offending))}",
                    details={"securityRules": sorted(offending)},
                )

    return evaluate


@check("NET-006", needs=[resources(FLOW_LOG)])
def flow_log_retention(inventory: Inventory) -> Iterable[Hit]:
    for log in inventory.resources(FLOW_LOG):
        enabled = dig(log, "properties.enabled")
        days = dig(log, "properties.retentionPolicy.days")
        retention_on = dig(log, "properties.retentionPolicy.enabled")
        short = bool(retention_on) and isinstance(days, int) and 0 < days < 90
        if enabled is False or short:
            reason = "the flow log is disabled" if enabled is False else f"retention is {days} days"
            yield Hit.of(
                log,
                f"NSG flow log keeps less than 90 days: {reason}",
            )


@check("NET-007", needs=[resources(WATCHER), LOCATIONS], evaluates=LOCATIONS)
def network_watcher(inventory: Inventory) -> Iterable[Hit]:
    watched = {
        str(w.get("location", "")).casefold()
        for w in inventory.resources(WATCHER)
        if str(dig(w, "properties.provisioningState") or "Succeeded").casefold() == "succeeded"
    }
    for location in inventory.section(LOCATIONS) or []:
        name = str(location).casefold()
        if name and name != "global" and name not in watched:
            yield Hit(
                subject=f"/subscriptions/{inventory.subscription_id}/locations/{name}",
                name=name,
                message=f"region {name} has resources but no Network Watcher",
            )


# Subnets Azure services reserve and filter themselves: an NSG is refused or not expected there.
PLATFORM_SUBNETS = frozenset(
    {"gatewaysubnet", "azurefirewallsubnet", "azurefirewallmanagementsubnet", "routeserversubnet"}
)


@check("NET-009", needs=[resources(VNET)])
def subnets_without_nsg(inventory: Inventory) -> Iterable[Hit]:
    for vnet in inventory.resources(VNET):
        subnets = dig(vnet, "properties.subnets")
        for subnet in subnets if isinstance(subnets, list) else []:
            if not isinstance(subnet, dict):
                continue
            name = str(subnet.get("name", ""))
            if name.casefold() in PLATFORM_SUBNETS or dig(
                subnet, "properties.networkSecurityGroup.id"
            ):
                continue
            yield Hit(
                subject=f"{vnet.get('id', '')}/subnets/{name}",
                name=f"{vnet.get('name', '')}/{name}",
                message=f"subnet {name} of {vnet.get('name', '')} has no network security group",
            )


# Ports of services that should never face the Internet: databases, file sharing, remote
# management (rules opening every port are NET-003's).
EXPOSED_SERVICE_PORTS: dict[int, str] = {
    21: "FTP",
    23: "Telnet",
    135: "RPC",
    137: "NetBIOS",
    138: "NetBIOS",
    139: "NetBIOS",
    445: "SMB",
    1433: "SQL Server",
    1521: "Oracle",
    3306: "MySQL",
    5432: "PostgreSQL",
    5985: "WinRM",
    5986: "WinRM",
    6379: "Redis",
    9200: "Elasticsearch",
    27017: "MongoDB",
}


def exposes_service_port(rule: Mapping[str, Any]) -> bool:
    if exposes_all_ports(rule):
        return False
    return any(
        exposes_port(rule, port, "tcp") or exposes_port(rule, port, "udp")
        for port in EXPOSED_SERVICE_PORTS
    )


# Rule id -> (which rules offend, what they open), checked over every NSG's security rules.
NSG_RULES: dict[str, tuple[Any, str]] = {
    "NET-001": (lambda r: exposes_port(r, 3389), "RDP (TCP 3389)"),
    "NET-002": (lambda r: exposes_port(r, 22), "SSH (TCP 22)"),
    "NET-003": (exposes_all_ports, "every port"),
    "NET-004": (
        lambda r: (
            from_internet(r)
            and _protocol_matches(r, "udp")
            and bool(port_ranges(r))
            and not exposes_all_ports(r)
        ),
        "UDP",
    ),
    "NET-005": (
        lambda r: (exposes_port(r, 80) or exposes_port(r, 443)) and not exposes_all_ports(r),
        "HTTP/HTTPS (TCP 80/443)",
    ),
    "NET-011": (exposes_service_port, "database, file-sharing or remote-management ports"),
}
for _rule_id, (_predicate, _what) in NSG_RULES.items():
    check(_rule_id, needs=[resources(NSG)])(_nsg_check(_predicate, f"allows {_what}"))
