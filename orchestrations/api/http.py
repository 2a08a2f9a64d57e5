"""What every HTTP endpoint shares: registration from the route table, API-key check, JSON
errors, body and parameter parsing, responses."""

from __future__ import annotations

import functools
import hmac
import inspect
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import azure.functions as func
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_snake

from common.continuation import InvalidTokenError, Position, decode_token
from orchestrations.api.routes import Route
from orchestrations.core.settings import AppSettings, get_settings

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
JSON = "application/json"
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
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
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
    return json_response(body, error.status)


def _validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(p) for p in e["loc"]) or "(body)",
            "message": e["msg"],
            "type": e["type"],
        }
        for e in exc.errors(include_url=False, include_input=False)
    ]


def require_api_key(req: func.HttpRequest, settings: AppSettings) -> None:
    given = req.headers.get(API_KEY_HEADER) or ""
    keys = settings.api_keys
    if not given or not any(hmac.compare_digest(given.encode(), k.encode()) for k in keys):
        raise ApiError(401, "unauthorized", f"a valid {API_KEY_HEADER} header is required")


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


def route(blueprint: Any, served: Route) -> Callable[[F], F]:
    """Register a handler for one route of the route table (our handlers check the key)."""
    decorate: Callable[[F], F] = blueprint.route(
        route=served.template, methods=served.methods, auth_level=func.AuthLevel.ANONYMOUS
    )
    return decorate


def route_with_client(blueprint: Any, served: Route) -> Callable[[F], F]:
    """Register an async handler that also takes the Durable client (`client`)."""

    def decorate(handler: F) -> F:
        with_client = blueprint.durable_client_input(client_name="client")(api_endpoint()(handler))
        registered: F = route(blueprint, served)(with_client)
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
    route(blueprint, served)(api_endpoint()(function))


def api_endpoint(authenticated: bool = True) -> Callable[[F], F]:
    """Wrap a handler: API-key check, ApiError -> JSON error, anything else -> JSON 500."""

    def decorate(handler: F) -> F:
        def before(req: func.HttpRequest) -> AppSettings:
            settings = get_settings()
            if authenticated:
                require_api_key(req, settings)
            return settings

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
                    before(req)
                    return await handler(req, *args, **kwargs)
                except Exception as exc:
                    return failed(exc)

            return run_async  # type: ignore[return-value]

        @functools.wraps(handler)
        def run(req: func.HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                before(req)
                return handler(req, *args, **kwargs)
            except Exception as exc:
                return failed(exc)

        return run  # type: ignore[return-value]

    return decorate
