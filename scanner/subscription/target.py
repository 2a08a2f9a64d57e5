"""What a subscription scan is given: the target's typed configuration, and the engine's names."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from scanner.engine import EngineInfo

ENGINE_INFO = EngineInfo("subscription", "Evaluate", "rulesCompleted", "totalRules")


class SubscriptionTarget(BaseModel):
    """A subscription scan's target: the subscription, and the rules to run (all when None)."""

    model_config = ConfigDict(extra="ignore")

    subscription_id: str
    rules: list[str] | None = None
