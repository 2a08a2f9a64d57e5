"""What every HTTP endpoint shares: registration from the route table with the route's access
check (its role, the audit row of a change), JSON errors, body and parameter parsing,
responses."""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import azure.functions as func
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_snake

from common.continuation import InvalidTokenError, Position, decode_token
from common.storage import StorageUnavailableError
from orchestrations.api.access import AccessDenied, authorize, caller, record_change
from orchestrations.api.routes import Operation, Route
from orchestrations.core.settings import AppSettings, get_settings
from orchestrations.identity.roles import Principal

log = logging.getLogger(__name__)

JSON = "application/json"
# Request bodies: at most this many bytes (413 above), nested at most this deep (400 deeper).
MAX_BODY_BYTES = 1_000_000
MAX_BODY_DEPTH = 32

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


def _media_type(req: func.HttpRequest) -> str:
    return str(req.headers.get("content-type") or "").split(";", 1)[0].strip().lower()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _check_shape(value: Any) -> None:
    """Nested no deeper than MAX_BODY_DEPTH; every string encodable (no lone surrogates from
    `\\ud800`-style escapes, which no store or response could carry)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > MAX_BODY_DEPTH:
                raise ApiError(
                    400, "invalid_json", f"the body is nested deeper than {MAX_BODY_DEPTH} levels"
                )
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ApiError(
                    400, "invalid_json", "the body holds a string that is not valid Unicode"
                ) from exc


def json_body(req: func.HttpRequest, required: bool = True) -> dict[str, Any]:
    """The request's JSON object: UTF-8, at most MAX_BODY_BYTES, nested at most
    MAX_BODY_DEPTH deep. Anything else is a 4xx ApiError that says what is wrong."""
    raw = req.get_body() or b""
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(
            413, "payload_too_large", f"the request body is larger than {MAX_BODY_BYTES} bytes"
        )
    if not raw.strip():
        if required:
            raise ApiError(400, "invalid_json", "a JSON object body is required")
        return {}
    media_type = _media_type(req)
    if media_type and media_type != JSON and not media_type.endswith("+json"):
        raise ApiError(
            415, "unsupported_media_type", f"the body must be {JSON}, not {media_type[:100]}"
        )
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid_json", f"the body is not UTF-8: {exc.reason}") from exc
    except RecursionError as exc:
        raise ApiError(
            400, "invalid_json", f"the body is nested deeper than {MAX_BODY_DEPTH} levels"
        ) from exc
    except ValueError as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    _check_shape(value)
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


def continuation(req: func.HttpRequest) -> Position | None:
    """The paging position the caller sent back (`continuationToken`)."""
    try:
        return decode_token(req.params.get("continuationToken"))
    except InvalidTokenError as exc:
        raise ApiError(400, "invalid_parameter", "continuationToken is not valid") from exc


def base_url(req: func.HttpRequest) -> str:
    """Scheme and host the caller used, for links in answers."""
    url = req.url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _register(blueprint: Any, served: Route) -> Callable[[F], F]:
    decorate: Callable[[F], F] = blueprint.route(
        route=served.template, methods=served.methods, auth_level=func.AuthLevel.ANONYMOUS
    )
    return decorate


def route(blueprint: Any, served: Route) -> Callable[[F], F]:
    """Register a handler for one route of the route table, behind the route's access check
    (our handlers check callers themselves: the Functions-level key is not used)."""

    def decorate(handler: F) -> F:
        registered: F = _register(blueprint, served)(api_endpoint(served)(handler))
        return registered

    return decorate


def route_with_client(blueprint: Any, served: Route) -> Callable[[F], F]:
    """Register an async handler that also takes the Durable client (`client`)."""

    def decorate(handler: F) -> F:
        checked = api_endpoint(served)(handler)
        with_client = blueprint.durable_client_input(client_name="client")(checked)
        registered: F = _register(blueprint, served)(with_client)
        return registered

    return decorate


def serve(
    blueprint: Any, served: Route, handler: Callable[[func.HttpRequest], func.HttpResponse]
) -> None:
    """Register `handler` as the function of one route, named after its operation, for a
    handler that serves more than one route (a Functions function has one route)."""

    @functools.wraps(handler)
    def function(req: func.HttpRequest) -> func.HttpResponse:
        return handler(req)

    function.__name__ = to_snake(served.operations[0].operation_id)
    route(blueprint, served)(function)


def _path(req: func.HttpRequest) -> str:
    """The request's path, for log lines (no query: it may hold a key)."""
    rest = str(req.url).partition("://")[2]
    return "/" + rest.partition("/")[2].split("?", 1)[0][:200]


@dataclass(frozen=True)
class _Access:
    settings: AppSettings
    operation: Operation | None
    principal: Principal | None


def _admitted(req: func.HttpRequest, served: Route) -> _Access:
    """Who calls, and whether the operation's role lets them (401/403/503 otherwise)."""
    settings = get_settings()
    operation = served.operation(req.method)
    if operation is None:  # the host routes only the methods the route registered
        raise ApiError(405, "method_not_allowed", f"{req.method} is not served here")
    if operation.role is None:
        return _Access(settings, operation, None)
    try:
        principal = caller(req, settings)
        authorize(principal, operation.role)
    except AccessDenied as exc:
        raise ApiError(exc.status, exc.code, exc.message, headers=exc.headers, **exc.extra) from exc
    return _Access(settings, operation, principal)


def _audit(req: func.HttpRequest, access: _Access, response: func.HttpResponse) -> None:
    operation, principal = access.operation, access.principal
    if operation is None or operation.change is None or principal is None:
        return
    if 200 <= response.status_code < 300:
        record_change(req, principal, operation.change, response, access.settings)


def api_endpoint(served: Route) -> Callable[[F], F]:
    """Wrap a handler of `served`: the operation's role, the audit row of a change, ApiError ->
    JSON error, anything else -> JSON 500."""

    def decorate(handler: F) -> F:
        def failed(req: func.HttpRequest, exc: Exception) -> func.HttpResponse:
            if isinstance(exc, ApiError):
                # One line per refused request; never the body, never a traceback.
                log.info(
                    "%s %s: %d %s: %s",
                    req.method,
                    _path(req),
                    exc.status,
                    exc.code,
                    exc.message[:300],
                )
                return error_response(exc)
            if isinstance(
                exc, ServiceRequestError | ServiceResponseError | StorageUnavailableError
            ):
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
                    # On the loop: checking credentials is CPU only, but for the rare fetch of
                    # signing keys (first use, daily, an unknown key id at most once a minute)
                    # or of the keys secret (every few minutes). The audit row is storage I/O.
                    access = _admitted(req, served)
                    response = await handler(req, *args, **kwargs)
                    await asyncio.to_thread(_audit, req, access, response)
                    return response
                except Exception as exc:
                    return failed(req, exc)

            return run_async  # type: ignore[return-value]

        @functools.wraps(handler)
        def run(req: func.HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                access = _admitted(req, served)
                response = handler(req, *args, **kwargs)
                _audit(req, access, response)
                return response
            except Exception as exc:
                return failed(req, exc)

        return run  # type: ignore[return-value]

    return decorate
