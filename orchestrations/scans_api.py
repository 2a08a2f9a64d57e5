"""HTTP API for scans: trigger, status, list, cancel, report (and the seeds' routes)."""

from __future__ import annotations

import asyncio
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from orchestrations.api_common import (
    ApiError,
    api_endpoint,
    base_url,
    decode_token,
    encode_token,
    json_body,
    json_response,
    parse,
    query_int,
)
from orchestrations.api_models import (
    ItemSummary,
    RepositoryScanRequest,
    RepositoryScanTrigger,
    ScanAccepted,
    ScanAcceptedList,
    ScanList,
    ScanStatus,
    SubscriptionScanRequest,
    SubscriptionTrigger,
)
from orchestrations.artifacts import BlobArtifactStore
from orchestrations.scan_activities import engine_for
from orchestrations.scan_service import (
    ScanConflictError,
    ScanFinishedError,
    ScanNotFoundError,
    ScanStartError,
    Stores,
    cancel_scan,
    start_scan,
)
from orchestrations.scan_store import (
    COMPLETED,
    RUNNING,
    STATUSES,
    TERMINAL,
    ScanRecord,
    ScanStore,
    run_progress,
)
from orchestrations.settings import get_settings
from orchestrations.target_kinds import (
    KINDS,
    EngineUnavailableError,
    InvalidTargetError,
    TargetKind,
    TargetNotFoundError,
    infer_target_type,
)
from scanner.engine import ItemResult
from scanner.reports import FORMATS, render

bp = df.Blueprint()
ANON = func.AuthLevel.ANONYMOUS
POLL_MESSAGE = "Scan initiated. Poll /api/v1/scans/{scanId} for status."


def _item_id(item: ItemResult) -> str:
    return item.item_id


# -- views ------------------------------------------------------------------------------------


def scan_status(record: ScanRecord, scans: ScanStore, with_items: bool) -> ScanStatus:
    """The API view of a scan; progress while items run comes from the item rows."""
    counters = dict(record.counters)
    progress = record.progress
    if record.status == RUNNING and record.phase == record.run_phase and record.total_items:
        done = min(scans.count_items(record.scan_id), record.total_items)
        counters[record.completed_counter] = done
        counters[record.total_counter] = record.total_items
        progress = max(progress, run_progress(done, record.total_items))
    if record.status == COMPLETED:
        progress = 100
    extra: dict[str, Any] = {k: v for k, v in counters.items() if k not in ScanStatus.model_fields}
    if record.target_type == "repository":
        extra["repositoryId"] = record.target_id
    items = None
    if with_items and record.status in TERMINAL:
        items = [
            ItemSummary(
                item_id=i.item_id,
                title=i.title,
                status=i.status,
                findings=len(i.findings),
                error=i.error,
                duration_ms=i.duration_ms,
            )
            for i in sorted(scans.items(record.scan_id), key=_item_id)
        ]
    results = record.results if isinstance(record.results, dict) else None
    return ScanStatus(
        id=record.scan_id,
        scan_id=record.scan_id,
        target_type=record.target_type,
        target_id=record.target_id,
        status=record.status,
        progress=min(progress, 100),
        current_phase=record.phase,
        current_step=record.step,
        counters=counters,
        trigger=record.trigger,
        instance_id=record.instance_id,
        created_at=record.created_at,
        started_at=record.started_at,
        completed_at=record.completed_at,
        error_message=record.error_message,
        results=results if record.status in TERMINAL else None,
        items=items,
        **extra,
    )


def engine_report(
    record: ScanRecord, fmt: str, view: dict[str, Any], items: list[ItemResult], store: Any
) -> tuple[str, str] | None:
    """The engine's own report in `fmt`, when its engine has a `report` method that makes one."""
    try:
        engine = engine_for(record.target_type)
    except (KeyError, EngineUnavailableError):
        return None
    report = getattr(engine, "report", None)
    if report is None:
        return None
    result: tuple[str, str] | None = report(fmt, view, items, store)
    return result


def accepted(req: func.HttpRequest, record: ScanRecord) -> ScanAccepted:
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


async def start(client: Any, kind: TargetKind, request: Any, trigger: str = "api") -> ScanRecord:
    """Start a scan, mapping each failure to its API error."""
    try:
        return await start_scan(client, get_settings(), kind, request, trigger)
    except ScanConflictError as exc:
        raise ApiError(409, "scan_active", str(exc), activeScanId=exc.active_scan_id) from exc
    except TargetNotFoundError as exc:
        raise ApiError(404, "target_not_found", str(exc)) from exc
    except (EngineUnavailableError, InvalidTargetError) as exc:
        raise ApiError(422, "target_not_scannable", str(exc)) from exc
    except ScanStartError as exc:
        raise ApiError(503, "scan_not_started", str(exc)) from exc


def accepted_response(req: func.HttpRequest, body: ScanAccepted) -> func.HttpResponse:
    return json_response(body, 202, {"Location": body.status_url})


# -- triggers ---------------------------------------------------------------------------------


@bp.route(route="v1/scans", methods=["POST"], auth_level=ANON)
@bp.durable_client_input(client_name="client")
@api_endpoint()
async def trigger_scan(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """POST /api/v1/scans: start a scan of any target kind."""
    body = json_body(req)
    kind_name = infer_target_type(body)
    kind = KINDS.get(str(kind_name)) if kind_name is not None else None
    if kind is None:
        known = ", ".join(sorted(KINDS))
        raise ApiError(
            422,
            "validation_failed",
            f"targetType must be one of: {known}",
            [{"field": "targetType", "message": f"one of {known}", "type": "enum"}],
        )
    fields = {k: v for k, v in body.items() if k not in ("targetType", "target_type")}
    request = parse(kind.trigger_model, {**fields, "targetType": kind.name})
    record = await start(client, kind, request)
    return accepted_response(req, accepted(req, record))


@bp.route(route="v1/repositories/{repositoryId}/scan", methods=["POST"], auth_level=ANON)
@bp.durable_client_input(client_name="client")
@api_endpoint()
async def trigger_repository_scan(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Seed 000: POST /api/v1/repositories/{id}/scan with an optional commitSha."""
    trigger = parse(RepositoryScanTrigger, json_body(req, required=False))
    repository_id = req.route_params.get("repositoryId", "")
    request = parse(
        RepositoryScanRequest,
        {"repositoryId": repository_id, "commitSha": trigger.commit_sha},
    )
    record = await start(client, KINDS["repository"], request)
    return accepted_response(req, accepted(req, record))


@bp.route(route="scans/trigger", methods=["POST"], auth_level=ANON)
@bp.durable_client_input(client_name="client")
@api_endpoint()
async def trigger_subscription_scans(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Seed 001: scan the given subscription, or every configured default subscription."""
    trigger = parse(SubscriptionTrigger, json_body(req, required=False))
    subscriptions = (
        [trigger.subscription_id]
        if trigger.subscription_id
        else get_settings().default_subscriptions
    )
    if not subscriptions:
        raise ApiError(
            422,
            "validation_failed",
            "no subscriptionId given and SCAN_SUBSCRIPTION_IDS is empty",
            [{"field": "subscriptionId", "message": "required", "type": "missing"}],
        )
    started: list[ScanAccepted] = []
    conflict: ApiError | None = None
    for subscription in subscriptions:
        request = parse(
            SubscriptionScanRequest, {"subscriptionId": subscription, "rules": trigger.rules}
        )
        try:
            record = await start(client, KINDS["subscription"], request)
        except ApiError as exc:
            if exc.status != 409 or len(subscriptions) == 1:
                raise
            conflict = exc
            continue
        started.append(accepted(req, record))
    if not started:
        assert conflict is not None
        raise conflict
    first = started[0]
    return json_response(
        ScanAcceptedList(**first.model_dump(), scans=started), 202, {"Location": first.status_url}
    )


# -- reading ----------------------------------------------------------------------------------


def _get_scan(req: func.HttpRequest) -> func.HttpResponse:
    stores = Stores.of(get_settings())
    scan_id = req.route_params.get("scanId", "")
    record = stores.scans.get(scan_id)
    if record is None:
        raise ApiError(404, "scan_not_found", f"no scan with id {scan_id[:64]!r}")
    include = {part.strip() for part in (req.params.get("include") or "").split(",")}
    if not include <= {"", "items"}:
        raise ApiError(400, "invalid_parameter", "include may only name: items")
    # Per-item results cost one more storage query: only when asked for.
    return json_response(scan_status(record, stores.scans, with_items="items" in include))


@bp.route(route="v1/scans/{scanId}", methods=["GET"], auth_level=ANON)
@api_endpoint()
def get_scan(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/v1/scans/{scanId}: status, progress, phase, counters; results when done."""
    return _get_scan(req)


@bp.route(route="scans/{scanId}", methods=["GET"], auth_level=ANON)
@api_endpoint()
def get_scan_alias(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/scans/{scanId} (seed 001's spelling)."""
    return _get_scan(req)


def _list_scans(req: func.HttpRequest) -> func.HttpResponse:
    target_type = req.params.get("targetType") or None
    if target_type is not None and target_type not in KINDS:
        raise ApiError(400, "invalid_parameter", f"targetType must be one of {', '.join(KINDS)}")
    status = req.params.get("status") or None
    if status is not None and status not in STATUSES:
        raise ApiError(400, "invalid_parameter", f"status must be one of {', '.join(STATUSES)}")
    target_id = req.params.get("targetId") or None
    limit = query_int(req, "limit", 20, 1, 100)
    token = decode_token(req.params.get("continuationToken"))
    stores = Stores.of(get_settings())
    if target_id is not None and target_type is None:
        # By target id alone: the pointer table needs the type; try each kind.
        records: list[ScanRecord] = []
        for kind in KINDS:
            found, _ = stores.scans.page(kind, target_id, status, limit, None)
            records += found
        records.sort(key=lambda r: r.scan_id, reverse=True)
        records, next_token = records[:limit], None
    else:
        records, next_token = stores.scans.page(target_type, target_id, status, limit, token)
    page = ScanList(
        items=[scan_status(r, stores.scans, with_items=False) for r in records],
        continuation_token=encode_token(next_token),
    )
    return json_response(page)


@bp.route(route="v1/scans", methods=["GET"], auth_level=ANON)
@api_endpoint()
def list_scans(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/v1/scans: newest first; filters targetId, targetType, status; paged."""
    return _list_scans(req)


@bp.route(route="scans", methods=["GET"], auth_level=ANON)
@api_endpoint()
def list_scans_alias(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/scans (seed 001's spelling)."""
    return _list_scans(req)


@bp.route(route="v1/scans/{scanId}/cancel", methods=["POST"], auth_level=ANON)
@bp.durable_client_input(client_name="client")
@api_endpoint()
async def cancel(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """POST /api/v1/scans/{scanId}/cancel: stop it, keep what it found, free the target."""
    scan_id = req.route_params.get("scanId", "")
    settings = get_settings()
    try:
        record = await cancel_scan(client, settings, scan_id)
    except ScanNotFoundError as exc:
        raise ApiError(404, "scan_not_found", f"no scan with id {scan_id[:64]!r}") from exc
    except ScanFinishedError as exc:
        raise ApiError(409, "scan_finished", str(exc)) from exc
    stores = Stores.of(settings)
    view = await asyncio.to_thread(scan_status, record, stores.scans, False)
    return json_response(view)


@bp.route(route="v1/scans/{scanId}/report", methods=["GET"], auth_level=ANON)
@api_endpoint()
def scan_report(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/v1/scans/{scanId}/report?format=json|sarif|csv|html."""
    fmt = (req.params.get("format") or "json").lower()
    stores = Stores.of(get_settings())
    scan_id = req.route_params.get("scanId", "")
    record = stores.scans.get(scan_id)
    if record is None:
        raise ApiError(404, "scan_not_found", f"no scan with id {scan_id[:64]!r}")
    view = scan_status(record, stores.scans, with_items=False).model_dump(
        mode="json", by_alias=True
    )
    if fmt not in FORMATS:
        raise ApiError(400, "invalid_parameter", f"format must be one of {', '.join(FORMATS)}")
    items = stores.scans.items(scan_id)
    # An engine may render its own report (e.g. the repository engine's traceability matrix).
    store = BlobArtifactStore(stores.scans.storage, scan_id)
    own = engine_report(record, fmt, view, items, store)
    content_type, body = own if own is not None else render(fmt, view, items)
    return func.HttpResponse(body, status_code=200, headers={"Content-Type": content_type})
