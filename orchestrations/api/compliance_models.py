"""The answer of GET /api/v1/scans/{scanId}/report?framework=..., as models: the OpenAPI schema is
generated from them and the tests hold real answers to them (unknown fields are refused)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from orchestrations.api.models import ScanStatus
from orchestrations.core.models import ApiModel

ControlStatus = Literal["pass", "fail", "error", "not-applicable", "not-checked"]


class FrameworkInfo(ApiModel):
    key: str
    name: str
    version: str
    title: str


class ComplianceTotals(ApiModel):
    """Controls per status; `checked` is every control but the not-checked ones."""

    controls: int
    pass_: int = Field(alias="pass")
    fail: int
    error: int
    not_applicable: int
    not_checked: int
    checked: int


class FrameworkSection(ApiModel):
    id: str
    title: str


class ControlResource(ApiModel):
    """One finding of a rule: the resource or object it is about."""

    resource_id: str | None
    name: str | None
    message: str
    severity: str
    fingerprint: str


class ControlRule(ApiModel):
    """A rule that checks the control, as it ran in this scan (`not-run`: it did not)."""

    rule_id: str
    title: str
    severity: str | None
    status: Literal["passed", "failed", "error", "skipped", "not-run"]
    evaluated: int | None
    findings: int
    excepted: int
    resources: list[ControlResource]
    error: str | None = None


class ComplianceControl(ApiModel):
    id: str
    section: str
    title: str
    level: int
    assessment: Literal["automated", "manual"]
    status: ControlStatus
    reason: str | None
    findings: int
    rules: list[ControlRule]


class ComplianceReport(ApiModel):
    """A subscription scan through a compliance framework, control by control."""

    scan: ScanStatus
    framework: FrameworkInfo
    totals: ComplianceTotals
    sections: list[FrameworkSection]
    controls: list[ComplianceControl]
