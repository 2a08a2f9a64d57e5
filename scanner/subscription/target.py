"""What a subscription scan is given: the target's typed configuration, and the engine's names.

A target is one subscription, a list of subscriptions, or a management group (its descendant
subscriptions, found when the scan starts); one scan covers them all.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from scanner.engine import EngineInfo

ENGINE_INFO = EngineInfo("subscription", "Evaluate", "rulesCompleted", "totalRules")

# Subscriptions a registered list may name; a management group may hold more, up to the
# second number (beyond it, register smaller groups).
MAX_SUBSCRIPTION_IDS = 100
MAX_GROUP_SUBSCRIPTIONS = 1000

SINGLE, LIST, MANAGEMENT_GROUP = "subscription", "subscriptions", "managementGroup"


class SubscriptionTarget(BaseModel):
    """A subscription scan's target: one subscription, several, or a management group; and
    the rules to run (all when None)."""

    model_config = ConfigDict(extra="ignore")

    subscription_id: str | None = None
    subscription_ids: list[str] | None = None
    management_group_id: str | None = None
    rules: list[str] | None = None

    def scope(self, fallback: str = "") -> tuple[str, list[str]]:
        """(kind, subscriptions): the management group's are found at scan time (empty
        here); `fallback` is the single subscription when the configuration names none."""
        if self.management_group_id:
            return MANAGEMENT_GROUP, []
        if self.subscription_ids:
            return LIST, [s.lower() for s in self.subscription_ids]
        return SINGLE, [(self.subscription_id or fallback).lower()]
