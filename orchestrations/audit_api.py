"""GET /api/v1/audit: the audit log, newest first, paged (admins only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from orchestrations.api_common import (
    api_endpoint,
    decode_token,
    encode_token,
    json_response,
    query_int,
)
from orchestrations.api_models import ApiModel
from orchestrations.audit_store import AuditEntry, AuditStore
from orchestrations.settings import get_settings
from orchestrations.storage import get_storage

bp = df.Blueprint()
ROUTE = "v1/audit"


class Actor(ApiModel):
    kind: str  # key, user or application
    name: str
    object_id: str | None = None
    role: str | None = None


class AuditEntryOut(ApiModel):
    id: str
    at: datetime
    actor: Actor
    action: str
    target: str | None = None
    scans: list[str]
    method: str
    path: str
    status: int
    source: str
    details: dict[str, str]


class AuditList(ApiModel):
    items: list[AuditEntryOut]
    continuation_token: str | None = None


def entry_view(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        id=entry.entry_id,
        at=entry.at,
        actor=Actor(
            kind=entry.actor_kind,
            name=entry.actor,
            object_id=entry.actor_id or None,
            role=entry.actor_role or None,
        ),
        action=entry.action,
        target=entry.target or None,
        scans=list(entry.scans),
        method=entry.method,
        path=entry.path,
        status=entry.status,
        source=entry.source,
        details=entry.details,
    )


@bp.route(route=ROUTE, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@api_endpoint()
def list_audit_entries(req: func.HttpRequest) -> func.HttpResponse:
    limit = query_int(req, "limit", 50, 1, 200)
    token = decode_token(req.params.get("continuationToken"))
    entries, next_token = AuditStore(get_storage(get_settings())).page(limit, token)
    page = AuditList(
        items=[entry_view(e) for e in entries], continuation_token=encode_token(next_token)
    )
    return json_response(page)


def audit_paths(spec: Any) -> dict[str, Any]:
    """The OpenAPI paths of this blueprint (`spec` is orchestrations.openapi's builder)."""
    return {
        "/api/v1/audit": {
            "get": {
                "operationId": "listAuditEntries",
                "summary": "Changes made through the API: who, what, when, from where",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "description": "Page size",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                    },
                    {
                        "name": "continuationToken",
                        "in": "query",
                        "description": "From the previous page",
                        "schema": {"type": "string", "maxLength": 2048},
                    },
                ],
                "responses": spec.responses(
                    spec.json_ok(200, AuditList, "A page of entries"), [400]
                ),
            }
        }
    }
