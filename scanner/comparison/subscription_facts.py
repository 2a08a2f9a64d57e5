"""What changed in an Azure subscription between two scans: resources added and removed,
findings new and resolved per rule and per CIS control, and identities that gained or lost a
privileged directory role.

Resources are compared for the resource types both scans collected (a scan collects the types
its rules read); the others are listed in `resources.typesNotCompared`.
"""

from __future__ import annotations

from typing import Any

from scanner.comparison.findings import FindingsDelta, by_rule
from scanner.comparison.snapshot import (
    ChangeRow,
    CompareOptions,
    NotCompared,
    ScanSnapshot,
    rows_from,
)
from scanner.subscription.inventory import RESOURCE_PREFIX, ROLE_ASSIGNMENTS, USERS
from scanner.subscription.rules.base import CIS_BENCHMARK
from scanner.subscription.rules.identity import PRIVILEGED_ROLES
from scanner.subscription.stored import StoredInventory


class _Inventory:
    """One scan's stored inventory sections (every subscription's rows), loaded on demand."""

    def __init__(self, scan: ScanSnapshot) -> None:
        self.scan = scan
        index = scan.load(scan.results.get("inventory"))
        self.stored = isinstance(index, dict)
        self.inventory = StoredInventory(index if isinstance(index, dict) else {}, scan.load)
        self.unavailable = self.inventory.unavailable(None)

    def has(self, section: str) -> bool:
        return section in self.inventory.names() and section not in self.unavailable

    def section(self, name: str) -> Any:
        return self.inventory.section(name, None) if self.has(name) else None

    def resource_types(self) -> set[str]:
        return {
            s.removeprefix(RESOURCE_PREFIX)
            for s in self.inventory.names()
            if s.startswith(RESOURCE_PREFIX)
        }


def _resources(inventory: _Inventory, types: set[str]) -> dict[str, dict[str, Any]]:
    found = {}
    for resource_type in types:
        for row in inventory.section(RESOURCE_PREFIX + resource_type) or []:
            if isinstance(row, dict) and row.get("id"):
                found[str(row["id"]).lower()] = {
                    "id": row["id"],
                    "type": row.get("type") or resource_type,
                    "name": row.get("name"),
                    "location": row.get("location"),
                }
    return found


def resource_changes(old: _Inventory, new: _Inventory) -> dict[str, Any]:
    old_types, new_types = old.resource_types(), new.resource_types()
    both = old_types & new_types
    before, after = _resources(old, both), _resources(new, both)
    return {
        "counts": {
            "before": len(before),
            "after": len(after),
            "added": len(after.keys() - before.keys()),
            "removed": len(before.keys() - after.keys()),
        },
        "added": [after[k] for k in sorted(after.keys() - before.keys())],
        "removed": [before[k] for k in sorted(before.keys() - after.keys())],
        "typesCompared": sorted(both),
        "typesNotCompared": sorted(old_types ^ new_types),
    }


def _cis_of(scans: tuple[ScanSnapshot, ...]) -> dict[str, list[str]]:
    """Rule id -> CIS recommendations, from what each rule's item recorded (newest wins)."""
    mapping: dict[str, list[str]] = {}
    for scan in scans:
        for item in scan.items:
            frameworks = item.data.get("frameworks")
            if isinstance(frameworks, dict):
                mapping[item.item_id] = [str(c) for c in frameworks.get(CIS_BENCHMARK) or []]
    return mapping


def _control_order(control: str) -> list[int]:
    return [int(p) if p.isdigit() else 0 for p in control.split(".")]


def findings_by_rule_and_control(
    delta: FindingsDelta, cis: dict[str, list[str]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Findings new and resolved per rule (with its CIS recommendations) and per CIS control."""
    rules = by_rule(delta, ("new", "resolved"), lambda rule_id: {"cis": cis.get(rule_id, [])})
    controls: dict[str, dict[str, Any]] = {}
    for row in rules:
        for control in row["cis"]:
            entry = controls.setdefault(
                control, {"control": control, "new": 0, "resolved": 0, "rules": []}
            )
            entry["new"] += row["new"]
            entry["resolved"] += row["resolved"]
            entry["rules"].append(row["ruleId"])
    return rules, [controls[c] for c in sorted(controls, key=_control_order)]


def _privileged(inventory: _Inventory) -> dict[tuple[str, str, str], dict[str, Any]]:
    users = inventory.section(USERS) or {}
    names = (
        {str(u.get("id")): u for u in (users.get("items") or []) if isinstance(u, dict)}
        if isinstance(users, dict)
        else {}
    )
    held = {}
    for assignment in inventory.section(ROLE_ASSIGNMENTS) or []:
        role = str(assignment.get("roleDefinitionId", "")).casefold()
        if role not in PRIVILEGED_ROLES:
            continue
        principal = str(assignment.get("principalId", ""))
        scope = str(assignment.get("directoryScopeId") or "/")
        user = names.get(principal, {})
        held[(principal, role, scope)] = {
            "principalId": principal,
            "userPrincipalName": user.get("userPrincipalName"),
            "displayName": user.get("displayName"),
            "role": PRIVILEGED_ROLES[role],
            "roleDefinitionId": role,
            "directoryScopeId": scope,
        }
    return held


def privileged_role_changes(old: _Inventory, new: _Inventory) -> dict[str, Any]:
    before, after = _privileged(old), _privileged(new)
    return {
        "added": [after[k] for k in sorted(after.keys() - before.keys())],
        "removed": [before[k] for k in sorted(before.keys() - after.keys())],
    }


def subscription_facts(
    baseline: ScanSnapshot,
    current: ScanSnapshot,
    options: CompareOptions,
    delta: FindingsDelta,
) -> dict[str, Any]:
    skipped = NotCompared()
    old, new = _Inventory(baseline), _Inventory(current)
    facts: dict[str, Any] = {}
    if old.stored and new.stored:
        facts["resources"] = resource_changes(old, new)
    else:
        facts["resources"] = None
        skipped.note("resources", "the inventory of one of the scans is not stored")
    by_rule, by_control = findings_by_rule_and_control(delta, _cis_of((baseline, current)))
    facts["findingsByRule"] = by_rule
    facts["findingsByCisControl"] = by_control
    if all(s.has(section) for s in (old, new) for section in (ROLE_ASSIGNMENTS, USERS)):
        facts["privilegedRoles"] = privileged_role_changes(old, new)
    else:
        facts["privilegedRoles"] = None
        skipped.note(
            "privilegedRoles", "directory role assignments were not collected by both scans"
        )
    facts["notCompared"] = dict(skipped)
    return facts


SUBSCRIPTION_ROWS = (
    ("resources", "added", "added", "id", "type", None, "type"),
    ("resources", "removed", "removed", "id", "type", "type", None),
    ("privilegedRoles", "added", "added", "principalId", "role", None, "role"),
    ("privilegedRoles", "removed", "removed", "principalId", "role", "role", None),
)


def subscription_rows(facts: dict[str, Any]) -> list[ChangeRow]:
    return rows_from(facts, SUBSCRIPTION_ROWS)
