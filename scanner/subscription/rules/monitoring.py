"""Activity log export and activity log alerts (CIS section 6), Key Vault logging, Application
Insights and the activity log's storage encryption. The alert requirements are data: one rule
per group of administrative operations that must raise an alert."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from scanner.subscription.inventory import (
    ACTIVITY_LOG_DIAGNOSTICS,
    Inventory,
    children,
    dig,
    resources,
)
from scanner.subscription.rules.base import WHOLE_SCOPE, Hit, check

ALERT = "microsoft.insights/activitylogalerts"
REQUIRED_CATEGORIES = ("Administrative", "Alert", "Policy", "Security")
# The activity log categories a category group stands for. `audit` holds the records of
# changes and access decisions (Administrative, Security, Policy), not Alert, ServiceHealth,
# Recommendation, Autoscale or ResourceHealth.
ACTIVITY_LOG_GROUPS: dict[str, tuple[str, ...]] = {
    "audit": ("Administrative", "Security", "Policy")
}
# Conditions that make an alert fire on part of the subscription's events only.
_NARROWING_FIELDS = {"resourcegroup", "resourceid", "caller", "level", "status", "substatus"}
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


def _enabled_logs(setting: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        log
        for log in dig(setting, "properties.logs") or []
        if isinstance(log, dict) and log.get("enabled") is not False
    ]


def _exporting(settings: Sequence[Any]) -> list[dict[str, Any]]:
    """Settings that send something somewhere: a destination and at least one enabled log
    entry (a setting whose every category is switched off exports nothing)."""
    return [
        s
        for s in settings
        if isinstance(s, dict)
        and any(dig(s, f"properties.{d}") for d in _DESTINATIONS)
        and _enabled_logs(s)
    ]


def exported_categories(setting: dict[str, Any], groups: Mapping[str, Iterable[str]]) -> set[str]:
    """Log categories (casefolded) a diagnostic setting exports. An entry names one
    `category` or a `categoryGroup`: allLogs stands for every category (the "*" returned),
    other groups for the categories `groups` lists under them."""
    exported: set[str] = set()
    for log in _enabled_logs(setting):
        if log.get("category"):
            exported.add(str(log["category"]).casefold())
        group = str(log.get("categoryGroup") or "").casefold()
        if group == "alllogs":
            exported.add("*")
        elif group:
            exported |= {c.casefold() for c in groups.get(group, ())}
    return exported


@check("MON-001", needs=[ACTIVITY_LOG_DIAGNOSTICS], evaluates=WHOLE_SCOPE)
def no_export(inventory: Inventory) -> Iterable[Hit]:
    if not _exporting(inventory.section(ACTIVITY_LOG_DIAGNOSTICS) or []):
        yield Hit.on_subscription(
            inventory,
            "no diagnostic setting exports the subscription's activity log",
        )


@check("MON-002", needs=[ACTIVITY_LOG_DIAGNOSTICS])
def missing_categories(inventory: Inventory) -> Iterable[Hit]:
    exporting = _exporting(inventory.section(ACTIVITY_LOG_DIAGNOSTICS) or [])
    if not exporting:
        return  # MON-001 reports the missing export itself
    enabled: set[str] = set()
    for setting in exporting:
        enabled |= exported_categories(setting, ACTIVITY_LOG_GROUPS)
    if "*" in enabled:
        return
    missing = [c for c in REQUIRED_CATEGORIES if c.casefold() not in enabled]
    if missing:
        yield Hit.on_subscription(
            inventory,
            f"activity log categories not exported: {', '.join(missing)}",
        )


def _leaf_values(condition: Mapping[str, Any]) -> list[str]:
    """The values a leaf condition matches: `equals` one, or `containsAny` a list."""
    values = [condition["equals"]] if condition.get("equals") is not None else []
    values += list(condition.get("containsAny") or [])
    return [str(v).casefold() for v in values]


def alerted_operations(alert: dict[str, Any], subscription_id: str) -> set[str]:
    """Operations an enabled activity log alert over the whole subscription fires on.

    Azure accepts scopes with or without the leading slash (its own examples write
    `subscriptions/<id>`), `enabled` absent as true, and conditions as `allOf` leaves with
    `equals` or `containsAny`, or `anyOf` groups of such leaves. An alert that also filters on
    the resource group, resource, caller, level or status fires on part of the events only and
    covers nothing here; one on another category than Administrative never sees them."""
    if dig(alert, "properties.enabled") is False:
        return set()
    scopes = {str(s).strip("/").casefold() for s in dig(alert, "properties.scopes") or []}
    if f"subscriptions/{subscription_id}".casefold() not in scopes:
        return set()
    operations: set[str] = set()
    for condition in dig(alert, "properties.condition.allOf") or []:
        if not isinstance(condition, dict):
            continue
        leaves = condition.get("anyOf") if isinstance(condition.get("anyOf"), list) else None
        if leaves is None:
            field = str(condition.get("field", "")).casefold()
            if field in _NARROWING_FIELDS:
                return set()
            if field == "category" and "administrative" not in _leaf_values(condition):
                return set()
            if field == "operationname":
                operations |= set(_leaf_values(condition))
            continue
        for leaf in leaves:
            if isinstance(leaf, dict) and str(leaf.get("field", "")).casefold() == "operationname":
                operations |= set(_leaf_values(leaf))
    return operations


def _alert_check(operations: tuple[str, ...], what: str) -> Any:
    def evaluate(inventory: Inventory) -> Iterable[Hit]:
        covered: set[str] = set()
        for alert in inventory.resources(ALERT):
            covered |= alerted_operations(alert, inventory.subscription_id)
        missing = [op for op in operations if op.casefold() not in covered]
        if missing:
            yield Hit.on_subscription(
                inventory,
                f"no activity log alert for {what}: {', '.join(missing)}",
                details={"missingOperations": missing},
            )

    return evaluate


for _rule_id, (_what, _operations) in ALERT_REQUIREMENTS.items():
    check(_rule_id, needs=[resources(ALERT)], evaluates=WHOLE_SCOPE)(
        _alert_check(_operations, _what)
    )


# -- Key Vault logging, Application Insights, the activity log's storage account ---------------

VAULT = "microsoft.keyvault/vaults"
VAULT_DIAGNOSTICS = children(VAULT, "providers/Microsoft.Insights/diagnosticSettings")
COMPONENT = "microsoft.insights/components"
STORAGE = "microsoft.storage/storageaccounts"
# Key Vault's resource log categories by group: audit holds AuditEvent.
VAULT_GROUPS: dict[str, tuple[str, ...]] = {"audit": ("AuditEvent",)}


@check("MON-008", needs=[resources(VAULT), VAULT_DIAGNOSTICS])
def vault_logging(inventory: Inventory) -> Iterable[Hit]:
    logged: set[str] = set()
    for setting in _exporting(inventory.section(VAULT_DIAGNOSTICS) or []):
        categories = exported_categories(setting, VAULT_GROUPS)
        if "*" in categories or "auditevent" in categories:
            logged.add(str(setting.get("parentId", "")).casefold())
    for vault in inventory.resources(VAULT):
        if str(vault.get("id", "")).casefold() not in logged:
            yield Hit.of(
                vault,
                "no diagnostic setting exports the vault's AuditEvent log",
            )


@check("MON-009", needs=[resources(COMPONENT)], evaluates=WHOLE_SCOPE)
def application_insights(inventory: Inventory) -> Iterable[Hit]:
    if not inventory.resources(COMPONENT):
        yield Hit.on_subscription(
            inventory,
            "no Application Insights component exists in the subscription",
        )


@check("MON-010", needs=[ACTIVITY_LOG_DIAGNOSTICS, resources(STORAGE)])
def activity_log_storage_key(inventory: Inventory) -> Iterable[Hit]:
    accounts = {str(a.get("id", "")).casefold(): a for a in inventory.resources(STORAGE)}
    for setting in _exporting(inventory.section(ACTIVITY_LOG_DIAGNOSTICS) or []):
        target = str(dig(setting, "properties.storageAccountId") or "")
        account = accounts.get(target.casefold())
        if account is None:
            continue  # no storage destination, or an account in another subscription
        source = str(dig(account, "properties.encryption.keySource") or "Microsoft.Storage")
        if source.casefold() != "microsoft.keyvault":
            yield Hit.of(
                account,
                f"the activity log goes to a storage account encrypted with "
                f"{source} keys, not a customer-managed key",
            )
