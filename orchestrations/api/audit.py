"""GET /api/v1/audit: the audit log, newest first, paged (admins only)."""

from __future__ import annotations

from datetime import datetime

import azure.durable_functions as df
import azure.functions as func

from common.continuation import encode_token
from orchestrations.api import routes
from orchestrations.api.http import continuation, json_response, query_int, route
from orchestrations.core.models import ApiModel
from orchestrations.core.settings import get_settings
from orchestrations.state.audit import AuditEntry, AuditStore
from orchestrations.state.storage import get_storage

bp = df.Blueprint()


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


@route(bp, routes.LIST_AUDIT_ENTRIES)
def list_audit_entries(req: func.HttpRequest) -> func.HttpResponse:
    limit = query_int(req, "limit", 50, 1, 200)
    entries, next_token = AuditStore(get_storage(get_settings())).page(limit, continuation(req))
    page = AuditList(
        items=[entry_view(e) for e in entries], continuation_token=encode_token(next_token)
    )
    return json_response(page)
