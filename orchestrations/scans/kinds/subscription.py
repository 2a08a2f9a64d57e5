"""Azure subscriptions: one subscription, a list of them, or a management group is one target.

Target ids: a single subscription's is its id (lower case); a list's is
`subscriptions-<12 hex digits>` (a hash of its sorted ids, so the same set is the same target
in any order); a management group's is `mg-<group id>` (lower case, as ARM ignores case).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from orchestrations.core.models import (
    GUID_PATTERN,
    ApiModel,
    Schedulable,
    validate_rule_ids,
)
from orchestrations.core.settings import AppSettings
from orchestrations.scans.kinds.base import TargetKind
from orchestrations.state.targets import TargetRecord
from scanner.engine import ScanEngine
from scanner.subscription.target import (
    ENGINE_INFO,
    MAX_SUBSCRIPTION_IDS,
    SubscriptionTarget,
)

# Azure's rule for management group ids: up to 90 letters, digits, `-`, `_`, `(`, `)`, `.`,
# not ending with a period.
MANAGEMENT_GROUP_PATTERN = r"^[A-Za-z0-9_().-]{0,89}[A-Za-z0-9_()-]$"
SCOPE_FIELDS = ("subscriptionId", "subscriptionIds", "managementGroupId")

Guid = Annotated[str, Field(pattern=GUID_PATTERN)]


def _lower(value: str | None) -> str | None:
    return value.lower() if value is not None else None


def _distinct(value: list[str] | None) -> list[str] | None:
    """Lower case, duplicates dropped, first spelling's order kept."""
    if value is None:
        return None
    return list(dict.fromkeys(v.lower() for v in value))


def list_target_id(subscription_ids: list[str]) -> str:
    digest = hashlib.sha256("\n".join(sorted(subscription_ids)).encode()).hexdigest()
    return f"subscriptions-{digest[:12]}"


def group_target_id(group_id: str) -> str:
    return f"mg-{group_id.lower()}"


class SubscriptionScope(ApiModel):
    """What a subscription target covers: exactly one of a subscription, a list of them (at
    most 100, duplicates dropped) or a management group (its descendant subscriptions)."""

    subscription_id: str | None = Field(
        None, pattern=GUID_PATTERN, description="One subscription: the target id is this GUID."
    )
    subscription_ids: list[Guid] | None = Field(
        None,
        min_length=1,
        max_length=MAX_SUBSCRIPTION_IDS,
        description="Several subscriptions scanned as one target (duplicates dropped; a list "
        "of one is that subscription): target id `subscriptions-<12 hex digits>`, a hash of "
        "the sorted ids.",
    )
    management_group_id: str | None = Field(
        None,
        pattern=MANAGEMENT_GROUP_PATTERN,
        description="A management group: every subscription under it, listed again when each "
        "scan starts. Target id `mg-<group id, lower case>`.",
    )

    _subscription = field_validator("subscription_id")(_lower)
    _subscriptions = field_validator("subscription_ids")(_distinct)

    @model_validator(mode="after")
    def _exactly_one(self) -> Any:
        given = [
            name
            for name, value in zip(
                SCOPE_FIELDS,
                (self.subscription_id, self.subscription_ids, self.management_group_id),
                strict=True,
            )
            if value is not None
        ]
        if len(given) != 1:
            named = ", ".join(given) if given else "none"
            raise ValueError(
                "name exactly one of subscriptionId, subscriptionIds or managementGroupId "
                f"(given: {named})"
            )
        if self.subscription_ids is not None and len(self.subscription_ids) == 1:
            # A list of one is that subscription: the same target, the same id.
            self.subscription_id, self.subscription_ids = self.subscription_ids[0], None
        return self

    def scope_id(self) -> str:
        if self.management_group_id is not None:
            return group_target_id(self.management_group_id)
        if self.subscription_ids is not None:
            return list_target_id(self.subscription_ids)
        return str(self.subscription_id)


class SubscriptionScanRequest(SubscriptionScope):
    """A scan of subscriptions: exactly one of subscriptionId, subscriptionIds or
    managementGroupId. Subscriptions the identity cannot read are set aside with the reason
    (the scan fails only when none can be read)."""

    target_type: Literal["subscription"] = "subscription"
    rules: list[str] | None = Field(None, max_length=500)

    _rules = field_validator("rules")(validate_rule_ids)


class SubscriptionIn(SubscriptionScope, Schedulable):
    """A subscription target: exactly one of subscriptionId, subscriptionIds or
    managementGroupId (what it covers never changes; register another target instead)."""

    name: str | None = Field(None, min_length=1, max_length=200)
    rules: list[str] | None = Field(None, max_length=500)


class SubscriptionUpdate(Schedulable):
    name: str | None = Field(None, min_length=1, max_length=200)
    rules: list[str] | None = Field(None, max_length=500)


class SubscriptionKind(TargetKind):
    name, plural, info = "subscription", "subscriptions", ENGINE_INFO
    trigger_model, target_model = SubscriptionScanRequest, SubscriptionTarget
    registration_model, update_model = SubscriptionIn, SubscriptionUpdate
    # A tenant's inventory is held in memory while its rules run: one at a time per two cores.
    scans_per_core = 0.5

    def target_id(self, request: Any) -> str:
        return str(request.scope_id())

    def display_name(self, registration: Any) -> str:
        if registration.name:
            return str(registration.name)
        if registration.management_group_id is not None:
            return f"Management group {registration.management_group_id}"
        if registration.subscription_ids is not None:
            return f"{len(registration.subscription_ids)} subscriptions"
        return str(registration.subscription_id)

    def request_for(self, registered: TargetRecord) -> ApiModel:
        config = registered.config
        scope = {
            "subscription_ids": config.get("subscription_ids"),
            "management_group_id": config.get("management_group_id"),
        }
        if not any(scope.values()):
            scope = {"subscription_id": config.get("subscription_id") or registered.target_id}
        return SubscriptionScanRequest(
            **{k: v for k, v in scope.items() if v is not None}, rules=config.get("rules")
        )

    def engine(self, settings: AppSettings) -> ScanEngine:
        from orchestrations.engines.subscriptions import create_engine

        return create_engine(settings)
