"""Microsoft Defender for Cloud (CIS section 3.1): one rule per plan that must be on the
Standard tier (a plan absent from the answer is on the Free tier), the plans' components
(extensions), security contacts and their notifications, the Defender for Endpoint and Cloud
Apps integrations, auto-provisioning; and the Microsoft.Security resource provider."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scanner.subscription.inventory import (
    DEFENDER_PLANS,
    PROVIDERS,
    Inventory,
    dig,
    subscription_section,
)
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
    "DEF-009": ("CosmosDbs", "Azure Cosmos DB"),
    "DEF-010": ("OpenSourceRelationalDatabases", "open-source relational databases"),
    "DEF-011": ("SqlServerVirtualMachines", "SQL servers on machines"),
}
# Rule id -> (pricing name, extension name, what it is). Extensions report `isEnabled` as the
# strings "True"/"False"; an extension missing from an enabled plan is off.
EXTENSIONS: dict[str, tuple[str, str, str]] = {
    "DEF-013": ("VirtualMachines", "AgentlessVmScanning", "agentless scanning for machines"),
    "DEF-014": ("VirtualMachines", "FileIntegrityMonitoring", "file integrity monitoring"),
    "DEF-015": (
        "Containers",
        "ContainerRegistriesVulnerabilityAssessments",
        "agentless container vulnerability assessment",
    ),
    "DEF-016": (
        "Containers",
        "AgentlessDiscoveryForKubernetes",
        "agentless discovery for Kubernetes",
    ),
}
SECURITY_CONTACTS = subscription_section("providers/Microsoft.Security/securityContacts")
SECURITY_SETTINGS = subscription_section("providers/Microsoft.Security/settings")
AUTO_PROVISIONING = subscription_section("providers/Microsoft.Security/autoProvisioningSettings")
# Rule id -> (setting name, what it integrates).
INTEGRATIONS: dict[str, tuple[str, str]] = {
    "DEF-020": ("MCAS", "Microsoft Defender for Cloud Apps"),
    "DEF-021": ("WDATP", "Microsoft Defender for Endpoint"),
}
# Alert severities from the lowest: notifying from one of these includes High alerts.
_SEVERITIES = ("low", "medium", "high")


def _plan_check(pricing: str, what: str) -> Any:
    def evaluate(inventory: Inventory) -> Iterable[Hit]:
        plans = {str(p.get("name", "")).casefold(): p for p in inventory.section(DEFENDER_PLANS)}
        plan = plans.get(pricing.casefold())
        tier = str(dig(plan, "properties.pricingTier") or "Free") if plan else "Free"
        if tier.casefold() != "standard":
            yield Hit.on_setting(
                inventory,
                plan,
                f"providers/Microsoft.Security/pricings/{pricing}",
                f"Microsoft Defender for {what} is on the {tier} tier",
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


def _plans(inventory: Inventory) -> dict[str, dict[str, Any]]:
    return {str(p.get("name", "")).casefold(): p for p in inventory.section(DEFENDER_PLANS) or []}


def _pricing_id(inventory: Inventory, pricing: str) -> str:
    sub = f"/subscriptions/{inventory.subscription_id}"
    return f"{sub}/providers/Microsoft.Security/pricings/{pricing}"


def _on(plan: Mapping[str, Any] | None) -> bool:
    return str(dig(plan, "properties.pricingTier") or "Free").casefold() == "standard"


@check("DEF-012", needs=[DEFENDER_PLANS], evaluates=WHOLE_SCOPE)
def dns_protection(inventory: Inventory) -> Iterable[Hit]:
    """Defender for DNS is a legacy plan: subscriptions on Defender for Servers Plan 2 get its
    protection from that plan, the others only from the Dns pricing."""
    plans = _plans(inventory)
    servers = plans.get("virtualmachines")
    if _on(plans.get("dns")) or (
        _on(servers) and str(dig(servers, "properties.subPlan") or "").casefold() == "p2"
    ):
        return
    yield Hit(
        subject=str((plans.get("dns") or {}).get("id") or _pricing_id(inventory, "Dns")),
        name="Dns",
        message="DNS queries are not protected: neither the Dns plan nor Defender for Servers "
        "Plan 2 is on",
    )


def _extension_check(pricing: str, extension: str, what: str) -> Any:
    def evaluate(inventory: Inventory) -> Iterable[Hit]:
        plan = _plans(inventory).get(pricing.casefold())
        if not _on(plan):
            return  # the plan's own rule reports the plan being off
        found = next(
            (
                e
                for e in dig(plan, "properties.extensions") or []
                if isinstance(e, dict) and str(e.get("name", "")).casefold() == extension.casefold()
            ),
            None,
        )
        state = str((found or {}).get("isEnabled", "False"))
        if state.casefold() != "true":
            yield Hit(
                subject=str((plan or {}).get("id") or _pricing_id(inventory, pricing)),
                name=f"{pricing}/{extension}",
                message=f"{what} ({extension}) is off in the {pricing} plan",
            )

    return evaluate


def _contacts(inventory: Inventory) -> list[dict[str, Any]]:
    return [c for c in inventory.section(SECURITY_CONTACTS) or [] if isinstance(c, dict)]


def _contact_hit(inventory: Inventory, message: str) -> Hit:
    return Hit(
        subject=f"/subscriptions/{inventory.subscription_id}/providers/Microsoft.Security/"
        "securityContacts/default",
        name="default",
        message=message,
    )


def _emails(contact: Mapping[str, Any]) -> list[str]:
    # One string of addresses separated by semicolons (commas seen too).
    text = str(dig(contact, "properties.emails") or "").replace(",", ";")
    return [e.strip() for e in text.split(";") if "@" in e]


@check("DEF-017", needs=[SECURITY_CONTACTS], evaluates=WHOLE_SCOPE)
def contact_email(inventory: Inventory) -> Iterable[Hit]:
    if not any(
        _emails(c) and dig(c, "properties.isEnabled") is not False for c in _contacts(inventory)
    ):
        yield _contact_hit(inventory, "no enabled security contact with an email address")


@check("DEF-018", needs=[SECURITY_CONTACTS], evaluates=WHOLE_SCOPE)
def high_severity_notifications(inventory: Inventory) -> Iterable[Hit]:
    for contact in _contacts(inventory):
        if dig(contact, "properties.isEnabled") is False:
            continue
        for source in dig(contact, "properties.notificationsSources") or []:
            if not isinstance(source, dict):
                continue
            if str(source.get("sourceType", "")).casefold() != "alert":
                continue
            if str(source.get("minimalSeverity", "")).casefold() in _SEVERITIES:
                return
    yield _contact_hit(inventory, "no enabled security contact is notified of high-severity alerts")


@check("DEF-019", needs=[SECURITY_CONTACTS], evaluates=WHOLE_SCOPE)
def owners_notified(inventory: Inventory) -> Iterable[Hit]:
    for contact in _contacts(inventory):
        if dig(contact, "properties.isEnabled") is False:
            continue
        by_role = dig(contact, "properties.notificationsByRole") or {}
        roles = {str(r).casefold() for r in by_role.get("roles") or []}
        if str(by_role.get("state", "")).casefold() == "on" and "owner" in roles:
            return
    yield _contact_hit(inventory, "subscription owners are not notified of security alerts")


def _integration_check(setting: str, what: str) -> Any:
    def evaluate(inventory: Inventory) -> Iterable[Hit]:
        settings = {
            str(s.get("name", "")).casefold(): s
            for s in inventory.section(SECURITY_SETTINGS) or []
            if isinstance(s, dict)
        }
        found = settings.get(setting.casefold())
        if dig(found, "properties.enabled") is not True:
            state = "not reported" if found is None else "off"
            yield Hit.on_setting(
                inventory,
                found,
                f"providers/Microsoft.Security/settings/{setting}",
                f"the {what} integration ({setting}) is {state}",
            )

    return evaluate


@check("DEF-022", needs=[AUTO_PROVISIONING], evaluates=WHOLE_SCOPE)
def auto_provisioning(inventory: Inventory) -> Iterable[Hit]:
    settings = [s for s in inventory.section(AUTO_PROVISIONING) or [] if isinstance(s, dict)]
    default = next((s for s in settings if str(s.get("name", "")).casefold() == "default"), None)
    state = str(dig(default, "properties.autoProvision") or "Off")
    if state.casefold() != "on":
        yield Hit.on_setting(
            inventory,
            default,
            "providers/Microsoft.Security/autoProvisioningSettings/default",
            f"automatic provisioning of the monitoring agent is {state}",
        )


for _rule_id, (_pricing, _extension, _what) in EXTENSIONS.items():
    check(_rule_id, needs=[DEFENDER_PLANS], evaluates=WHOLE_SCOPE)(
        _extension_check(_pricing, _extension, _what)
    )
for _rule_id, (_setting, _what) in INTEGRATIONS.items():
    check(_rule_id, needs=[SECURITY_SETTINGS], evaluates=WHOLE_SCOPE)(
        _integration_check(_setting, _what)
    )
