"""The planted tenant a week later: what the comparison tests expect to see between two scans.

- a storage account added (and served over plain HTTP: a new ST-001 finding);
- `sthttp` fixed (HTTPS only: its ST-001 finding resolved);
- `stnobypass` deleted (its ST-006 finding resolved with it);
- carol gained Global Administrator and alice lost it (the count stays 5, so the ID-005
  finding about the count is unchanged even though its holders changed).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from tests.support.azure_fakes.dataset import GLOBAL_ADMIN, Builder, Tenant, planted_tenant


@dataclass(frozen=True)
class TenantChanges:
    added: str  # resource id
    fixed: str
    removed: str
    gained_admin: str  # principal id
    lost_admin: str


def changed_tenant(tenant: Tenant | None = None) -> tuple[Tenant, TenantChanges]:
    """A copy of `tenant` (default: the planted one) with the changes above."""
    tenant = copy.deepcopy(tenant or planted_tenant())
    build = Builder(tenant)
    added = build.storage("stadded", supportsHttpsTrafficOnly=False)
    fixed = removed = ""
    for row in tenant.resources:
        if row["name"] == "sthttp":
            row["properties"]["supportsHttpsTrafficOnly"] = True
            fixed = row["id"]
        if row["name"] == "stnobypass":
            removed = row["id"]
    tenant.resources = [r for r in tenant.resources if r["id"] != removed]
    tenant.role_assignments = [
        a
        for a in tenant.role_assignments
        if not (a["principalId"] == "u-alice" and a["roleDefinitionId"] == GLOBAL_ADMIN)
    ]
    build.assign("u-carol", GLOBAL_ADMIN)
    return tenant, TenantChanges(added, fixed, removed, "u-carol", "u-alice")
