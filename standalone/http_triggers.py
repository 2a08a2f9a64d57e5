"""Serve the app's HTTP-triggered functions under the route prefix, as the Functions host does."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import azure.functions as func
from aiohttp import web

from standalone.app_loader import FunctionEntry
from standalone.invoker import invoke
from standalone.routes import Route, RouteError, compile_route, sort_routes

log = logging.getLogger(__name__)

JSON_TYPE = "application/json"
# The largest request body the host reads (the Functions host has a limit of its own too);
# an app may accept less.
MAX_REQUEST_BYTES = 16 * 1024 * 1024


def json_error(status: int, code: str, message: str) -> web.Response:
    body = {"error": {"code": code, "message": message}}
    return web.json_response(body, status=status)


def _request_key(request: web.Request) -> str:
    return request.headers.get("x-functions-key") or request.query.get("code", "")


def key_matches(given: str, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def to_http_response(result: Any) -> web.Response:
    """Turn what a function returned into an aiohttp response."""
    if isinstance(result, func.HttpResponse):
        headers = {k: v for k, v in result.headers.items() if k.lower() != "content-length"}
        if "content-type" not in {k.lower() for k in headers}:
            headers["Content-Type"] = f"{result.mimetype}; charset={result.charset}"
        return web.Response(status=result.status_code, body=result.get_body(), headers=headers)
    if result is None:
        return web.Response(status=204)
    if isinstance(result, bytes):
        return web.Response(body=result, content_type="application/octet-stream")
    if isinstance(result, str):
        return web.Response(text=result, content_type="text/plain")
    return web.json_response(result)


def forwarded_headers(request: web.Request) -> dict[str, str]:
    """The request's headers, with the peer's address appended to X-Forwarded-For, as the
    front end of Azure Functions does (the app takes the last entry as the caller's address)."""
    headers = dict(request.headers)
    if request.remote:
        earlier = headers.pop("X-Forwarded-For", None) or headers.pop("x-forwarded-for", None)
        headers["X-Forwarded-For"] = f"{earlier}, {request.remote}" if earlier else request.remote
    return headers


class HttpTriggers:
    """Routes `/{prefix}/...` requests to the app's HTTP functions."""

    def __init__(
        self,
        functions: list[FunctionEntry],
        route_prefix: str,
        function_key: str,
        client_binding: Callable[[], str],
        executor: ThreadPoolExecutor,
    ) -> None:
        self.prefix = route_prefix.strip("/")
        self.function_key = function_key
        self.client_binding = client_binding
        self.executor = executor
        routes: list[Route] = []
        for entry in functions:
            template = str(entry.trigger.get("route") or entry.name)
            try:
                routes.append(compile_route(template, entry.trigger.get("methods"), entry))
            except RouteError as exc:
                log.error("function %s is not served: %s", entry.name, exc)
        self.routes = sort_routes(routes)

    def describe(self) -> list[str]:
        return [
            f"{','.join(sorted(r.methods))} /{self.prefix}/{r.template}".replace("//", "/")
            for r in self.routes
        ]

    def _find(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            params = route.match(path)
            if params is not None and method in route.methods:
                return route, params
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info.get("tail", "").strip("/")
        found = self._find(request.method, path)
        if found is None:
            return json_error(
                404, "not_found", f"no function serves {request.method} {request.path}"
            )
        route, params = found
        entry: FunctionEntry = route.target
        level = str(entry.trigger.get("authLevel", "FUNCTION")).upper()
        if level != "ANONYMOUS" and not key_matches(_request_key(request), self.function_key):
            return json_error(401, "unauthorized", "this function needs a function key")
        try:
            result = await self.invoke(entry, request, params)
        except web.HTTPRequestEntityTooLarge:
            log.info(
                "%s %s: 413 body over %d bytes", request.method, request.path, MAX_REQUEST_BYTES
            )
            return json_error(
                413,
                "payload_too_large",
                f"the request body is larger than {MAX_REQUEST_BYTES} bytes",
            )
        except Exception:
            log.exception("function %s raised", entry.name)
            return json_error(500, "internal_error", "the function failed; see the host log")
        return to_http_response(result)

    async def invoke(
        self, entry: FunctionEntry, request: web.Request, params: dict[str, str]
    ) -> Any:
        http_request = func.HttpRequest(
            method=request.method,
            url=_url(request),
            headers=forwarded_headers(request),
            params=dict(request.query),
            route_params=params,
            body=await request.read(),
        )
        return await invoke(entry, http_request, self.client_binding, self.executor)


def _url(request: web.Request) -> str:
    """The request's URL; when its Host header is no valid host, the address it reached
    (a client's bad header must not fail the request)."""
    try:
        return str(request.url)
    except ValueError:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        host, port = (sockname or ("127.0.0.1", 0))[:2]
        host = f"[{host}]" if ":" in str(host) else str(host)
        return f"{request.scheme}://{host}:{port}{request.rel_url}"


def client_binding_json(public_base: str, rpc_base: str, hub: str, system_key: str) -> str:
    """The durableClient binding data the Functions host hands to the Python worker."""
    webhooks = f"{public_base}/runtime/webhooks/durabletask"
    query = f"taskHub={hub}&connection=Storage&code={system_key}"
    instance = f"{webhooks}/instances/INSTANCEID"
    return json.dumps(
        {
            "taskHubName": hub,
            "creationUrls": {
                "createNewInstancePostUri": (
                    f"{webhooks}/orchestrators/{{functionName}}[/{{instanceId}}]?code={system_key}"
                ),
                "createAndWaitOnNewInstancePostUri": (
                    f"{webhooks}/orchestrators/{{functionName}}[/{{instanceId}}]"
                    f"?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}"
                    f"&code={system_key}"
                ),
            },
            "managementUrls": {
                "id": "INSTANCEID",
                "statusQueryGetUri": f"{instance}?{query}",
                "sendEventPostUri": f"{instance}/raiseEvent/{{eventName}}?{query}",
                "terminatePostUri": f"{instance}/terminate?reason={{text}}&{query}",
                "rewindPostUri": f"{instance}/rewind?reason={{text}}&{query}",
                "purgeHistoryDeleteUri": f"{instance}?{query}",
                "restartPostUri": f"{instance}/restart?{query}",
                "suspendPostUri": f"{instance}/suspend?reason={{text}}&{query}",
                "resumePostUri": f"{instance}/resume?reason={{text}}&{query}",
            },
            "baseUrl": webhooks,
            "requiredQueryStringParameters": f"code={system_key}",
            "rpcBaseUrl": rpc_base,
            "httpBaseUrl": "",
        }
    )
