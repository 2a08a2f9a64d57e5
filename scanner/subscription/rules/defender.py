"""Microsoft Defender for Cloud plans (CIS section 2.1), declared as data: one rule per plan
that must be on the Standard tier; and the Microsoft.Security resource provider."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from scanner.subscription.inventory import DEFENDER_PLANS, PROVIDERS, Inventory, dig
from scanner.subscription.rules.base import Hit, Rule

# (rule id, pricing name, what it protects, CIS recommendation, severity)
PLANS: list[tuple[str, str, str, str, Any]] = [
    ("DEF-001", "VirtualMachines", "Servers", "2.1.1", "high"),
    ("DEF-002", "AppServices", "App Service", "2.1.2", "medium"),
    ("DEF-003", "SqlServers", "Azure SQL Databases", "2.1.3", "medium"),
    ("DEF-004", "StorageAccounts", "Storage", "2.1.6", "medium"),
    ("DEF-005", "Containers", "Containers", "2.1.7", "medium"),
    ("DEF-006", "KeyVaults", "Key Vault", "2.1.9", "medium"),
    ("DEF-007", "Arm", "Resource Manager", "2.1.11", "medium"),
]


def _plan_check(pricing: str, what: str) -> Any:
    def check(inventory: Inventory) -> Iterable[Hit]:
        plans = {str(p.get("name", "")).casefold(): p for p in inventory.section(DEFENDER_PLANS)}
        plan = plans.get(pricing.casefold())
        tier = str(dig(plan, "properties.pricingTier") or "Free") if plan else "Free"
        if tier.casefold() != "standard":
            yield Hit(
                subject=str(
                    (plan or {}).get("id")
                    or f"/subscriptions/{inventory.subscription_id}/providers/"
                    f"Microsoft.Security/pricings/{pricing}"
                ),
                name=pricing,
                message=f"Microsoft Defender for {what} is on the {tier} tier",
            )

    return check


def _security_provider(inventory: Inventory) -> Iterable[Hit]:
    providers = {
        str(p.get("namespace", "")).casefold(): p for p in inventory.section(PROVIDERS) or []
    }
    state = str(providers.get("microsoft.security", {}).get("registrationState", "NotRegistered"))
    if state.casefold() != "registered":
        yield Hit(
            subject=f"/subscriptions/{inventory.subscription_id}/providers/Microsoft.Security",
            name="Microsoft.Security",
            message=f"the Microsoft.Security resource provider is {state}",
        )


RULES = [
    Rule(
        id=rule_id,
        title=f"Microsoft Defender for {what} is off",
        severity=severity,
        family="defender",
        description=f"Defender for {what} adds threat detection and vulnerability assessment "
        "that the free tier does not provide.",
        remediation=f"Set the Defender plan '{pricing}' to On (Standard) in Defender for Cloud's "
        "environment settings.",
        cis=(cis,),
        needs=(DEFENDER_PLANS,),
        check=_plan_check(pricing, what),
    )
    for rule_id, pricing, what, cis, severity in PLANS
] + [
    Rule(
        id="DEF-008",
        title="Microsoft.Security resource provider is not registered",
        severity="medium",
        family="defender",
        description="Without the Microsoft.Security provider, Defender for Cloud cannot assess "
        "the subscription at all.",
        remediation="Register the provider (az provider register --namespace Microsoft.Security).",
        cis=(),
        needs=(PROVIDERS,),
        check=_security_provider,
        frameworks={"Microsoft cloud security benchmark": ("LT-1",)},
    )
]
