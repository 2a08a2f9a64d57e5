"""Azure subscriptions: the subscription id (lower case) is the target id."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

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
from scanner.subscription.target import ENGINE_INFO, SubscriptionTarget


def _lower(value: str) -> str:
    return value.lower()


class SubscriptionScanRequest(ApiModel):
    target_type: Literal["subscription"] = "subscription"
    subscription_id: str = Field(pattern=GUID_PATTERN)
    rules: list[str] | None = Field(None, max_length=500)

    _subscription = field_validator("subscription_id")(_lower)
    _rules = field_validator("rules")(validate_rule_ids)


class SubscriptionIn(Schedulable):
    subscription_id: str = Field(pattern=GUID_PATTERN)
    name: str | None = Field(None, min_length=1, max_length=200)
    rules: list[str] | None = Field(None, max_length=500)

    _subscription = field_validator("subscription_id")(_lower)


class SubscriptionUpdate(Schedulable):
    name: str | None = Field(None, min_length=1, max_length=200)
    rules: list[str] | None = Field(None, max_length=500)


class SubscriptionKind(TargetKind):
    name, plural, info = "subscription", "subscriptions", ENGINE_INFO
    trigger_model, target_model = SubscriptionScanRequest, SubscriptionTarget
    registration_model, update_model = SubscriptionIn, SubscriptionUpdate

    def target_id(self, request: Any) -> str:
        return str(request.subscription_id).lower()

    def request_for(self, registered: TargetRecord) -> ApiModel:
        return SubscriptionScanRequest(
            subscription_id=registered.target_id, rules=registered.config.get("rules")
        )

    def engine(self, settings: AppSettings) -> ScanEngine:
        from orchestrations.engines.subscriptions import create_engine

        return create_engine(settings)
