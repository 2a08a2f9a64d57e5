"""The collected inventory, as the rules see it: named sections of plain JSON data.

A section is what one collection step gives: the resources of one type (`resources:<type>`,
lower-case ARM type), the App Service web configs, the Defender plans, the Graph users, ...
The engine collects the sections the selected rules name, once per scan, and stores each one
by reference; a rule reads only its own sections and never calls Azure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

RESOURCE_PREFIX = "resources:"
# Per-resource ARM reads (collect/children.py): `children:<parent type>/<path>`, and
# subscription-level ARM reads: `subscription:<path>`. Rows carry `parentId`/`parentName`.
CHILDREN_PREFIX = "children:"
SUBSCRIPTION_PREFIX = "subscription:"
SUBSCRIPTION = "subscription"  # the parent "type" of subscription-level reads

# Sections that are not resources of one type (see collect/ for where each comes from).
WEB_CONFIGS = "webConfigs"  # Resource Graph appserviceresources: microsoft.web/sites/config
DEFENDER_PLANS = "defenderPlans"  # Resource Graph securityresources: microsoft.security/pricings
CUSTOM_ROLES = "customRoles"  # Resource Graph authorizationresources: custom role definitions
LOCATIONS = "locations"  # Resource Graph: the regions resources are deployed in (a summary)
PROVIDERS = "providers"  # azure-mgmt-resource: resource provider registrations
ACTIVITY_LOG_DIAGNOSTICS = "activityLogDiagnostics"  # ARM: subscription diagnostic settings
USERS = "users"  # Microsoft Graph /users (with signInActivity when licensed)
REGISTRATION_DETAILS = "registrationDetails"  # Graph authentication-methods registration report
DIRECTORY_ROLES = "directoryRoles"  # Graph /directoryRoles
ROLE_ASSIGNMENTS = "roleAssignments"  # Graph /roleManagement/directory/roleAssignments
SECURITY_DEFAULTS = "securityDefaults"  # Graph identitySecurityDefaultsEnforcementPolicy
CONDITIONAL_ACCESS = "conditionalAccess"  # Graph /identity/conditionalAccess/policies
NAMED_LOCATIONS = "namedLocations"  # Graph /identity/conditionalAccess/namedLocations
AUTHORIZATION_POLICY = "authorizationPolicy"  # Graph /policies/authorizationPolicy
VULNERABILITIES = "vulnerabilities"  # OSV: known vulnerabilities by software key

GRAPH_SECTIONS = frozenset(
    {
        USERS,
        REGISTRATION_DETAILS,
        DIRECTORY_ROLES,
        ROLE_ASSIGNMENTS,
        SECURITY_DEFAULTS,
        CONDITIONAL_ACCESS,
        NAMED_LOCATIONS,
        AUTHORIZATION_POLICY,
    }
)


def resources(resource_type: str) -> str:
    """The section name of one resource type, e.g. `resources:microsoft.storage/storageaccounts`."""
    return RESOURCE_PREFIX + resource_type.lower()


def children(parent_type: str, path: str) -> str:
    """The section of a per-resource ARM read, e.g.
    `children:microsoft.sql/servers/firewallRules`."""
    return f"{CHILDREN_PREFIX}{parent_type.lower()}/{path.strip('/')}"


def subscription_section(path: str) -> str:
    """The section of a subscription-level ARM read, e.g.
    `subscription:providers/Microsoft.Security/securityContacts`."""
    return SUBSCRIPTION_PREFIX + path.strip("/")


class DataUnavailableError(Exception):
    """A rule cannot be evaluated: the data it needs could not be collected (e.g. a Graph
    permission or licence is missing). The rule's result is a soft error; the scan completes."""


@dataclass
class Inventory:
    """What a rule reads: its sections, loaded on demand, plus the scan's facts.

    `load` returns a section's JSON; `unavailable` says why a section could not be collected.
    `now` is when the inventory was collected, so time-based rules (stale accounts) are
    deterministic for a given inventory.
    """

    load: Callable[[str], Any]
    subscription_id: str
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    unavailable: Mapping[str, str] = field(default_factory=dict)

    def section(self, name: str) -> Any:
        if name in self.unavailable:
            raise DataUnavailableError(f"{name} could not be collected: {self.unavailable[name]}")
        return self.load(name)

    def resources(self, resource_type: str) -> list[dict[str, Any]]:
        value = self.section(resources(resource_type))
        return list(value or [])

    def vulnerabilities(self) -> dict[str, Any]:
        """OSV results: {"status", "error"?, "bySoftware": {key: [vuln, ...]}}."""
        value = self.section(VULNERABILITIES)
        return dict(value or {})


def dig(value: Any, path: str) -> Any:
    """`a.b.c` into nested dicts (case-insensitive keys, as ARM property names vary in case);
    None when any step is missing."""
    current = value
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        if part in current:
            current = current[part]
            continue
        lowered = part.lower()
        current = next((v for k, v in current.items() if k.lower() == lowered), None)
    return current


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 timestamp from ARM/Graph (Z or offset, 0-7 fractional digits), or None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
