"""The protocol every scan engine implements: plan -> run(item) -> summarize.

The three steps map onto the orchestration: `plan` runs once (collect, discover, parse),
`run` once per work item (fanned out through activities, possibly on different workers),
`summarize` once at the end. Engines are pure domain code; everything they need from the
platform (large-data storage, settings) is handed to them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scanner.fingerprint import fingerprint

Severity = Literal["critical", "high", "medium", "low", "info"]
ItemStatus = Literal["passed", "failed", "error", "skipped"]


class ScanError(Exception):
    """A scan cannot go on; the scan ends `failed` with this message. Not retried."""


class TransientScanError(ScanError):
    """A failure worth retrying (network blip, throttling, storage timeout)."""


class ScanCancelledError(ScanError):
    """The scan was cancelled while an item ran."""


@dataclass(frozen=True)
class EngineInfo:
    """What the service needs of an engine before building it: the phase shown while items run
    (e.g. "Evaluate", "Collect") and the names of its completed/total item counters."""

    target_type: str
    run_phase: str
    completed_counter: str
    total_counter: str


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScanTarget(_Model):
    """What is scanned: kind, stable id and the kind-specific settings (never credentials)."""

    target_type: str
    target_id: str
    config: dict[str, Any] = Field(default_factory=dict)


class WorkItem(_Model):
    """One unit of fan-out: a rule, an SSH command, ..."""

    item_id: str
    title: str = ""
    params: dict[str, Any] = Field(default_factory=dict)


class Acceptance(_Model):
    """Why a finding is accepted: the exception (scanner/mutelist.py) that covers it. Never
    stored with the finding: it is worked out whenever findings are read, so an exception that
    expires or is deleted stops covering at once."""

    exception_id: str
    reason: str
    owner: str
    expires_at: datetime


class Finding(_Model):
    """Something a rule found; `location` is whatever locates it (file/line, resource id).

    `fingerprint` is the finding's stable identity across scans (scanner/fingerprint.py): always
    derived from the rule id and the location, so every engine's findings have one and findings
    stored before a change of the rules are compared by the rules of today.
    """

    rule_id: str
    title: str
    severity: Severity = "medium"
    message: str
    location: dict[str, Any] = Field(default_factory=dict)
    remediation: str = ""
    references: list[str] = Field(default_factory=list)
    fingerprint: str = ""
    accepted: Acceptance | None = None

    @model_validator(mode="after")
    def _identify(self) -> Finding:
        self.fingerprint = fingerprint(self.rule_id, self.location)
        return self


class ItemResult(_Model):
    """The outcome of one work item. `error` with status "error" is a soft failure: the scan
    still completes (partial results); raise ScanError instead to fail the scan."""

    item_id: str
    status: ItemStatus
    title: str = ""
    findings: list[Finding] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    duration_ms: int = 0


class Plan(_Model):
    """What `plan` decided: the items to run and a small context every item receives.

    `context` must stay small (it travels through orchestration history); put large data
    in the artifact store and keep its reference here. `counters` are shown on the scan
    (e.g. artifactsFound).
    """

    items: list[WorkItem]
    context: dict[str, Any] = Field(default_factory=dict)
    counters: dict[str, int] = Field(default_factory=dict)


class Summary(_Model):
    """The scan's end: `results` is what the scan status shows when done."""

    results: dict[str, Any] = Field(default_factory=dict)
    counters: dict[str, int] = Field(default_factory=dict)
    error: str | None = None  # set: the scan ends failed, results kept


class ArtifactStore(Protocol):
    """Large data by reference (Blob Storage in the service)."""

    def put_json(self, name: str, value: Any) -> str: ...

    def get_json(self, ref: str) -> Any: ...


ProgressCallback = Callable[[str, str | None], None]  # (phase, step)
Context = dict[str, Any]  # what a plan hands every item (small: it travels through history)


@runtime_checkable
class ScanEngine(Protocol):
    """A scan engine for one target type."""

    target_type: str
    # Phase shown while items run (e.g. "Evaluate", "Collect"), and the counter names used
    # for completed/total items (e.g. "rulesCompleted"/"totalRules").
    run_phase: str
    completed_counter: str
    total_counter: str

    def plan(
        self, target: ScanTarget, store: ArtifactStore, progress: ProgressCallback
    ) -> Plan: ...

    def run(
        self, target: ScanTarget, item: WorkItem, context: Context, store: ArtifactStore
    ) -> ItemResult: ...

    def summarize(
        self, target: ScanTarget, context: Context, results: list[ItemResult], store: ArtifactStore
    ) -> Summary: ...


class Engine:
    """Base of the engines: a subclass sets `info`; its names become the protocol's attributes
    (target_type, run_phase, completed_counter, total_counter)."""

    info: ClassVar[EngineInfo]
    target_type: str
    run_phase: str
    completed_counter: str
    total_counter: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        info = cls.__dict__.get("info")
        if info is not None:
            for name, value in dataclasses.asdict(info).items():
                setattr(cls, name, value)


# Optional, not part of the protocol check: an engine may define
#   report(fmt, scan: dict, items: list[ItemResult], store: ArtifactStore) -> (content_type, body)
# returning None for formats it leaves to scanner.reports (json, sarif, csv, html).
