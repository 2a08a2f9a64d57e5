"""HTTP API for scans: start, status, list, cancel, report (and the unversioned spellings)."""

from __future__ import annotations

import asyncio

import azure.durable_functions as df
import azure.functions as func

from common.continuation import encode_token
from orchestrations.api import routes
from orchestrations.api.http import (
    ApiError,
    continuation,
    json_body,
    json_response,
    parse,
    query_int,
    route,
    route_with_client,
    serve,
)
from orchestrations.api.models import (
    RepositoryScanTrigger,
    ScanAccepted,
    ScanAcceptedList,
    ScanList,
    SubscriptionTrigger,
)
from orchestrations.api.views import accepted, existing_scan, scan_views
from orchestrations.core.lifecycle import STATUSES
from orchestrations.core.settings import get_settings
from orchestrations.scans.kinds import (
    KINDS,
    EngineUnavailableError,
    InvalidTargetError,
    TargetKind,
    TargetNotFoundError,
    infer_target_type,
)
from orchestrations.scans.kinds.repository import RepositoryScanRequest
from orchestrations.scans.kinds.subscription import SubscriptionScanRequest
from orchestrations.scans.reports import (
    FrameworkNotApplicableError,
    UnknownFrameworkError,
    compliance_report,
    report,
)
from orchestrations.scans.service import (
    ScanConflictError,
    ScanFinishedError,
    ScanNotFoundError,
    ScanStartError,
    cancel_scan,
    start_scan,
)
from orchestrations.state.scans import ScanRecord
from orchestrations.state.stores import Stores
from scanner.reports import FORMATS

bp = df.Blueprint()


async def start(
    client: df.DurableOrchestrationClient, kind: TargetKind, request: object
) -> ScanRecord:
    """Start a scan, mapping each failure to its API error."""
    try:
        return await start_scan(client, get_settings(), kind, request)
    except ScanConflictError as exc:
        raise ApiError(409, "scan_active", str(exc), activeScanId=exc.active_scan_id) from exc
    except TargetNotFoundError as exc:
        raise ApiError(404, "target_not_found", str(exc)) from exc
    except (EngineUnavailableError, InvalidTargetError) as exc:
        raise ApiError(422, "target_not_scannable", str(exc)) from exc
    except ScanStartError as exc:
        raise ApiError(503, "scan_not_started", str(exc)) from exc


async def started(
    req: func.HttpRequest, client: df.DurableOrchestrationClient, kind: TargetKind, request: object
) -> func.HttpResponse:
    """Start one scan: 202 with where to poll it."""
    body = accepted(req, await start(client, kind, request))
    return json_response(body, 202, {"Location": body.status_url})


# -- starting scans -------------------------------------------------------------------------------


@route_with_client(bp, routes.START_SCAN)
async def start_any_scan(
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
    return await started(req, client, kind, request)


@route_with_client(bp, routes.START_REPOSITORY_SCAN)
async def start_repository_scan(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """POST /api/v1/repositories/{id}/scan with an optional commitSha."""
    trigger = parse(RepositoryScanTrigger, json_body(req, required=False))
    repository_id = req.route_params.get("repositoryId", "")
    request = {"repositoryId": repository_id, "commitSha": trigger.commit_sha}
    return await started(req, client, KINDS["repository"], parse(RepositoryScanRequest, request))


@route_with_client(bp, routes.START_SUBSCRIPTION_SCANS)
async def start_subscription_scans(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Scan the given subscription, or every configured default subscription."""
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


# -- reading --------------------------------------------------------------------------------------


def get_scan(req: func.HttpRequest) -> func.HttpResponse:
    """Status, progress, phase, counters; results when done (items with ?include=items)."""
    stores = Stores.of(get_settings())
    record = existing_scan(req, stores)
    include = {part.strip() for part in (req.params.get("include") or "").split(",")}
    if not include <= {"", "items"}:
        raise ApiError(400, "invalid_parameter", "include may only name: items")
    # Per-item results cost one more storage query: only when asked for.
    return json_response(scan_views([record], stores, with_items="items" in include)[0])


def list_scans(req: func.HttpRequest) -> func.HttpResponse:
    """Newest first; filters targetId, targetType, status; paged."""
    target_type = req.params.get("targetType") or None
    if target_type is not None and target_type not in KINDS:
        raise ApiError(400, "invalid_parameter", f"targetType must be one of {', '.join(KINDS)}")
    status = req.params.get("status") or None
    if status is not None and status not in STATUSES:
        raise ApiError(400, "invalid_parameter", f"status must be one of {', '.join(STATUSES)}")
    target_id = req.params.get("targetId") or None
    limit = query_int(req, "limit", 20, 1, 100)
    token = continuation(req)
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
        items=scan_views(records, stores, with_items=False),
        continuation_token=encode_token(next_token),
    )
    return json_response(page)


# Each read is served on its versioned and its unversioned path (a function per route).
for _served, _handler in (
    (routes.GET_SCAN, get_scan),
    (routes.GET_SCAN_UNVERSIONED, get_scan),
    (routes.LIST_SCANS, list_scans),
    (routes.LIST_SCANS_UNVERSIONED, list_scans),
):
    serve(bp, _served, _handler)


@route_with_client(bp, routes.CANCEL_SCAN)
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
    view = (await asyncio.to_thread(scan_views, [record], stores, False))[0]
    return json_response(view)


@route(bp, routes.SCAN_REPORT)
def scan_report(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/v1/scans/{scanId}/report?format=json|sarif|csv|html[&framework=cis-azure]."""
    fmt = (req.params.get("format") or "json").lower()
    framework_key = req.params.get("framework")
    stores = Stores.of(get_settings())
    record = existing_scan(req, stores)
    view = scan_views([record], stores, with_items=False)[0].model_dump(mode="json", by_alias=True)
    if fmt not in FORMATS:
        raise ApiError(400, "invalid_parameter", f"format must be one of {', '.join(FORMATS)}")
    if framework_key is not None:
        if fmt != "json":
            raise ApiError(400, "invalid_parameter", "a framework report is JSON: format=json")
        try:
            document = compliance_report(record, stores.scans, framework_key.lower(), view)
        except UnknownFrameworkError as exc:
            raise ApiError(400, "unknown_framework", str(exc), known=list(exc.known)) from exc
        except FrameworkNotApplicableError as exc:
            raise ApiError(422, "framework_not_applicable", str(exc)) from exc
        return json_response(document)
    content_type, body = report(record, stores.scans, fmt, view)
    return func.HttpResponse(body, status_code=200, headers={"Content-Type": content_type})
