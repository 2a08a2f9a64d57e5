"""A scan's findings report: the engine's own when it makes one for the format (e.g. the
repository engine's traceability matrix), else the common form of scanner.reports; and a
subscription scan's compliance view per framework (e.g. CIS Azure Foundations)."""

from __future__ import annotations

from typing import Any

from orchestrations.scans.exceptions import accepted_items
from orchestrations.scans.kinds import EngineUnavailableError, engine_for
from orchestrations.state.artifacts import BlobArtifactStore
from orchestrations.state.scans import ScanRecord, ScanStore
from scanner.reports import render
from scanner.subscription.compliance import compliance
from scanner.subscription.frameworks import framework, known_frameworks
from scanner.subscription.rules import all_rules

# Target kinds whose findings map to the compliance frameworks.
COMPLIANCE_KINDS = ("subscription",)


class UnknownFrameworkError(ValueError):
    """The framework asked for is not one the service knows."""

    def __init__(self, key: str) -> None:
        self.known = known_frameworks()
        super().__init__(f"unknown framework {key[:64]!r}; known: {', '.join(self.known)}")


class FrameworkNotApplicableError(ValueError):
    """The scan is of a kind whose findings do not map to a compliance framework."""


def report(record: ScanRecord, scans: ScanStore, fmt: str, view: dict[str, Any]) -> tuple[str, str]:
    """(content type, body) of the scan's report in `fmt` (one of scanner.reports.FORMATS);
    findings that exceptions cover are marked accepted and left out of the counts."""
    items = accepted_items(scans.storage, record, scans.items(record.scan_id))
    try:
        own = getattr(engine_for(record.target_type), "report", None)
    except (KeyError, EngineUnavailableError):
        own = None
    if own is not None:
        store = BlobArtifactStore(scans.storage, record.scan_id)
        made: tuple[str, str] | None = own(fmt, view, items, store)
        if made is not None:
            return made
    return render(fmt, view, items)


def compliance_report(
    record: ScanRecord, scans: ScanStore, framework_key: str, view: dict[str, Any]
) -> dict[str, Any]:
    """The scan seen through one framework: per control pass / fail / error / not-applicable /
    not-checked, with the rules that check it and their findings. Findings an active exception
    accepts are counted apart (`excepted`) and fail no control."""
    if framework_key not in known_frameworks():
        raise UnknownFrameworkError(framework_key)
    if record.target_type not in COMPLIANCE_KINDS:
        raise FrameworkNotApplicableError(
            f"scan {record.scan_id} is a {record.target_type} scan; compliance frameworks apply "
            f"to {', '.join(COMPLIANCE_KINDS)} scans"
        )
    items = accepted_items(scans.storage, record, scans.items(record.scan_id))
    document = compliance(
        framework(framework_key),
        items,
        all_rules(),
        excepted=lambda finding: finding.accepted is not None,
    )
    return {"scan": view, **document}
