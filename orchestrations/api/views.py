"""What the API shows of scans and targets, built from their stored records."""

from __future__ import annotations

from typing import Any

from pydantic.alias_generators import to_camel

from orchestrations.api.http import ApiError, base_url
from orchestrations.api.models import ItemSummary, ScanAccepted, ScanStatus, TargetOut
from orchestrations.core import lifecycle
from orchestrations.state.scans import ScanRecord, ScanStore
from orchestrations.state.stores import Stores
from orchestrations.state.targets import TargetRecord

POLL_MESSAGE = "Scan initiated. Poll /api/v1/scans/{scanId} for status."
# Shown as they are stored.
_SCAN_FIELDS = (
    "scan_id",
    "target_type",
    "target_id",
    "status",
    "trigger",
    "instance_id",
    "created_at",
    "started_at",
    "completed_at",
    "error_message",
)
_TARGET_FIELDS = (
    "target_type",
    "name",
    "schedule",
    "created_at",
    "updated_at",
    "last_scanned_at",
    "last_scan_id",
    "last_status",
)


def existing_scan(req: Any, stores: Stores) -> ScanRecord:
    """The scan the route names (`scanId`), or a 404."""
    scan_id = req.route_params.get("scanId", "")
    record = stores.scans.get(scan_id)
    if record is None:
        raise ApiError(404, "scan_not_found", f"no scan with id {scan_id[:64]!r}")
    return record


def scan_status(record: ScanRecord, scans: ScanStore, with_items: bool) -> ScanStatus:
    """The API view of a scan; progress while items run comes from the item rows."""
    counters = dict(record.counters)
    progress = record.progress
    if (
        record.status == lifecycle.RUNNING
        and record.phase == record.run_phase
        and record.total_items
    ):
        done = min(scans.count_items(record.scan_id), record.total_items)
        counters[record.completed_counter] = done
        counters[record.total_counter] = record.total_items
        progress = max(progress, lifecycle.run_progress(done, record.total_items))
    if record.status == lifecycle.COMPLETED:
        progress = lifecycle.DONE_PROGRESS
    extra: dict[str, Any] = {k: v for k, v in counters.items() if k not in ScanStatus.model_fields}
    if record.target_type == "repository":
        extra["repositoryId"] = record.target_id
    ended = record.status in lifecycle.TERMINAL
    items = None
    if with_items and ended:
        items = [
            ItemSummary(
                item_id=i.item_id,
                title=i.title,
                status=i.status,
                findings=len(i.findings),
                error=i.error,
                duration_ms=i.duration_ms,
            )
            for i in sorted(scans.items(record.scan_id), key=lambda item: item.item_id)
        ]
    results = record.results if isinstance(record.results, dict) else None
    shown = {name: getattr(record, name) for name in _SCAN_FIELDS}
    return ScanStatus(
        id=record.scan_id,
        progress=min(progress, lifecycle.DONE_PROGRESS),
        current_phase=record.phase,
        current_step=record.step,
        counters=counters,
        results=results if ended else None,
        items=items,
        **shown,
        **extra,
    )


def accepted(req: Any, record: ScanRecord) -> ScanAccepted:
    url = f"{base_url(req)}/api/v1/scans/{record.scan_id}"
    return ScanAccepted(
        scan_id=record.scan_id,
        status=record.status,
        target_type=record.target_type,
        target_id=record.target_id,
        status_url=url,
        status_query_get_uri=url,
        message=POLL_MESSAGE.replace("{scanId}", record.scan_id),
    )


def _camel_keys(value: Any) -> Any:
    """Nested settings (e.g. a host's jump hosts) in the API's spelling, unset fields left out."""
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    if isinstance(value, dict):
        return {to_camel(k): _camel_keys(v) for k, v in value.items() if v is not None}
    return value


def target_view(record: TargetRecord) -> TargetOut:
    """A registered target; its kind-specific settings appear as top-level fields."""
    config = {to_camel(k): _camel_keys(v) for k, v in record.config.items()}
    for reserved in TargetOut.model_fields:
        config.pop(to_camel(reserved), None)
    shown = {name: getattr(record, name) for name in _TARGET_FIELDS}
    return TargetOut(id=record.target_id, **shown, **config)
