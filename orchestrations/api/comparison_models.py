"""The answer of GET /api/v1/scans/{scanId}/diff, as models: the OpenAPI schema is generated
from them and the tests hold real answers to them (unknown fields are refused)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from orchestrations.core.models import ApiModel

Value = str | int | float | None
Severity = Literal["critical", "high", "medium", "low", "info"]


class FieldChange(ApiModel):
    """One value that changed: `from` in the baseline, `to` in the scan (null: not set)."""

    field: str
    from_: Value = Field(alias="from")
    to: Value


class FromTo(ApiModel):
    from_: Value = Field(alias="from")
    to: Value


# -- findings -----------------------------------------------------------------------------------


class AcceptedBy(ApiModel):
    """The exception that accepts a finding (see /api/v1/exceptions)."""

    exception_id: str
    reason: str
    owner: str
    expires_at: datetime


class FindingEntry(ApiModel):
    fingerprint: str = Field(description="Stable identity of the finding across scans")
    rule_id: str
    title: str
    severity: Severity
    message: str
    location: dict[str, object]
    accepted: AcceptedBy | None = Field(
        None, description="Set when an active exception accepts the finding"
    )


class FindingCounts(ApiModel):
    new: int
    resolved: int
    unchanged: int


class FindingsBySeverity(ApiModel):
    new: dict[str, int]
    resolved: dict[str, int]
    unchanged: dict[str, int]


class RuleDelta(ApiModel):
    rule_id: str
    title: str
    severity: Severity
    new: int
    resolved: int
    unchanged: int


class FindingsDiff(ApiModel):
    counts: FindingCounts = Field(description="Findings not accepted by an exception")
    accepted: FindingCounts = Field(description="Findings an active exception accepts")
    by_severity: FindingsBySeverity
    by_rule: list[RuleDelta]
    new: list[FindingEntry] = Field(description="In the scan, not in the baseline")
    resolved: list[FindingEntry] = Field(description="In the baseline, not in the scan")
    unchanged: list[FindingEntry] = Field(description="In both (as the scan reports them)")


# -- host facts ---------------------------------------------------------------------------------


class PackageVersion(ApiModel):
    name: str
    arch: str
    version: str


class PackageMove(ApiModel):
    name: str
    arch: str
    from_: str = Field(alias="from")
    to: str


class PackageCounts(ApiModel):
    before: int
    after: int
    added: int
    removed: int
    upgraded: int
    downgraded: int
    changed: int


class PackageDelta(ApiModel):
    counts: PackageCounts
    added: list[PackageVersion]
    removed: list[PackageVersion]
    upgraded: list[PackageMove]
    downgraded: list[PackageMove]
    changed: list[PackageMove] = Field(description="Versions whose order cannot be told")


class ProcessEntry(ApiModel):
    command: str
    user: str | None


class ProcessDelta(ApiModel):
    new: list[ProcessEntry]
    vanished: list[ProcessEntry]


class InterfaceAddress(ApiModel):
    interface: str
    address: str = Field(description="Address with its prefix length, e.g. 10.0.0.5/24")


class InterfaceChange(FieldChange):
    interface: str


class InterfaceDelta(ApiModel):
    added: list[str]
    removed: list[str]
    addresses_added: list[InterfaceAddress]
    addresses_removed: list[InterfaceAddress]
    changed: list[InterfaceChange] = Field(description="state, mac or mtu")


class DiskChange(ApiModel):
    mount: str
    size_bytes: FromTo
    used_bytes: FromTo
    percent: FromTo


class DiskDelta(ApiModel):
    threshold_percent_points: float
    added: list[str]
    removed: list[str]
    changed: list[DiskChange]


class MemoryDelta(ApiModel):
    threshold_percent_points: float
    changed: list[FieldChange] = Field(description="totalBytes, swapTotalBytes or percent")


class Advisory(ApiModel):
    id: str = Field(description="CVE id, else the OSV id")
    package: str
    version: str | None


class VulnerabilityDelta(ApiModel):
    new: list[Advisory]
    resolved: list[Advisory]


class HostFacts(ApiModel):
    system: list[FieldChange] = Field(
        description="os, osVersion, kernel, kernelName, architecture, hostname"
    )
    packages: PackageDelta | None
    processes: ProcessDelta | None
    interfaces: InterfaceDelta | None
    disk: DiskDelta | None
    memory: MemoryDelta | None
    vulnerabilities: VulnerabilityDelta | None
    not_compared: dict[str, str] = Field(description="Fact group -> why it was not compared")


# -- repository facts ---------------------------------------------------------------------------


class CommitEntry(ApiModel):
    sha: str
    time: int = Field(description="Commit time, seconds since the epoch")
    author: str
    subject: str


class CommitsBetween(ApiModel):
    complete: bool
    count: int | None
    items: list[CommitEntry] = Field(description="Newest first")
    note: str | None


class ArtifactSummary(ApiModel):
    id: str
    type: str | None
    path: str
    title: str
    status: str | None
    validation_status: str | None


class ArtifactChange(ArtifactSummary):
    changes: list[FieldChange]


class ArtifactCounts(ApiModel):
    before: int
    after: int
    added: int
    removed: int
    changed: int


class ArtifactDelta(ApiModel):
    counts: ArtifactCounts
    added: list[ArtifactSummary]
    removed: list[ArtifactSummary]
    changed: list[ArtifactChange]


class TraceLink(ApiModel):
    from_: str = Field(alias="from", description="The linking document")
    to: str = Field(description="The document it names")
    kind: Literal["parent", "specification"]


class LinkDelta(ApiModel):
    added: list[TraceLink]
    removed: list[TraceLink]


class RepositoryFacts(ApiModel):
    commit: FromTo
    commits: CommitsBetween | None
    artifacts: ArtifactDelta | None
    links: LinkDelta | None
    not_compared: dict[str, str]


# -- subscription facts -------------------------------------------------------------------------


class ResourceEntry(ApiModel):
    id: str
    type: str
    name: str | None
    location: str | None


class ResourceCounts(ApiModel):
    before: int
    after: int
    added: int
    removed: int


class ResourceDelta(ApiModel):
    counts: ResourceCounts
    added: list[ResourceEntry]
    removed: list[ResourceEntry]
    types_compared: list[str]
    types_not_compared: list[str] = Field(description="Collected by one of the scans only")


class RuleChange(ApiModel):
    rule_id: str
    title: str
    severity: Severity
    cis: list[str]
    new: int
    resolved: int


class ControlChange(ApiModel):
    control: str
    new: int
    resolved: int
    rules: list[str]


class RoleHolder(ApiModel):
    principal_id: str
    user_principal_name: str | None
    display_name: str | None
    role: str
    role_definition_id: str
    directory_scope_id: str


class RoleDelta(ApiModel):
    added: list[RoleHolder]
    removed: list[RoleHolder]


class SubscriptionFacts(ApiModel):
    resources: ResourceDelta | None
    findings_by_rule: list[RuleChange]
    findings_by_cis_control: list[ControlChange]
    privileged_roles: RoleDelta | None
    not_compared: dict[str, str]


# -- the answer ---------------------------------------------------------------------------------


class ScanRef(ApiModel):
    scan_id: str
    completed_at: datetime | None


class ScanComparison(ApiModel):
    """What changed from `baseline` to `scan`. `baseline` is null when the target has no
    earlier completed scan: then every finding is new and `facts` is null."""

    scan_id: str
    target_type: str
    target_id: str
    against: str = Field(description='"previous" or the baseline scan id asked for')
    scan: ScanRef
    baseline: ScanRef | None
    findings: FindingsDiff
    facts: HostFacts | RepositoryFacts | SubscriptionFacts | None = Field(
        description="Per target type; null without a baseline or for other target types"
    )
