"""Request bodies and answers of the HTTP API (the target kinds' own request models live with
the kinds): camelCase out, camelCase or snake_case in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field
from pydantic.alias_generators import to_camel

from orchestrations.core.models import COMMIT_PATTERN, GUID_PATTERN, ApiModel

# -- errors ------------------------------------------------------------------------------------


class ErrorBody(ApiModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorResponse(ApiModel):
    error: ErrorBody
    active_scan_id: str | None = None  # 409: the scan of that target that is running
    required_role: Literal["reader", "operator", "admin"] | None = None  # 403: what it needs
    role: Literal["reader", "operator", "admin"] | None = None  # 403: what the caller has


# -- scan triggers ------------------------------------------------------------------------------


class RepositoryScanTrigger(ApiModel):
    """Body of POST /api/v1/repositories/{id}/scan."""

    commit_sha: str | None = Field(None, pattern=COMMIT_PATTERN)


class SubscriptionTrigger(ApiModel):
    """Body of POST /api/scans/trigger; empty: the configured subscriptions."""

    subscription_id: str | None = Field(None, pattern=GUID_PATTERN)
    rules: list[str] | None = Field(None, max_length=500)


class ScanAccepted(ApiModel):
    scan_id: str
    status: str
    target_type: str
    target_id: str
    status_url: str
    status_query_get_uri: str
    message: str


class ScanAcceptedList(ScanAccepted):
    scans: list[ScanAccepted]


# -- scan status --------------------------------------------------------------------------------


class ItemSummary(ApiModel):
    item_id: str
    title: str
    status: str
    findings: int
    error: str | None = None
    duration_ms: int


class ScanStatus(ApiModel):
    """One scan. Engine counters (e.g. rulesCompleted, totalRules, artifactsFound) appear
    both in `counters` and as top-level fields."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    id: str
    scan_id: str
    target_type: str
    target_id: str
    status: Literal["pending", "running", "completed", "failed", "cancelled"]
    progress: int = Field(ge=0, le=100)
    current_phase: str
    current_step: str | None = None
    counters: dict[str, int]
    trigger: str
    instance_id: str
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error_message: str | None = None
    results: dict[str, Any] | None = None
    items: list[ItemSummary] | None = None


class ScanList(ApiModel):
    items: list[ScanStatus]
    continuation_token: str | None = None


# -- targets registry ---------------------------------------------------------------------------


class TargetOut(ApiModel):
    """A registered target; its kind-specific settings appear as top-level fields."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    id: str
    target_type: str
    name: str
    schedule: str | None = None
    created_at: datetime
    updated_at: datetime
    last_scanned_at: datetime | None = None
    last_scan_id: str | None = None
    last_status: str | None = None


class TargetList(ApiModel):
    items: list[TargetOut]
    continuation_token: str | None = None


class Health(ApiModel):
    status: str
    service: str
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
