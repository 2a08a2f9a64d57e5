"""Activity log export and activity log alerts (CIS section 6). The alert requirements are
data: one rule per group of administrative operations that must raise an alert."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from scanner.subscription.inventory import ACTIVITY_LOG_DIAGNOSTICS, Inventory, dig, resources
from scanner.subscription.rules.base import WHOLE_SCOPE, Hit, check

ALERT = "microsoft.insights/activitylogalerts"
REQUIRED_CATEGORIES = ("Administrative", "Alert", "Policy", "Security")
_DESTINATIONS = ("workspaceId", "storageAccountId", "eventHubAuthorizationRuleId")

# Rule id -> (what, operations that need an activity log alert at subscription scope).
ALERT_REQUIREMENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "MON-003": (
        "policy assignment changes",
        (
            "Microsoft.Authorization/policyAssignments/write",
            "Microsoft.Authorization/policyAssignments/delete",
        ),
    ),
    "MON-004": (
        "network security group changes",
        (
            "Microsoft.Network/networkSecurityGroups/write",
            "Microsoft.Network/networkSecurityGroups/delete",
        ),
    ),
    "MON-005": (
        "security solution changes",
        (
            "Microsoft.Security/securitySolutions/write",
            "Microsoft.Security/securitySolutions/delete",
        ),
    ),
    "MON-006": (
        "SQL server firewall rule changes",
        (
            "Microsoft.Sql/servers/firewallRules/write",
            "Microsoft.Sql/servers/firewallRules/delete",
        ),
    ),
    "MON-007": (
        "public IP address changes",
        (
            "Microsoft.Network/publicIPAddresses/write",
            "Microsoft.Network/publicIPAddresses/delete",
        ),
    ),
}


def _subscription(inventory: Inventory) -> str:
    return f"/subscriptions/{inventory.subscription_id}"


def _exporting(settings: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        s
        for s in settings
        if isinstance(s, dict) and any(dig(s, f"properties.{d}") for d in _DESTINATIONS)
    ]


@check("MON-001", needs=[ACTIVITY_LOG_DIAGNOSTICS], evaluates=WHOLE_SCOPE)
def no_export(inventory: Inventory) -> Iterable[Hit]:
    if not _exporting(inventory.section(ACTIVITY_LOG_DIAGNOSTICS) or []):
        yield Hit(
            subject=_subscription(inventory),
            name=inventory.subscription_id,
            message="no diagnostic setting exports the subscription's activity log",
        )


@check("MON-002", needs=[ACTIVITY_LOG_DIAGNOSTICS])
def missing_categories(inventory: Inventory) -> Iterable[Hit]:
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
    def evaluate(inventory: Inventory) -> Iterable[Hit]:
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

    return evaluate


for _rule_id, (_what, _operations) in ALERT_REQUIREMENTS.items():
    check(_rule_id, needs=[resources(ALERT)], evaluates=WHOLE_SCOPE)(
        _alert_check(_operations, _what)
    )
