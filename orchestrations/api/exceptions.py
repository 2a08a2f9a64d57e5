"""HTTP API for exceptions (accepted findings): create, list, show, delete.

- POST `/api/v1/exceptions` `{"fingerprint"}` or `{"ruleId", "resourcePattern"?}`, with
  `"targetId"?`, `"reason"`, `"owner"`, `"expiresAt"` (in the future, at most
  MAX_EXCEPTION_DAYS ahead): 201 with the exception (admin);
- GET `/api/v1/exceptions` (`?status=active|expired`): every exception, expired ones marked;
- GET / DELETE `/api/v1/exceptions/{exceptionId}`: one exception; withdraw it (204, admin).

Exceptions act when findings are read (orchestrations/scans/exceptions.py): a new one, an
expiry or a deletion changes the next answer about any scan, without a rescan.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Literal

import azure.durable_functions as df
import azure.functions as func
from pydantic import Field, field_validator, model_validator
from ulid import ULID

from orchestrations.api import routes
from orchestrations.api.access import caller
from orchestrations.api.http import ApiError, json_body, json_response, parse, route
from orchestrations.core.models import RULE_ID_PATTERN, ApiModel
from orchestrations.core.settings import get_settings
from orchestrations.state.exceptions import ExceptionStore
from orchestrations.state.storage import get_storage
from scanner.mutelist import FindingException

bp = df.Blueprint()

# An acceptance is reviewed at least yearly: none may run longer.
MAX_EXCEPTION_DAYS = 365
FINGERPRINT_PATTERN = r"^[0-9a-f]{32}$"
EXCEPTION_ID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"  # a ULID
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _no_control_characters(value: str | None) -> str | None:
    if value is not None and _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


class ExceptionIn(ApiModel):
    """Exactly one of `fingerprint` (one finding) and `ruleId` (the rule's findings whose
    resource, document, file or host subject matches `resourcePattern`, a case-insensitive
    glob; without a pattern, all of them)."""

    fingerprint: str | None = Field(
        None, pattern=FINGERPRINT_PATTERN, description="A finding's fingerprint (32 hex digits)"
    )
    rule_id: str | None = Field(None, pattern=RULE_ID_PATTERN)
    resource_pattern: str | None = Field(
        None,
        min_length=1,
        max_length=1024,
        description="Glob (*, ?, [..]) over the finding's resource id, document, file or host "
        "subject; case-insensitive; only with ruleId",
    )
    target_id: str | None = Field(
        None, min_length=1, max_length=256, description="Only findings of scans of this target"
    )
    reason: str = Field(min_length=1, max_length=2000)
    owner: str = Field(min_length=1, max_length=256, description="Who answers for the risk")
    expires_at: datetime = Field(
        description=f"When the exception stops (UTC if no offset); in the future, at most "
        f"{MAX_EXCEPTION_DAYS} days ahead"
    )

    _text = field_validator("resource_pattern", "target_id", "owner")(_no_control_characters)

    @field_validator("expires_at")
    @classmethod
    def _expiry(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        now = datetime.now(UTC)
        if value <= now:
            raise ValueError("must be in the future")
        if value > now + timedelta(days=MAX_EXCEPTION_DAYS):
            raise ValueError(f"must be at most {MAX_EXCEPTION_DAYS} days ahead")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _one_way_to_name_findings(self) -> ExceptionIn:
        if (self.fingerprint is None) == (self.rule_id is None):
            raise ValueError("give exactly one of fingerprint and ruleId")
        if self.resource_pattern is not None and self.rule_id is None:
            raise ValueError("resourcePattern goes with ruleId, not with fingerprint")
        return self


class ExceptionOut(ApiModel):
    id: str
    fingerprint: str | None = None
    rule_id: str | None = None
    resource_pattern: str | None = None
    target_id: str | None = None
    reason: str
    owner: str
    expires_at: datetime
    created_at: datetime
    created_by: str
    status: Literal["active", "expired"]


class ExceptionList(ApiModel):
    items: list[ExceptionOut]
    active: int
    expired: int


def exception_view(exception: FindingException, now: datetime) -> ExceptionOut:
    return ExceptionOut(
        id=exception.exception_id,
        fingerprint=exception.fingerprint or None,
        rule_id=exception.rule_id or None,
        resource_pattern=exception.pattern or None,
        target_id=exception.target_id or None,
        reason=exception.reason,
        owner=exception.owner,
        expires_at=exception.expires_at,
        created_at=exception.created_at,
        created_by=exception.created_by,
        status="active" if exception.active(now) else "expired",
    )


def _store() -> ExceptionStore:
    return ExceptionStore(get_storage(get_settings()))


def _existing(req: func.HttpRequest, store: ExceptionStore) -> FindingException:
    exception_id = req.route_params.get("exceptionId", "")
    found = store.get(exception_id) if re.match(EXCEPTION_ID_PATTERN, exception_id) else None
    if found is None:
        raise ApiError(404, "exception_not_found", f"no exception with id {exception_id[:64]!r}")
    return found


@route(bp, routes.CREATE_EXCEPTION)
def create_exception(req: func.HttpRequest) -> func.HttpResponse:
    request = parse(ExceptionIn, json_body(req))
    now = datetime.now(UTC)
    exception = FindingException(
        exception_id=str(ULID()),
        reason=request.reason,
        owner=request.owner,
        expires_at=request.expires_at,
        created_at=now,
        created_by=caller(req, get_settings()).display,
        fingerprint=request.fingerprint or "",
        rule_id=request.rule_id or "",
        pattern=request.resource_pattern or "",
        target_id=request.target_id or "",
    )
    _store().add(exception)
    location = f"/api/v1/exceptions/{exception.exception_id}"
    return json_response(exception_view(exception, now), 201, {"Location": location})


@route(bp, routes.LIST_EXCEPTIONS)
def list_exceptions(req: func.HttpRequest) -> func.HttpResponse:
    wanted = req.params.get("status") or None
    if wanted not in (None, "active", "expired"):
        raise ApiError(400, "invalid_parameter", "status must be active or expired")
    now = datetime.now(UTC)
    views = [exception_view(e, now) for e in _store().all()]
    active = sum(1 for v in views if v.status == "active")
    shown = [v for v in views if wanted is None or v.status == wanted]
    return json_response(ExceptionList(items=shown, active=active, expired=len(views) - active))


@route(bp, routes.GET_EXCEPTION)
def get_exception(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(exception_view(_existing(req, _store()), datetime.now(UTC)))


@route(bp, routes.DELETE_EXCEPTION)
def delete_exception(req: func.HttpRequest) -> func.HttpResponse:
    store = _store()
    found = _existing(req, store)
    if not store.delete(found.exception_id):
        raise ApiError(404, "exception_not_found", f"no exception with id {found.exception_id}")
    return func.HttpResponse(status_code=204)
