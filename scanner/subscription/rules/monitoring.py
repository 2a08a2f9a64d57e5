"""Activity log export and activity log alerts (CIS section 5). The alert requirements are
data: one rule per group of administrative operations that must raise an alert."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from scanner.subscription.inventory import ACTIVITY_LOG_DIAGNOSTICS, Inventory, dig, resources
from scanner.subscription.rules.base import Hit, Rule

ALERT = "microsoft.insights/activitylogalerts"
REQUIRED_CATEGORIES = ("Administrative", "Alert", "Policy", "Security")
_DESTINATIONS = ("workspaceId", "storageAccountId", "eventHubAuthorizationRuleId")

# (rule id, what, operations that need an activity log alert, CIS recommendations)
ALERT_REQUIREMENTS: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = [
    (
        "MON-003",
        "policy assignment changes",
        (
            "Microsoft.Authorization/policyAssignments/write",
            "Microsoft.Authorization/policyAssignments/delete",
        ),
        ("5.2.1", "5.2.2"),
    ),
    (
        "MON-004",
        "network security group changes",
        (
            "Microsoft.Network/networkSecurityGroups/write",
            "Microsoft.Network/networkSecurityGroups/delete",
        ),
        ("5.2.3", "5.2.4"),
    ),
    (
        "MON-005",
        "security solution changes",
        (
            "Microsoft.Security/securitySolutions/write",
            "Microsoft.Security/securitySolutions/delete",
        ),
        ("5.2.5", "5.2.6"),
    ),
    (
        "MON-006",
        "SQL server firewall rule changes",
        (
            "Microsoft.Sql/servers/firewallRules/write",
            "Microsoft.Sql/servers/firewallRules/delete",
        ),
        ("5.2.7", "5.2.8"),
    ),
    (
        "MON-007",
        "public IP address changes",
        (
            "Microsoft.Network/publicIPAddresses/write",
            "Microsoft.Network/publicIPAddresses/delete",
        ),
        ("5.2.9", "5.2.10"),
    ),
]


def _subscription(inventory: Inventory) -> str:
    return f"/subscriptions/{inventory.subscription_id}"


def _exporting(settings: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        s
        for s in settings
        if isinstance(s, dict) and any(dig(s, f"properties.{d}") for d in _DESTINATIONS)
    ]


def _no_export(inventory: Inventory) -> Iterable[Hit]:
    if not _exporting(inventory.section(ACTIVITY_LOG_DIAGNOSTICS) or []):
        yield Hit(
            subject=_subscription(inventory),
            name=inventory.subscription_id,
            message="no diagnostic setting exports the subscription's activity log",
        )


def _missing_categories(inventory: Inventory) -> Iterable[Hit]:
    exporting = _exporting(inventory.section(ACTIVITY_LOG_DIAGNOSTICS) or [])
    if not exporting:
        return  # MON-001 reports the missing export itself
    enabled = {
        str(log.get("category", "")).casefold()
        for setting in exporting
        for log in dig(setting, "properties.logs") or []
        if isinstance(log, dict) and log.get("enabled")
    }
    missing = [c for c in REQUIRED_CATEGORIES if c.casefold() not in enabled]
    if missing:
        yield Hit(
            subject=_subscription(inventory),
            name=inventory.subscription_id,
            message=f"activity log categories not exported: {', '.join(missing)}",
        )


def alerted_operations(alert: dict[str, Any], subscription_id: str) -> set[str]:
    """Operations an enabled activity log alert at subscription scope fires on."""
    if dig(alert, "properties.enabled") is False:
        return set()
    scopes = {str(s).casefold().rstrip("/") for s in dig(alert, "properties.scopes") or []}
    if f"/subscriptions/{subscription_id}".casefold() not in scopes:
        return set()
    operations = set()
    for condition in dig(alert, "properties.condition.allOf") or []:
        if isinstance(condition, dict) and str(condition.get("field", "")) == "operationName":
            operations.add(str(condition.get("equals", "")).casefold())
    return operations


def _alert_check(operations: tuple[str, ...], what: str) -> Any:
    def check(inventory: Inventory) -> Iterable[Hit]:
        covered: set[str] = set()
        for alert in inventory.resources(ALERT):
            covered |= alerted_operations(alert, inventory.subscription_id)
        missing = [op for op in operations if op.casefold() not in covered]
        if missing:
            yield Hit(
                subject=_subscription(inventory),
                name=inventory.subscription_id,
                message=f"no activity log alert for {what}: {', '.join(missing)}",
                details={"missingOperations": missing},
            )

    return check


RULES = [
    Rule(
        id="MON-001",
        title="Subscription activity log is not exported",
        severity="medium",
        family="monitoring",
        description="The activity log keeps 90 days only and cannot be queried with other "
        "logs unless a diagnostic setting exports it.",
        remediation="Create a subscription diagnostic setting that sends the activity log to "
        "a Log Analytics workspace (and/or a storage account).",
        cis=("5.1.1",),
        needs=(ACTIVITY_LOG_DIAGNOSTICS,),
        check=_no_export,
    ),
    Rule(
        id="MON-002",
        title="Activity log export misses security-relevant categories",
        severity="low",
        family="monitoring",
        description="Administrative, Alert, Policy and Security events are the ones an "
        "investigation needs.",
        remediation="Enable the Administrative, Alert, Policy and Security categories in the "
        "subscription's diagnostic setting.",
        cis=("5.1.2",),
        needs=(ACTIVITY_LOG_DIAGNOSTICS,),
        check=_missing_categories,
    ),
] + [
    Rule(
        id=rule_id,
        title=f"No activity log alert for {what}",
        severity="low",
        family="monitoring",
        description=f"An alert on {what} lets operators notice unexpected or malicious "
        "changes when they happen.",
        remediation="Create activity log alerts at subscription scope for: "
        + ", ".join(operations)
        + ".",
        cis=cis,
        needs=(resources(ALERT),),
        check=_alert_check(operations, what),
    )
    for rule_id, what, operations, cis in ALERT_REQUIREMENTS
]
