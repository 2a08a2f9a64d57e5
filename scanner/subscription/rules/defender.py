"""Microsoft Defender for Cloud plans (CIS section 3.1): one rule per plan that must be on
the Standard tier (a plan absent from the answer is on the Free tier); and the Microsoft.Security
resource provider."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from scanner.subscription.inventory import DEFENDER_PLANS, PROVIDERS, Inventory, dig
from scanner.subscription.rules.base import WHOLE_SCOPE, Hit, check

# Rule id -> (pricing name, what it protects).
PLANS: dict[str, tuple[str, str]] = {
    "DEF-001": ("VirtualMachines", "Servers"),
    "DEF-002": ("AppServices", "App Service"),
    "DEF-003": ("SqlServers", "Azure SQL Databases"),
    "DEF-004": ("StorageAccounts", "Storage"),
    "DEF-005": ("Containers", "Containers"),
    "DEF-006": ("KeyVaults", "Key Vault"),
    "DEF-007": ("Arm", "Resource Manager"),
}


def _plan_check(pricing: str, what: str) -> Any:
    def evaluate(inventory: Inventory) -> Iterable[Hit]:
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

    return evaluate


@check("DEF-008", needs=[PROVIDERS], evaluates=WHOLE_SCOPE)
def security_provider(inventory: Inventory) -> Iterable[Hit]:
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


for _rule_id, (_pricing, _what) in PLANS.items():
    check(_rule_id, needs=[DEFENDER_PLANS], evaluates=WHOLE_SCOPE)(_plan_check(_pricing, _what))
