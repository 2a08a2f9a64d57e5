"""Identity (CIS section 1): MFA registration (from the registration-details report, not one
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
from scanner.subscription.rules.base import Hit, Rule

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
MSCB = "Microsoft cloud security benchmark"


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


def _not_mfa_registered(inventory: Inventory) -> Iterable[Hit]:
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


def _privileged_without_mfa(inventory: Inventory) -> Iterable[Hit]:
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


def _guests(inventory: Inventory) -> Iterable[Hit]:
    for user_id, user in sorted(_users(inventory).items()):
        if str(user.get("userType", "")).casefold() == "guest" and _enabled(user):
            yield _user_hit(
                user_id,
                str(user.get("userPrincipalName", "")),
                "guest account: review whether it still needs access",
            )


def _stale_accounts(inventory: Inventory) -> Iterable[Hit]:
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
        signed_in = [
            parse_time(user.get("lastSignInDateTime")),
            parse_time(user.get("lastNonInteractiveSignInDateTime")),
        ]
        last = max((t for t in signed_in if t is not None), default=None)
        created = parse_time(user.get("createdDateTime"))
        if last is not None and last >= cutoff:
            continue
        if last is None and (created is None or created >= cutoff):
            continue  # new account that has not signed in yet
        when = f"last sign-in {last.date().isoformat()}" if last else "never signed in"
        yield _user_hit(
            user_id,
            str(user.get("userPrincipalName", "")),
            f"enabled account with no sign-in for {STALE_AFTER_DAYS} days ({when})",
        )


def _global_admin_count(inventory: Inventory) -> Iterable[Hit]:
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


def _mfa_for_all(inventory: Inventory) -> Iterable[Hit]:
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


def _mfa_for_admins(inventory: Inventory) -> Iterable[Hit]:
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


def _privileged_guests(inventory: Inventory) -> Iterable[Hit]:
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


def _custom_admin_roles(inventory: Inventory) -> Iterable[Hit]:
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


def _rule(**fields: Any) -> Rule:
    return Rule(family="identity", **fields)


RULES = [
    _rule(
        id="ID-001",
        title="Member user is not registered for MFA",
        severity="high",
        description="Accounts without a registered MFA method fall back to passwords alone, "
        "and an attacker with the password can register their own method.",
        remediation="Require MFA registration (registration campaign / Conditional Access) "
        "and follow up with the users listed.",
        cis=("1.1.3",),
        needs=(REGISTRATION_DETAILS, USERS),
        check=_not_mfa_registered,
    ),
    _rule(
        id="ID-002",
        title="Privileged role holder is not registered for MFA",
        severity="critical",
        description="A privileged account protected by a password alone is the shortest path "
        "to taking over the tenant.",
        remediation="Register MFA for these accounts now and enforce it with Conditional "
        "Access for administrative roles.",
        cis=("1.1.2",),
        needs=(ROLE_ASSIGNMENTS, REGISTRATION_DETAILS, USERS),
        check=_privileged_without_mfa,
    ),
    _rule(
        id="ID-003",
        title="Guest user account",
        severity="low",
        description="Guest accounts belong to other organisations' identities; access they "
        "no longer need should be removed.",
        remediation="Review guest users regularly (access reviews) and remove those that no "
        "longer need access.",
        cis=("1.5",),
        needs=(USERS,),
        check=_guests,
    ),
    _rule(
        id="ID-004",
        title="Enabled account has not signed in for 90 days",
        severity="medium",
        description="Stale accounts are unmonitored credentials: their owners would not notice "
        "them being used.",
        remediation="Disable or delete accounts that are no longer used.",
        cis=(),
        needs=(USERS,),
        check=_stale_accounts,
        frameworks={MSCB: ("PA-4",)},
    ),
    _rule(
        id="ID-005",
        title="Global Administrator count is outside 2-4",
        severity="high",
        description="One Global Administrator is a single point of failure; many widen the "
        "attack surface of the most powerful role.",
        remediation="Keep two to four Global Administrators (including break-glass accounts) "
        "and use least-privileged roles for everyone else.",
        cis=(),
        needs=(ROLE_ASSIGNMENTS,),
        check=_global_admin_count,
        frameworks={MSCB: ("PA-1",)},
    ),
    _rule(
        id="ID-006",
        title="MFA is not required for all users",
        severity="high",
        description="Neither security defaults nor a Conditional Access policy requires MFA "
        "for every user and app.",
        remediation="Enable security defaults, or create a Conditional Access policy that "
        "requires MFA for all users and all cloud apps.",
        cis=("1.1.1", "1.2.5"),
        needs=(SECURITY_DEFAULTS, CONDITIONAL_ACCESS),
        check=_mfa_for_all,
    ),
    _rule(
        id="ID-007",
        title="MFA is not required for administrators",
        severity="high",
        description="Administrative roles must always require MFA.",
        remediation="Create a Conditional Access policy that requires MFA for the directory's "
        "administrative roles (or enable security defaults).",
        cis=("1.2.4",),
        needs=(SECURITY_DEFAULTS, CONDITIONAL_ACCESS),
        check=_mfa_for_admins,
    ),
    _rule(
        id="ID-008",
        title="Guest user holds a privileged directory role",
        severity="critical",
        description="A privileged role held by another organisation's identity is controlled "
        "by that organisation's security.",
        remediation="Remove the role, or give it to a member account of this tenant.",
        cis=(),
        needs=(ROLE_ASSIGNMENTS, USERS),
        check=_privileged_guests,
        frameworks={MSCB: ("PA-1",)},
    ),
    _rule(
        id="ID-009",
        title="Custom subscription administrator role exists",
        severity="medium",
        description="Custom roles with every action ('*') at subscription scope are owner "
        "roles in disguise that escape reviews of built-in Owner assignments.",
        remediation="Delete the custom role, or replace '*' with the actions actually needed.",
        cis=("1.23",),
        needs=(CUSTOM_ROLES,),
        check=_custom_admin_roles,
    ),
]
