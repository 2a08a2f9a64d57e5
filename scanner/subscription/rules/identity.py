"""Identity (CIS section 2): MFA registration (from the registration-details report, not one
call per user), privileged roles, guests, stale accounts, Global Administrator count, security
defaults and Conditional Access (MFA for all users, administrators, the Azure management API,
admin portals and risky sign-ins; device code flow; trusted locations), the authorization
policy's defaults (tenant creation, app registration and consent, security groups, guest access
and invitations), custom subscription administrator and resource-lock roles."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from scanner.subscription.inventory import (
    AUTHORIZATION_POLICY,
    CONDITIONAL_ACCESS,
    CUSTOM_ROLES,
    NAMED_LOCATIONS,
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
        # A role assignable at a management group (or the root "/") can be assigned on every
        # subscription under it: it is a subscription administrator role too.
        at_subscription = any(
            s == "/"
            or s.casefold().startswith(
                ("/subscriptions/", "/providers/microsoft.management/managementgroups/")
            )
            for s in scopes
        )
        if "*" in actions and at_subscription:
            yield Hit(
                subject=str(role.get("id", "")),
                name=str(dig(role, "properties.roleName") or role.get("name", "")),
                message="custom role grants every action ('*') at subscription scope",
            )


# -- Conditional Access: MFA for the Azure management API, admin portals, risky sign-ins ------

AZURE_MANAGEMENT_APP = (
    "797f4846-ba00-4fd7-ba43-dac1f8f63013"  # Windows Azure Service Management API
)
ADMIN_PORTALS_APP = "microsoftadminportals"


def _lower(values: Any) -> set[str]:
    return {str(v).casefold() for v in values or []}


def _enforces_mfa(policy: Mapping[str, Any]) -> bool:
    """Enabled (not report-only) and its grant requires MFA or an authentication strength.
    With the OR operator, MFA among several controls can be skipped for another one (e.g. a
    compliant device); that still counts, as Entra ID's own templates do."""
    if str(policy.get("state", "")).casefold() != "enabled":
        return False
    return "mfa" in _lower(policy.get("builtInControls")) or bool(
        policy.get("authenticationStrength")
    )


def _for_all_users(policy: Mapping[str, Any]) -> bool:
    return "all" in _lower(policy.get("includeUsers"))


def _covers_app(policy: Mapping[str, Any], app: str) -> bool:
    """The policy's target apps include `app` (or All) and do not exclude it."""
    included = _lower(policy.get("includeApplications"))
    excluded = _lower(policy.get("excludeApplications"))
    return bool({"all", app} & included) and app not in excluded


def _ca_hit(message: str) -> Hit:
    return Hit(
        subject="/identity/conditionalAccess/policies", name="Conditional Access", message=message
    )


def _policies(inventory: Inventory) -> list[dict[str, Any]]:
    return [p for p in inventory.section(CONDITIONAL_ACCESS) or [] if isinstance(p, dict)]


@check("ID-010", needs=[CONDITIONAL_ACCESS], evaluates=WHOLE_SCOPE)
def mfa_for_azure_management(inventory: Inventory) -> Iterable[Hit]:
    if not any(
        _enforces_mfa(p) and _for_all_users(p) and _covers_app(p, AZURE_MANAGEMENT_APP)
        for p in _policies(inventory)
    ):
        yield _ca_hit(
            "no enabled Conditional Access policy requires MFA for all users of the Azure "
            f"management API (Windows Azure Service Management API, {AZURE_MANAGEMENT_APP})"
        )


@check("ID-011", needs=[CONDITIONAL_ACCESS], evaluates=WHOLE_SCOPE)
def mfa_for_admin_portals(inventory: Inventory) -> Iterable[Hit]:
    if not any(
        _enforces_mfa(p)
        and (_for_all_users(p) or GLOBAL_ADMINISTRATOR in _lower(p.get("includeRoles")))
        and _covers_app(p, ADMIN_PORTALS_APP)
        for p in _policies(inventory)
    ):
        yield _ca_hit(
            "no enabled Conditional Access policy requires MFA for the Microsoft admin portals"
        )


@check("ID-012", needs=[CONDITIONAL_ACCESS], evaluates=WHOLE_SCOPE)
def mfa_for_risky_sign_ins(inventory: Inventory) -> Iterable[Hit]:
    for policy in _policies(inventory):
        risks = _lower(policy.get("signInRiskLevels"))
        if (
            _enforces_mfa(policy)
            and _for_all_users(policy)
            and _covers_app(policy, "all")
            and {"high", "medium"} <= risks
        ):
            return
    yield _ca_hit(
        "no enabled Conditional Access policy requires MFA for medium- and high-risk sign-ins "
        "of all users"
    )


@check("ID-013", needs=[NAMED_LOCATIONS], evaluates=WHOLE_SCOPE)
def trusted_locations(inventory: Inventory) -> Iterable[Hit]:
    locations = [n for n in inventory.section(NAMED_LOCATIONS) or [] if isinstance(n, dict)]
    if not any(n.get("isTrusted") is True for n in locations):
        yield Hit(
            subject="/identity/conditionalAccess/namedLocations",
            name="Named locations",
            message=f"no trusted named location is defined ({len(locations)} named locations)",
        )


@check("ID-014", needs=[CONDITIONAL_ACCESS], evaluates=WHOLE_SCOPE)
def device_code_flow_blocked(inventory: Inventory) -> Iterable[Hit]:
    for policy in _policies(inventory):
        methods = _lower(str(policy.get("transferMethods") or "").split(","))
        if (
            str(policy.get("state", "")).casefold() == "enabled"
            and _for_all_users(policy)
            and "devicecodeflow" in methods
            and "block" in _lower(policy.get("builtInControls"))
        ):
            return
    yield _ca_hit("no enabled Conditional Access policy blocks the device code flow for all users")


# -- the authorization policy: what every user may do by default -----------------------------

RESTRICTED_GUEST_ROLE = "2af84b1e-32c8-42b7-82bc-daa82404023b"  # own directory objects only
GUEST_ROLES = {
    "a0b1b346-4d3e-4e8b-98f8-753987be4970": "same access as members",
    "10dae51f-b6af-4016-8d66-8c2a99b929b3": "limited access (the default)",
    RESTRICTED_GUEST_ROLE: "restricted to their own directory objects",
}
# Consent policies a user may consent under without being risky: apps from verified
# publishers asking low-impact permissions, or Microsoft's current recommendation (which
# applies the same limits).
ACCEPTED_CONSENT = {
    "managepermissiongrantsforself.microsoft-user-default-low",
    "managepermissiongrantsforself.microsoft-user-default-recommended",
}


def _authorization(inventory: Inventory) -> dict[str, Any]:
    return dict(inventory.section(AUTHORIZATION_POLICY) or {})


def _policy_hit(message: str) -> Hit:
    return Hit(
        subject="/policies/authorizationPolicy", name="Authorization policy", message=message
    )


def _default_permission(inventory: Inventory, name: str) -> bool:
    """A defaultUserRolePermissions flag; absent means allowed (Entra ID's default)."""
    permissions = _authorization(inventory).get("defaultUserRolePermissions") or {}
    return dig(permissions, name) is not False


# Rule id -> (permission that must be false, what users could do).
DEFAULT_PERMISSIONS: dict[str, tuple[str, str]] = {
    "ID-015": ("allowedToCreateTenants", "non-admin users can create tenants"),
    "ID-017": ("allowedToCreateApps", "users can register applications"),
    "ID-020": ("allowedToCreateSecurityGroups", "users can create security groups"),
}


def _permission_check(permission: str, message: str) -> Any:
    def evaluate(inventory: Inventory) -> Iterable[Hit]:
        if _default_permission(inventory, permission):
            yield _policy_hit(f"{message} (defaultUserRolePermissions.{permission} is not false)")

    return evaluate


@check("ID-016", needs=[AUTHORIZATION_POLICY], evaluates=WHOLE_SCOPE)
def user_consent(inventory: Inventory) -> Iterable[Hit]:
    permissions = _authorization(inventory).get("defaultUserRolePermissions") or {}
    assigned = _lower(dig(permissions, "permissionGrantPoliciesAssigned"))
    consent = sorted(p for p in assigned if p.startswith("managepermissiongrantsforself."))
    risky = [p for p in consent if p not in ACCEPTED_CONSENT]
    if risky:
        yield _policy_hit(
            "users can consent to applications beyond verified publishers' low-impact "
            f"permissions ({', '.join(risky)})"
        )


@check("ID-018", needs=[AUTHORIZATION_POLICY], evaluates=WHOLE_SCOPE)
def guest_access(inventory: Inventory) -> Iterable[Hit]:
    role = str(_authorization(inventory).get("guestUserRoleId") or "").casefold()
    if role != RESTRICTED_GUEST_ROLE:
        what = GUEST_ROLES.get(role or "10dae51f-b6af-4016-8d66-8c2a99b929b3", role)
        yield _policy_hit(f"guest users have {what}, not access to their own objects only")


@check("ID-019", needs=[AUTHORIZATION_POLICY], evaluates=WHOLE_SCOPE)
def guest_invites(inventory: Inventory) -> Iterable[Hit]:
    # everyone | adminsGuestInvitersAndAllMembers | adminsAndGuestInviters | none; absent is
    # the default, everyone.
    who = str(_authorization(inventory).get("allowInvitesFrom") or "everyone")
    if who.casefold() not in {"adminsandguestinviters", "none"}:
        yield _policy_hit(f"guests can be invited by {who}, not only by admins and inviters")


# -- custom roles ---------------------------------------------------------------------------

LOCK_ACTIONS = ("microsoft.authorization/locks/write", "microsoft.authorization/locks/delete")


def _grants(actions: set[str], action: str) -> bool:
    """An action list grants `action` literally or through a trailing wildcard."""
    if action in actions or "*" in actions:
        return True
    return any(a.endswith("*") and action.startswith(a[:-1]) for a in actions)


@check("ID-021", needs=[CUSTOM_ROLES], evaluates=WHOLE_SCOPE)
def lock_administrator_role(inventory: Inventory) -> Iterable[Hit]:
    for role in inventory.section(CUSTOM_ROLES) or []:
        actions = {
            str(a).casefold()
            for permission in dig(role, "properties.permissions") or []
            if isinstance(permission, dict)
            for a in permission.get("actions") or []
        }
        if "*" not in actions and all(_grants(actions, a) for a in LOCK_ACTIONS):
            return
    yield Hit(
        subject=f"/subscriptions/{inventory.subscription_id}/providers/"
        "Microsoft.Authorization/roleDefinitions",
        name="Custom roles",
        message="no custom role limited to administering resource locks "
        "(Microsoft.Authorization/locks/*) exists",
    )


for _rule_id, (_permission, _message) in DEFAULT_PERMISSIONS.items():
    check(_rule_id, needs=[AUTHORIZATION_POLICY], evaluates=WHOLE_SCOPE)(
        _permission_check(_permission, _message)
    )
