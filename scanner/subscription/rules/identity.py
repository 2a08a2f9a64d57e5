"""Identity (CIS section 2): MFA registration (from the registration-details report, not one
call per user), privileged roles, guests, stale accounts, Global Administrator count, security
defaults and Conditional Access, custom subscription administrator roles."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from scanner.subscription.inventory import (
    CONDITIONAL_ACCESS,
    CUSTOM_ROLES,
    REGISTRATION_DETAILS,
    ROLE_ASSIGNMENTS,
    SECURITY_DEFAULTS,
    USERS,
    DataUnavailableError,
    Inventory,
    dig,
    parse_time,
)
from scanner.subscription.rules.base import WHOLE_SCOPE, Hit, check

GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
# Built-in directory roles treated as privileged (role template ids, the same in every tenant).
PRIVILEGED_ROLES: dict[str, str] = {
    GLOBAL_ADMINISTRATOR: "Global Administrator",
    "e8611ab8-c189-46e8-94e1-60213ab1f814": "Privileged Role Administrator",
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13": "Privileged Authentication Administrator",
    "194ae4cb-b126-40b2-bd5b-6091b380977d": "Security Administrator",
    "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9": "Conditional Access Administrator",
    "fe930be7-5e62-47db-91af-98c3a49a38b1": "User Administrator",
    "c4e39bd9-1100-46d3-8c65-fb160da0071f": "Authentication Administrator",
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3": "Application Administrator",
    "158c047a-c907-4556-b7ef-446551a6b5f7": "Cloud Application Administrator",
    "29232cdf-9323-42fd-ade2-1d097af3e4de": "Exchange Administrator",
    "f28a1f50-f6e7-4571-818b-6a12f2af6b6c": "SharePoint Administrator",
    "729827e3-9c14-49f7-bb1b-9608f156bbb8": "Helpdesk Administrator",
    "3a2c62db-5318-420d-8d74-23affee5d9d5": "Intune Administrator",
}
STALE_AFTER_DAYS = 90
GLOBAL_ADMINS_MIN, GLOBAL_ADMINS_MAX = 2, 4


def _users(inventory: Inventory) -> dict[str, dict[str, Any]]:
    section = inventory.section(USERS) or {}
    return {str(u["id"]): u for u in section.get("items", []) if isinstance(u, dict)}


def _enabled(user: Mapping[str, Any] | None) -> bool:
    return user is None or user.get("accountEnabled") is not False


def _user_hit(user_id: str, upn: str, message: str, **details: Any) -> Hit:
    return Hit(subject=f"/users/{user_id}", name=upn, message=message, details=details)


def _privileged_members(inventory: Inventory) -> dict[str, list[str]]:
    """principal id -> names of the privileged roles it holds (tenant-wide assignments)."""
    members: dict[str, list[str]] = {}
    for assignment in inventory.section(ROLE_ASSIGNMENTS) or []:
        role = str(assignment.get("roleDefinitionId", "")).casefold()
        if role in PRIVILEGED_ROLES:
            principal = str(assignment.get("principalId", ""))
            members.setdefault(principal, []).append(PRIVILEGED_ROLES[role])
    return {p: sorted(set(r)) for p, r in members.items()}


@check("ID-001", needs=[REGISTRATION_DETAILS, USERS])
def not_mfa_registered(inventory: Inventory) -> Iterable[Hit]:
    users = _users(inventory)
    for detail in inventory.section(REGISTRATION_DETAILS) or []:
        if str(detail.get("userType", "member")).casefold() != "member":
            continue
        if detail.get("isMfaRegistered") is not False:
            continue
        user_id = str(detail.get("id", ""))
        if not _enabled(users.get(user_id)):
            continue
        yield _user_hit(
            user_id,
            str(detail.get("userPrincipalName", "")),
            "member user has not registered an MFA method",
        )


@check("ID-002", needs=[ROLE_ASSIGNMENTS, REGISTRATION_DETAILS, USERS])
def privileged_without_mfa(inventory: Inventory) -> Iterable[Hit]:
    registered = {
        str(d.get("id", "")): d.get("isMfaRegistered")
        for d in inventory.section(REGISTRATION_DETAILS) or []
    }
    users = _users(inventory)
    for principal, roles in sorted(_privileged_members(inventory).items()):
        if principal not in registered:
            continue  # groups and service principals have no MFA registration
        if registered[principal] is False and _enabled(users.get(principal)):
            upn = str(users.get(principal, {}).get("userPrincipalName", principal))
            yield _user_hit(
                principal,
                upn,
                f"holds {', '.join(roles)} without a registered MFA method",
                roles=roles,
            )


@check("ID-003", needs=[USERS])
def guests(inventory: Inventory) -> Iterable[Hit]:
    for user_id, user in sorted(_users(inventory).items()):
        if str(user.get("userType", "")).casefold() == "guest" and _enabled(user):
            yield _user_hit(
                user_id,
                str(user.get("userPrincipalName", "")),
                "guest account: review whether it still needs access",
            )


@check("ID-004", needs=[USERS])
def stale_accounts(inventory: Inventory) -> Iterable[Hit]:
    section = inventory.section(USERS) or {}
    if not section.get("signInActivityAvailable", False):
        raise DataUnavailableError(
            "sign-in activity is not available: "
            + str(section.get("signInActivityError") or "not collected")
        )
    cutoff = inventory.now - timedelta(days=STALE_AFTER_DAYS)
    for user_id, user in sorted(_users(inventory).items()):
        if not _enabled(user):
            continue
        # Only a successful sign-in shows the account is used: lastSignInDateTime and
        # lastNonInteractiveSignInDateTime move with failed attempts too, so a dormant account
        # under a password spray would look active by them.
        last = parse_time(user.get("lastSuccessfulSignInDateTime"))
        if last is not None and last >= cutoff:
            continue
        # Graph gives no creation date (null) for accounts created before mid-2018: old ones.
        created = parse_time(user.get("createdDateTime"))
        if last is None and created is not None and created >= cutoff:
            continue  # new account that has not signed in yet
        attempted = max(
            (
                t
                for t in (
                    parse_time(user.get("lastSignInDateTime")),
                    parse_time(user.get("lastNonInteractiveSignInDateTime")),
                )
                if t is not None
            ),
            default=None,
        )
        when = (
            f"last successful sign-in {last.date().isoformat()}"
            if last
            else "no successful sign-in recorded"
        )
        if attempted is not None and (last is None or attempted > last):
            when += f"; last attempt {attempted.date().isoformat()}"
        yield _user_hit(
            user_id,
            str(user.get("userPrincipalName", "")),
            f"enabled account with no successful sign-in for {STALE_AFTER_DAYS} days ({when})",
        )


@check("ID-005", needs=[ROLE_ASSIGNMENTS], evaluates=WHOLE_SCOPE)
def global_admin_count(inventory: Inventory) -> Iterable[Hit]:
    holders = {
        str(a.get("principalId", ""))
        for a in inventory.section(ROLE_ASSIGNMENTS) or []
        if str(a.get("roleDefinitionId", "")).casefold() == GLOBAL_ADMINISTRATOR
    }
    count = len(holders)
    if not GLOBAL_ADMINS_MIN <= count <= GLOBAL_ADMINS_MAX:
        problem = "no break-glass redundancy" if count < GLOBAL_ADMINS_MIN else "too many"
        yield Hit(
            subject=f"/directoryRoles/{GLOBAL_ADMINISTRATOR}",
            name="Global Administrator",
            message=f"{count} Global Administrators ({problem}; keep "
            f"{GLOBAL_ADMINS_MIN}-{GLOBAL_ADMINS_MAX})",
            details={"count": count},
        )


def requires_mfa(policy: Mapping[str, Any]) -> bool:
    """An enabled Conditional Access policy whose grant requires MFA (or an authentication
    strength) for all cloud apps."""
    if str(policy.get("state", "")).casefold() != "enabled":
        return False
    controls = {str(c).casefold() for c in policy.get("builtInControls") or []}
    if "mfa" not in controls and not policy.get("authenticationStrength"):
        return False
    apps = {str(a).casefold() for a in policy.get("includeApplications") or []}
    return "all" in apps


def _security_defaults_on(inventory: Inventory) -> bool:
    return bool((inventory.section(SECURITY_DEFAULTS) or {}).get("isEnabled"))


@check("ID-006", needs=[SECURITY_DEFAULTS, CONDITIONAL_ACCESS], evaluates=WHOLE_SCOPE)
def mfa_for_all(inventory: Inventory) -> Iterable[Hit]:
    if _security_defaults_on(inventory):
        return
    policies = inventory.section(CONDITIONAL_ACCESS) or []
    if any(
        requires_mfa(p) and "all" in {str(u).casefold() for u in p.get("includeUsers") or []}
        for p in policies
    ):
        return
    yield Hit(
        subject="/policies/identitySecurityDefaultsEnforcementPolicy",
        name="Security defaults",
        message="security defaults are off and no enabled Conditional Access policy requires "
        "MFA for all users and all cloud apps",
    )


@check("ID-007", needs=[SECURITY_DEFAULTS, CONDITIONAL_ACCESS], evaluates=WHOLE_SCOPE)
def mfa_for_admins(inventory: Inventory) -> Iterable[Hit]:
    if _security_defaults_on(inventory):
        return
    needed = set(PRIVILEGED_ROLES)
    covered: set[str] = set()
    for policy in inventory.section(CONDITIONAL_ACCESS) or []:
        if not requires_mfa(policy):
            continue
        if "all" in {str(u).casefold() for u in policy.get("includeUsers") or []}:
            return
        covered |= {str(r).casefold() for r in policy.get("includeRoles") or []}
    if GLOBAL_ADMINISTRATOR not in covered:
        missing = sorted(PRIVILEGED_ROLES[r] for r in needed - covered)
        yield Hit(
            subject="/identity/conditionalAccess/policies",
            name="Conditional Access",
            message="no enabled Conditional Access policy requires MFA for administrators "
            f"(uncovered roles include {', '.join(missing[:4])})",
        )


@check("ID-008", needs=[ROLE_ASSIGNMENTS, USERS])
def privileged_guests(inventory: Inventory) -> Iterable[Hit]:
    users = _users(inventory)
    for principal, roles in sorted(_privileged_members(inventory).items()):
        user = users.get(principal)
        if user and str(user.get("userType", "")).casefold() == "guest":
            yield _user_hit(
                principal,
                str(user.get("userPrincipalName", "")),
                f"guest account holds {', '.join(roles)}",
                roles=roles,
            )


@check("ID-009", needs=[CUSTOM_ROLES])
def custom_admin_roles(inventory: Inventory) -> Iterable[Hit]:
    for role in inventory.section(CUSTOM_ROLES) or []:
        actions = {
            str(a)
            for permission in dig(role, "properties.permissions") or []
            if isinstance(permission, dict)
            for a in permission.get("actions") or []
        }
        scopes = [str(s) for s in dig(role, "properties.assignableScopes") or []]
        at_subscription = any(
            s == "/" or s.casefold().startswith("/subscriptions/") for s in scopes
        )
        if "*" in actions and at_subscription:
            yield Hit(
                subject=str(role.get("id", "")),
                name=str(dig(role, "properties.roleName") or role.get("name", "")),
                message="custom role grants every action ('*') at subscription scope",
            )
