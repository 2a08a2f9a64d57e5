"""Network security groups, flow logs and Network Watcher (CIS section 6)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scanner.subscription.inventory import LOCATIONS, Inventory, dig, resources
from scanner.subscription.rules.base import Hit, Rule

NSG = "microsoft.network/networksecuritygroups"
FLOW_LOG = "microsoft.network/networkwatchers/flowlogs"
WATCHER = "microsoft.network/networkwatchers"

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
    def check(inventory: Inventory) -> Iterable[Hit]:
        for nsg in inventory.resources(NSG):
            offending = [str(r.get("name", "?")) for r in _security_rules(nsg) if predicate(r)]
            if offending:
                yield Hit(
                    subject=str(nsg.get("id", "")),
                    name=str(nsg.get("name", "")),
                    message=f"{what} from the Internet by rule(s) {', '.join(sorted(offending))}",
                    details={"securityRules": sorted(offending)},
                )

    return check


def _nsg_rule(
    id: str, title: str, severity: Any, predicate: Any, what: str, cis: list[str], fix: str
) -> Rule:
    return Rule(
        id=id,
        title=title,
        severity=severity,
        family="networking",
        description=f"Network security group rules that allow {what} from any address expose "
        "the workloads behind them to scanning and brute force from the whole Internet.",
        remediation=fix,
        cis=tuple(cis),
        needs=(resources(NSG),),
        check=_nsg_check(predicate, f"allows {what}"),
    )


def _flow_log_retention(inventory: Inventory) -> Iterable[Hit]:
    for log in inventory.resources(FLOW_LOG):
        enabled = dig(log, "properties.enabled")
        days = dig(log, "properties.retentionPolicy.days")
        retention_on = dig(log, "properties.retentionPolicy.enabled")
        short = bool(retention_on) and isinstance(days, int) and 0 < days < 90
        if enabled is False or short:
            reason = "the flow log is disabled" if enabled is False else f"retention is {days} days"
            yield Hit(
                subject=str(log.get("id", "")),
                name=str(log.get("name", "")),
                message=f"NSG flow log keeps less than 90 days: {reason}",
            )


def _network_watcher(inventory: Inventory) -> Iterable[Hit]:
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


RULES = [
    _nsg_rule(
        "NET-001",
        "RDP (3389) is open to the Internet",
        "high",
        lambda r: exposes_port(r, 3389),
        "RDP (TCP 3389)",
        ["6.1"],
        "Remove the rule or restrict its source to known addresses; use Azure Bastion or "
        "just-in-time VM access for administration.",
    ),
    _nsg_rule(
        "NET-002",
        "SSH (22) is open to the Internet",
        "high",
        lambda r: exposes_port(r, 22),
        "SSH (TCP 22)",
        ["6.2"],
        "Remove the rule or restrict its source to known addresses; use Azure Bastion or "
        "just-in-time VM access for administration.",
    ),
    _nsg_rule(
        "NET-003",
        "All ports are open to the Internet",
        "critical",
        exposes_all_ports,
        "every port",
        ["6.1", "6.2", "6.3"],
        "Replace the any-port rule with rules for the few ports the workload serves.",
    ),
    _nsg_rule(
        "NET-004",
        "UDP is open to the Internet",
        "medium",
        lambda r: (
            from_internet(r)
            and _protocol_matches(r, "udp")
            and bool(port_ranges(r))
            and not exposes_all_ports(r)
        ),
        "UDP",
        ["6.3"],
        "Restrict UDP rules to known sources; UDP services are abused for reflection attacks.",
    ),
    _nsg_rule(
        "NET-005",
        "HTTP(S) is open to the Internet",
        "low",
        lambda r: (exposes_port(r, 80) or exposes_port(r, 443)) and not exposes_all_ports(r),
        "HTTP/HTTPS (TCP 80/443)",
        ["6.4"],
        "Put web workloads behind Application Gateway/Front Door with a WAF, or restrict the "
        "source addresses.",
    ),
    Rule(
        id="NET-006",
        title="NSG flow logs are kept less than 90 days",
        severity="low",
        family="networking",
        description="Flow logs are the record of who talked to what; short retention loses "
        "the evidence an investigation needs.",
        remediation="Enable the flow log and set its retention to 90 days or more (0 keeps "
        "logs indefinitely).",
        cis=("6.5",),
        needs=(resources(FLOW_LOG),),
        check=_flow_log_retention,
    ),
    Rule(
        id="NET-007",
        title="Network Watcher is not enabled in a region in use",
        severity="low",
        family="networking",
        description="Network Watcher provides flow logs, connection troubleshooting and "
        "topology for a region; without it those tools are unavailable there.",
        remediation="Enable Network Watcher for every region the subscription uses.",
        cis=("6.6",),
        needs=(resources(WATCHER), LOCATIONS),
        check=_network_watcher,
    ),
]
