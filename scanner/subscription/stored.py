"""A scan's stored inventory, as its index describes it: which sections each subscription
has, the tenant's sections, and what could not be collected.

The index (`inventory/index.json`) names one blob per section. A subscription's section blob
holds every scanned subscription's value by subscription id; a tenant section (Microsoft
Graph, OSV results) holds its value as it is. Indexes written before scans covered several
subscriptions (no `layout`) hold one subscription's sections, values as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from scanner.subscription.inventory import Inventory
from scanner.subscription.target import SINGLE

INDEX_LAYOUT = 2


class StoredInventory:
    """Reads one scan's sections through `load` (a blob reference -> its JSON)."""

    def __init__(self, index: Mapping[str, Any], load: Callable[[str], Any]) -> None:
        self.index = index if isinstance(index, Mapping) else {}
        self._load = load
        self.by_subscription = self.index.get("layout") == INDEX_LAYOUT
        self.scope = str(self.index.get("scope") or SINGLE)
        self.subscriptions: list[str] = [str(s) for s in self.index.get("subscriptions") or []]
        self.sections: dict[str, str] = dict(self.index.get("sections") or {})
        self.tenant_sections: dict[str, str] = (
            dict(self.index.get("tenantSections") or {}) if self.by_subscription else {}
        )
        self.tenant_unavailable: dict[str, str] = dict(self.index.get("unavailable") or {})
        self.unavailable_by_subscription: dict[str, dict[str, str]] = {
            str(k): dict(v or {})
            for k, v in (self.index.get("unavailableBySubscription") or {}).items()
        }

    def names(self) -> set[str]:
        return set(self.sections) | set(self.tenant_sections)

    def unavailable(self, subscription: str | None) -> dict[str, str]:
        """What could not be collected, for one subscription or (None) for any."""
        if subscription is not None:
            own = self.unavailable_by_subscription.get(subscription, {})
            return {**self.tenant_unavailable, **own}
        merged = dict(self.tenant_unavailable)
        for own in self.unavailable_by_subscription.values():
            for name, reason in own.items():
                merged.setdefault(name, reason)
        return merged

    def section(self, name: str, subscription: str | None) -> Any:
        """One subscription's value of a section (None: not collected); with None, every
        subscription's rows of a list section, one after the other."""
        if name in self.tenant_sections:
            return self._load(self.tenant_sections[name])
        if name not in self.sections:
            return None
        value = self._load(self.sections[name])
        if not self.by_subscription:
            return value
        if not isinstance(value, Mapping):
            return None
        if subscription is not None:
            return value.get(subscription)
        rows: list[Any] = []
        for part in value.values():
            if isinstance(part, list):
                rows += part
        return rows

    def inventory(self, subscription: str, now: datetime) -> Inventory:
        """What a rule reads about one subscription (and its tenant)."""
        return Inventory(
            load=lambda name: self.section(name, subscription),
            subscription_id=subscription,
            now=now,
            unavailable=self.unavailable(subscription),
        )
