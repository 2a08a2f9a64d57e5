"""What every HTTP endpoint shares: access checks (route roles, audit), JSON errors, body
parsing, responses."""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import inspect
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import azure.functions as func
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from pydantic import BaseModel, ValidationError

from orchestrations.access import AccessDenied, authorize, caller, record_change
from orchestrations.identity.roles import Principal, Role
from orchestrations.route_roles import Rule, rule_for
from orchestrations.settings import AppSettings, get_settings

log = logging.getLogger(__name__)

JSON = "application/json"
ROUTE_PREFIX = "/api/"
MAX_BODY_BYTES = 1_000_000

F = TypeVar("F", bound=Callable[..., Any])


class ApiError(Exception):
    """An error answer: status, machine-readable code, human message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}
        self.extra = extra


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> func.HttpResponse:
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json", by_alias=True)
    return func.HttpResponse(
        json.dumps(body), status_code=status, mimetype=JSON, headers=headers or {}
    )


def error_response(error: ApiError) -> func.HttpResponse:
    body: dict[str, Any] = {"error": {"code": error.code, "message": error.message}}
    if error.details is not None:
        body["error"]["details"] = error.details
    body.update(error.extra)
    return json_response(body, error.status, error.headers)


def _validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(p) for p in e["loc"]) or "(body)",
            "message": e["msg"],
            "type": e["type"],
        }
        for e in exc.errors(include_url=False, include_input=False)
    ]


def json_body(req: func.HttpRequest, required: bool = True) -> dict[str, Any]:
    raw = req.get_body() or b""
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", "the request body is larger than 1 MB")
    if not raw.strip():
        if required:
            raise ApiError(400, "invalid_json", "a JSON object body is required")
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return value


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(
            422, "validation_failed", "the request is not valid", _validation_details(exc)
        ) from exc


def query_int(req: func.HttpRequest, name: str, default: int, low: int, high: int) -> int:
    value = req.params.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise ApiError(400, "invalid_parameter", f"{name} must be an integer") from exc
    if not low <= number <= high:
        raise ApiError(400, "invalid_parameter", f"{name} must be between {low} and {high}")
    return number


def encode_token(token: dict[str, str] | None) -> str | None:
    if not token:
        return None
    return base64.urlsafe_b64encode(json.dumps(token).encode()).decode().rstrip("=")


def decode_token(value: str | None) -> dict[str, str] | None:
    if not value:
        return None
    try:
        padded = value + "=" * (-len(value) % 4)
        token = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error) as exc:
        raise ApiError(400, "invalid_parameter", "continuationToken is not valid") from exc
    if not isinstance(token, dict) or not all(isinstance(v, str) for v in token.values()):
        raise ApiError(400, "invalid_parameter", "continuationToken is not valid")
    return token


def base_url(req: func.HttpRequest) -> str:
    """Scheme and host the caller used, for links in answers."""
    url = req.url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


@dataclass(frozen=True)
class _Access:
    settings: AppSettings
    rule: Rule | None
    principal: Principal | None


def _admitted(req: func.HttpRequest) -> _Access:
    """Who calls, and whether the route's role lets them (401/403/503 otherwise)."""
    settings = get_settings()
    path = urlsplit(req.url).path
    rule = rule_for(req.method, path.removeprefix(ROUTE_PREFIX))
    if rule is None:
        log.error("no access rule for %s %s: admins only", req.method, path)
    required = rule.role if rule is not None else Role.ADMIN
    if required is None:
        return _Access(settings, rule, None)
    try:
        principal = caller(req, settings)
        authorize(principal, required)
    except AccessDenied as exc:
        raise ApiError(exc.status, exc.code, exc.message, headers=exc.headers, **exc.extra) from exc
    return _Access(settings, rule, principal)


def _audit(req: func.HttpRequest, access: _Access, response: func.HttpResponse) -> None:
    rule, principal = access.rule, access.principal
    if rule is None or rule.change is None or principal is None:
        return
    if 200 <= response.status_code < 300:
        record_change(req, principal, rule.change, response, access.settings)


def api_endpoint() -> Callable[[F], F]:
    """Wrap a handler: the route's role (route_roles), the audit row of a change, ApiError ->
    JSON error, anything else -> JSON 500."""

    def decorate(handler: F) -> F:
        def failed(exc: Exception) -> func.HttpResponse:
            if isinstance(exc, ApiError):
                return error_response(exc)
            if isinstance(exc, ServiceRequestError | ServiceResponseError):
                log.warning("%s: storage unreachable: %s", handler.__name__, exc)
                return error_response(
                    ApiError(503, "storage_unavailable", "storage did not answer; try again")
                )
            log.exception("unhandled error in %s", handler.__name__)
            return error_response(ApiError(500, "internal_error", "internal error; see the log"))

        if inspect.iscoroutinefunction(handler):

            @functools.wraps(handler)
            async def run_async(req: func.HttpRequest, *args: Any, **kwargs: Any) -> Any:
                try:
                    # Checking credentials may fetch keys (Entra ID, Key Vault): off the loop.
                    access = await asyncio.to_thread(_admitted, req)
                    response = await handler(req, *args, **kwargs)
                    await asyncio.to_thread(_audit, req, access, response)
                    return response
                except Exception as exc:
                    return failed(exc)

            return run_async  # type: ignore[return-value]

        @functools.wraps(handler)
        def run(req: func.HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                access = _admitted(req)
                response = handler(req, *args, **kwargs)
                _audit(req, access, response)
                return response
            except Exception as exc:
                return failed(exc)

        return run  # type: ignore[return-value]

    return decorate
