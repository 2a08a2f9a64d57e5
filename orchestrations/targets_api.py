"""HTTP API for the targets registry: /api/v1/repositories, /api/v1/hosts, /api/v1/subscriptions."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df
import azure.functions as func
from pydantic.alias_generators import to_camel

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
from orchestrations.api_models import TargetList, TargetOut
from orchestrations.scan_service import Stores
from orchestrations.scan_store import utcnow
from orchestrations.settings import get_settings
from orchestrations.target_kinds import InvalidTargetError, TargetKind, kind_by_plural
from orchestrations.target_store import TargetExistsError, TargetRecord

bp = df.Blueprint()
ANON = func.AuthLevel.ANONYMOUS


def _kind(req: func.HttpRequest) -> TargetKind:
    plural = req.route_params.get("kind", "")
    kind = kind_by_plural(plural)
    if kind is None or kind.registration_model is None:
        raise ApiError(404, "not_found", f"no such collection: {plural[:64]!r}")
    return kind


def _camel_keys(value: Any) -> Any:
    """Nested settings (e.g. a host's jump hosts) in the API's spelling, unset fields left out."""
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    if isinstance(value, dict):
        return {to_camel(k): _camel_keys(v) for k, v in value.items() if v is not None}
    return value


def target_view(record: TargetRecord) -> TargetOut:
    config = {to_camel(k): _camel_keys(v) for k, v in record.config.items()}
    for reserved in TargetOut.model_fields:
        config.pop(to_camel(reserved), None)
    return TargetOut(
        id=record.target_id,
        target_type=record.target_type,
        name=record.name,
        schedule=record.schedule,
        created_at=record.created_at,
        updated_at=record.updated_at,
        last_scanned_at=record.last_scanned_at,
        last_scan_id=record.last_scan_id,
        last_status=record.last_status,
        **config,
    )


def _config(kind: TargetKind, registration: Any) -> dict[str, Any]:
    try:
        return kind.registration_config(registration, get_settings())
    except InvalidTargetError as exc:
        raise ApiError(
            422,
            "validation_failed",
            str(exc),
            [{"field": "url", "message": str(exc), "type": "value_error"}],
        ) from exc


@bp.route(route="v1/{kind}", methods=["POST"], auth_level=ANON)
@api_endpoint()
def register_target(req: func.HttpRequest) -> func.HttpResponse:
    """Register a repository, host or subscription (with an optional cron schedule)."""
    kind = _kind(req)
    assert kind.registration_model is not None
    registration = parse(kind.registration_model, json_body(req))
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
        raise ApiError(409, "target_exists", f"{kind.name} {record.target_id!r} exists") from exc
    location = f"{base_url(req)}/api/v1/{kind.plural}/{record.target_id}"
    return json_response(target_view(record), 201, {"Location": location})


@bp.route(route="v1/{kind}", methods=["GET"], auth_level=ANON)
@api_endpoint()
def list_targets(req: func.HttpRequest) -> func.HttpResponse:
    kind = _kind(req)
    limit = query_int(req, "limit", 50, 1, 200)
    token = decode_token(req.params.get("continuationToken"))
    records, next_token = Stores.of(get_settings()).targets.page(kind.name, limit, token)
    page = TargetList(
        items=[target_view(r) for r in records], continuation_token=encode_token(next_token)
    )
    return json_response(page)


def _existing(req: func.HttpRequest, kind: TargetKind) -> tuple[Stores, TargetRecord]:
    stores = Stores.of(get_settings())
    target_id = req.route_params.get("targetId", "")
    record = stores.targets.get(kind.name, target_id)
    if record is None:
        raise ApiError(404, "target_not_found", f"no {kind.name} {target_id[:64]!r}")
    return stores, record


@bp.route(route="v1/{kind}/{targetId}", methods=["GET"], auth_level=ANON)
@api_endpoint()
def get_target(req: func.HttpRequest) -> func.HttpResponse:
    kind = _kind(req)
    _, record = _existing(req, kind)
    return json_response(target_view(record))


@bp.route(route="v1/{kind}/{targetId}", methods=["PUT", "PATCH"], auth_level=ANON)
@api_endpoint()
def update_target(req: func.HttpRequest) -> func.HttpResponse:
    """Change a target's settings or schedule; fields left out keep their value."""
    kind = _kind(req)
    assert kind.update_model is not None and kind.registration_model is not None
    changes = parse(kind.update_model, json_body(req)).model_dump(exclude_unset=True)
    for _ in range(10):
        stores, record = _existing(req, kind)
        merged = {**record.config, "name": record.name, "schedule": record.schedule, **changes}
        if kind.name == "repository":
            merged["id"] = record.target_id
        registration = parse(kind.registration_model, merged)
        record.config = _config(kind, registration)
        record.name = kind.display_name(registration)
        record.schedule = getattr(registration, "schedule", None)
        record.updated_at = utcnow()
        if stores.targets.save(record):
            return json_response(target_view(record))
    raise ApiError(409, "concurrent_update", "the target changed meanwhile; try again")


@bp.route(route="v1/{kind}/{targetId}", methods=["DELETE"], auth_level=ANON)
@api_endpoint()
def delete_target(req: func.HttpRequest) -> func.HttpResponse:
    """Forget a target (its scans and their results stay)."""
    kind = _kind(req)
    stores = Stores.of(get_settings())
    if not stores.targets.delete(kind.name, req.route_params.get("targetId", "")):
        raise ApiError(404, "target_not_found", "no such target")
    return func.HttpResponse(status_code=204)
