"""HTTP API for the targets registry: /api/v1/repositories, /api/v1/hosts, /api/v1/subscriptions."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df
import azure.functions as func

from common.continuation import encode_token
from orchestrations.api import http, routes
from orchestrations.api.models import TargetList
from orchestrations.api.views import target_view
from orchestrations.core.settings import get_settings
from orchestrations.scans.kinds import InvalidTargetError, TargetKind, kind_by_plural
from orchestrations.state.stores import Stores
from orchestrations.state.tables import utcnow
from orchestrations.state.targets import TargetExistsError, TargetRecord

bp = df.Blueprint()


def _kind(req: func.HttpRequest) -> TargetKind:
    plural = req.route_params.get("kind", "")
    kind = kind_by_plural(plural)
    if kind is None or kind.registration_model is None:
        raise http.ApiError(404, "not_found", f"no such collection: {plural[:64]!r}")
    return kind


def _config(kind: TargetKind, registration: Any) -> dict[str, Any]:
    try:
        return kind.registration_config(registration, get_settings())
    except InvalidTargetError as exc:
        raise http.ApiError(
            422,
            "validation_failed",
            str(exc),
            [{"field": "url", "message": str(exc), "type": "value_error"}],
        ) from exc


@http.route(bp, routes.REGISTER_TARGET)
def register_target(req: func.HttpRequest) -> func.HttpResponse:
    """Register a repository, host or subscription (with an optional cron schedule)."""
    kind = _kind(req)
    assert kind.registration_model is not None
    registration = http.parse(kind.registration_model, http.json_body(req))
    record = TargetRecord(
        target_type=kind.name,
        target_id=kind.registration_id(registration),
        name=kind.display_name(registration),
        config=_config(kind, registration),
        schedule=getattr(registration, "schedule", None),
    )
    stores = Stores.of(get_settings())
    try:
        stores.targets.create(record)
    except TargetExistsError as exc:
        raise http.ApiError(
            409, "target_exists", f"{kind.name} {record.target_id!r} exists"
        ) from exc
    location = f"{http.base_url(req)}/api/v1/{kind.plural}/{record.target_id}"
    return http.json_response(target_view(record), 201, {"Location": location})


@http.route(bp, routes.LIST_TARGETS)
def list_targets(req: func.HttpRequest) -> func.HttpResponse:
    kind = _kind(req)
    limit = http.query_int(req, "limit", 50, 1, 200)
    token = http.continuation(req)
    records, next_token = Stores.of(get_settings()).targets.page(kind.name, limit, token)
    page = TargetList(
        items=[target_view(r) for r in records], continuation_token=encode_token(next_token)
    )
    return http.json_response(page)


def _existing(req: func.HttpRequest, kind: TargetKind) -> tuple[Stores, TargetRecord]:
    stores = Stores.of(get_settings())
    target_id = req.route_params.get("targetId", "")
    record = stores.targets.get(kind.name, target_id)
    if record is None:
        raise http.ApiError(404, "target_not_found", f"no {kind.name} {target_id[:64]!r}")
    return stores, record


@http.route(bp, routes.GET_TARGET)
def get_target(req: func.HttpRequest) -> func.HttpResponse:
    kind = _kind(req)
    _, record = _existing(req, kind)
    return http.json_response(target_view(record))


@http.route(bp, routes.UPDATE_TARGET)
def update_target(req: func.HttpRequest) -> func.HttpResponse:
    """Change a target's settings or schedule; fields left out keep their value."""
    kind = _kind(req)
    assert kind.update_model is not None and kind.registration_model is not None
    changes = http.parse(kind.update_model, http.json_body(req)).model_dump(exclude_unset=True)
    for _ in range(10):
        stores, record = _existing(req, kind)
        merged = {**record.config, "name": record.name, "schedule": record.schedule, **changes}
        if kind.name == "repository":
            merged["id"] = record.target_id
        registration = http.parse(kind.registration_model, merged)
        record.config = _config(kind, registration)
        record.name = kind.display_name(registration)
        record.schedule = getattr(registration, "schedule", None)
        record.updated_at = utcnow()
        if stores.targets.save(record):
            return http.json_response(target_view(record))
    raise http.ApiError(409, "concurrent_update", "the target changed meanwhile; try again")


@http.route(bp, routes.DELETE_TARGET)
def delete_target(req: func.HttpRequest) -> func.HttpResponse:
    """Forget a target (its scans and their results stay)."""
    kind = _kind(req)
    stores = Stores.of(get_settings())
    if not stores.targets.delete(kind.name, req.route_params.get("targetId", "")):
        raise http.ApiError(404, "target_not_found", "no such target")
    return func.HttpResponse(status_code=204)
