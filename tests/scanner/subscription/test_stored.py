"""How a scan's inventory is shared out among its subscriptions and read back: Resource Graph
rows by the subscription they name, sections by subscription, the tenant's once, and indexes
written before scans covered several subscriptions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from scanner.subscription import inventory as inv
from scanner.subscription.collect.inventory import share_out, subscription_of
from scanner.subscription.stored import INDEX_LAYOUT, StoredInventory

A, B = "5e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b", "6f2a3b4c-5d6e-4f70-9a0b-1c2d3e4f5a6b"
STORAGE = inv.resources("microsoft.storage/storageaccounts")


def test_rows_go_to_the_subscription_they_name() -> None:
    named = {"id": "x", "subscriptionId": A.upper()}
    by_id = {"id": f"/subscriptions/{B}/providers/Microsoft.Security/pricings/Arm"}
    above = {
        "id": "/providers/Microsoft.Management/managementGroups/g/providers/x/roleDefinitions/r"
    }
    assert [subscription_of(r) for r in (named, by_id, above)] == [A, B, ""]
    shared = share_out([named, by_id, above], [A, B])
    # A row above the subscriptions (a role defined on a management group) concerns both.
    assert shared == {A: [named, above], B: [by_id, above]}
    # One subscription takes every row its query returned, whatever the row says.
    assert share_out([named, by_id], [B]) == {B: [named, by_id]}


def blobs() -> dict[str, Any]:
    return {
        "storage": {A: [{"id": "a1"}], B: [{"id": "b1"}, {"id": "b2"}]},
        "users": {"items": [{"id": "u1"}]},
        "legacy-storage": [{"id": "only"}],
    }


def test_sections_are_read_per_subscription_and_the_tenants_once() -> None:
    stored = StoredInventory(
        {
            "layout": INDEX_LAYOUT,
            "scope": "subscriptions",
            "subscriptions": [A, B],
            "sections": {STORAGE: "storage"},
            "tenantSections": {inv.USERS: "users"},
            "unavailable": {inv.CONDITIONAL_ACCESS: "403 (licence)"},
            "unavailableBySubscription": {A: {}, B: {inv.DEFENDER_PLANS: "403"}},
        },
        blobs().__getitem__,
    )
    assert stored.subscriptions == [A, B] and stored.scope == "subscriptions"
    assert stored.section(STORAGE, A) == [{"id": "a1"}]
    assert stored.section(STORAGE, None) == [{"id": "a1"}, {"id": "b1"}, {"id": "b2"}]
    assert stored.section(inv.USERS, B) == {"items": [{"id": "u1"}]}
    assert stored.section(inv.WEB_CONFIGS, A) is None  # not collected
    assert stored.unavailable(A) == {inv.CONDITIONAL_ACCESS: "403 (licence)"}
    assert stored.unavailable(None) == {
        inv.CONDITIONAL_ACCESS: "403 (licence)",
        inv.DEFENDER_PLANS: "403",
    }

    now = datetime(2026, 1, 1, tzinfo=UTC)
    second = stored.inventory(B, now)
    assert second.subscription_id == B and second.now == now
    assert [r["id"] for r in second.resources("microsoft.storage/storageaccounts")] == ["b1", "b2"]
    with pytest.raises(inv.DataUnavailableError, match="403"):
        second.section(inv.DEFENDER_PLANS)
    assert stored.inventory(A, now).section(inv.DEFENDER_PLANS) is None  # collected: empty


def test_an_index_from_before_several_subscriptions_reads_as_it_did() -> None:
    stored = StoredInventory(
        {"sections": {STORAGE: "legacy-storage", inv.USERS: "users"}, "unavailable": {}},
        blobs().__getitem__,
    )
    assert stored.scope == "subscription" and stored.subscriptions == []
    assert stored.section(STORAGE, A) == [{"id": "only"}]
    assert stored.section(STORAGE, None) == [{"id": "only"}]
    assert stored.section(inv.USERS, None) == {"items": [{"id": "u1"}]}
