"""The Durable extension's HTTP API: public webhooks and the SDK client's RPC endpoint.

Both serve the same operations with Azure's routes, JSON and status codes:
- public: `/runtime/webhooks/durabletask/...`, authorised by the system key (`code=` or
  `x-functions-key`), the URLs `create_check_status_response` hands out;
- RPC: `/_durabletask/{token}/...`, what `DurableOrchestrationClient` calls (`rpcBaseUrl`);
  the random token in the path stands in for Azure's loopback-only RPC listener.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from common.continuation import InvalidTokenError
from standalone.durable.client import (
    DurableClient,
    InstanceActiveError,
    InstanceGoneError,
    InstanceNotFoundError,
    InvalidInstanceIdError,
    UnknownOrchestratorError,
)
from standalone.durable.history import friendly
from standalone.durable.store import (
    ACTIVE_STATES,
    ALL_STATES,
    COMPLETED,
    FAILED,
    InstanceExistsError,
    InstanceQuery,
    InstanceRecord,
)
from standalone.http_triggers import key_matches

log = logging.getLogger(__name__)

PUBLIC_PREFIX = "/runtime/webhooks/durabletask"
CONTINUATION_HEADER = "x-ms-continuation-token"


def _error(status: int, message: str) -> web.Response:
    # The shape of ASP.NET's CreateErrorResponse, which the Python SDK reads (ExceptionMessage).
    return web.json_response({"Message": message, "ExceptionMessage": message}, status=status)


async def _accepted(stored: Awaitable[Any]) -> web.Response:
    """202 once the message is stored; 404 for an unknown instance, 410 for one that ended."""
    try:
        await stored
    except InstanceNotFoundError:
        return web.Response(status=404)
    except InstanceGoneError:
        return web.Response(status=410)
    return web.Response(status=202)


def _json_value(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def decode_payload(raw: bytes) -> str | None:
    """Request body -> the JSON text to store.

    The SDK sends its already-serialised input once more as a JSON string ("double-encoded");
    a person posting to the webhook sends plain JSON. Both become the same JSON text.
    """
    text = raw.decode("utf-8").strip()
    if not text:
        return None
    try:
        value = json.loads(text)  # ValueError for invalid JSON: the caller answers 400
        encoded = json.dumps(value)
    except RecursionError as exc:
        raise ValueError("the body is nested too deeply") from exc
    if isinstance(value, str):
        try:
            json.loads(value)
            return value
        except (ValueError, RecursionError):
            pass
    return encoded


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _bool_query(request: web.Request, name: str, default: bool) -> bool:
    value = request.query.get(name)
    return default if value is None else value.strip().lower() == "true"


def _parse_time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{name} is not an ISO 8601 date") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class DurableHttpApi:
    """aiohttp handlers for the Durable HTTP API, mounted under both prefixes."""

    def __init__(self, client: DurableClient, hub: str, system_key: str) -> None:
        self.client = client
        self.hub = hub
        self.system_key = system_key
        self.rpc_token = uuid.uuid4().hex
        self.rpc_prefix = f"/_durabletask/{self.rpc_token}"

    def rpc_base_url(self, origin: str) -> str:
        return f"{origin}{self.rpc_prefix}/"

    def add_routes(self, app: web.Application) -> None:
        operations = [
            ("POST", "/orchestrators/{functionName}", self.start),
            ("POST", "/orchestrators/{functionName}/{instanceId}", self.start),
            ("GET", "/instances", self.list_instances),
            ("GET", "/instances/", self.list_instances),
            ("DELETE", "/instances", self.purge_where),
            ("DELETE", "/instances/", self.purge_where),
            ("GET", "/instances/{instanceId}", self.status),
            ("DELETE", "/instances/{instanceId}", self.purge),
            ("POST", "/instances/{instanceId}/raiseEvent/{eventName}", self.raise_event),
            ("POST", "/instances/{instanceId}/terminate", self.terminate),
            ("POST", "/instances/{instanceId}/{operation}", self.unsupported),
        ]
        for method, path, handler in operations:
            app.router.add_route(method, PUBLIC_PREFIX + path, self._public(handler))
            app.router.add_route(method, self.rpc_prefix + path, handler)

    def _public(self, handler: Any) -> Any:
        async def guarded(request: web.Request) -> web.StreamResponse:
            given = request.query.get("code") or request.headers.get("x-functions-key") or ""
            if not key_matches(given, self.system_key):
                return _error(401, "A valid system key (code) is required.")
            response: web.StreamResponse = await handler(request)
            return response

        return guarded

    # -- payloads -------------------------------------------------------------------------------

    def management_payload(self, request: web.Request, instance_id: str) -> dict[str, str]:
        origin = f"{request.scheme}://{request.host}"
        instance = f"{origin}{PUBLIC_PREFIX}/instances/{quote(instance_id, safe='')}"
        query = f"taskHub={self.hub}&connection=Storage&code={self.system_key}"
        return {
            "id": instance_id,
            "statusQueryGetUri": f"{instance}?{query}",
            "sendEventPostUri": f"{instance}/raiseEvent/{{eventName}}?{query}",
            "terminatePostUri": f"{instance}/terminate?reason={{text}}&{query}",
            "purgeHistoryDeleteUri": f"{instance}?{query}",
            "restartPostUri": f"{instance}/restart?{query}",
            "suspendPostUri": f"{instance}/suspend?reason={{text}}&{query}",
            "resumePostUri": f"{instance}/resume?reason={{text}}&{query}",
        }

    async def status_payload(
        self, record: InstanceRecord, show_input: bool, history: bool, history_output: bool
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "name": record.name,
            "instanceId": record.instance_id,
            "runtimeStatus": record.status,
            "input": _json_value(record.input) if show_input else None,
            "customStatus": _json_value(record.custom_status),
            "output": _json_value(record.output),
            "createdTime": _timestamp(record.created),
            "lastUpdatedTime": _timestamp(record.updated),
        }
        if history:
            events = await self.client.get_history(record)
            payload["historyEvents"] = [friendly(e, history_output) for e in events]
        return payload

    # -- handlers -------------------------------------------------------------------------------

    async def start(self, request: web.Request) -> web.Response:
        name = request.match_info["functionName"]
        instance_id = request.match_info.get("instanceId") or uuid.uuid4().hex
        try:
            input_json = decode_payload(await request.read())
        except (ValueError, UnicodeDecodeError):
            return _error(400, "Invalid JSON content")
        try:
            await self.client.start_instance(name, instance_id, input_json, version=None)
        except (UnknownOrchestratorError, InvalidInstanceIdError) as exc:
            return _error(400, str(exc))
        except InstanceExistsError as exc:
            return _error(409, str(exc))
        payload = self.management_payload(request, instance_id)
        headers = {"Location": payload["statusQueryGetUri"], "Retry-After": "10"}
        return web.json_response(payload, status=202, headers=headers)

    async def status(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["instanceId"]
        show_input = _bool_query(request, "showInput", True)
        record = await self.client.get_instance(instance_id, with_input=show_input)
        if record is None:
            return web.Response(status=404)
        payload = await self.status_payload(
            record,
            show_input,
            _bool_query(request, "showHistory", False),
            _bool_query(request, "showHistoryOutput", False),
        )
        headers: dict[str, str] = {}
        if record.status in ACTIVE_STATES:
            code = 202
            headers = {"Location": str(request.url), "Retry-After": "5"}
        elif record.status == COMPLETED:
            code = 200
        elif record.status == FAILED and _bool_query(
            request, "returnInternalServerErrorOnFailure", False
        ):
            code = 500
        else:
            code = 400  # failed or terminated
        return web.json_response(payload, status=code, headers=headers)

    def _query(self, request: web.Request) -> InstanceQuery:
        statuses = [
            s.strip()
            for s in request.query.get("runtimeStatus", "").split(",")
            if s.strip() in ALL_STATES
        ]
        return InstanceQuery(
            statuses=statuses,
            created_from=_parse_time(request.query.get("createdTimeFrom"), "createdTimeFrom"),
            created_to=_parse_time(request.query.get("createdTimeTo"), "createdTimeTo"),
            id_prefix=request.query.get("instanceIdPrefix") or None,
        )

    async def list_instances(self, request: web.Request) -> web.Response:
        try:
            query = self._query(request)
        except ValueError as exc:
            return _error(400, str(exc))
        show_input = _bool_query(request, "showInput", False)
        try:
            top = int(request.query["top"]) if "top" in request.query else None
        except ValueError:
            return _error(400, "top must be an integer")
        token = request.headers.get(CONTINUATION_HEADER) or None
        try:
            records, next_token = await self.client.store.query_instances(
                query, page_size=top, continuation=token, with_input=show_input
            )
        except InvalidTokenError as exc:
            return _error(400, str(exc))
        payload = [await self.status_payload(r, show_input, False, False) for r in records]
        return web.json_response(payload, headers={CONTINUATION_HEADER: next_token or "null"})

    async def purge(self, request: web.Request) -> web.Response:
        try:
            await self.client.purge(request.match_info["instanceId"])
        except InstanceNotFoundError:
            return web.Response(status=404)
        except InstanceActiveError as exc:
            return _error(409, str(exc))
        return web.json_response({"instancesDeleted": 1})

    async def purge_where(self, request: web.Request) -> web.Response:
        try:
            query = self._query(request)
        except ValueError as exc:
            return _error(400, str(exc))
        if query.created_from is None:
            return _error(400, "createdTimeFrom is required to purge by filter")
        deleted = await self.client.purge_where(query)
        if deleted == 0:
            return web.Response(status=404)
        return web.json_response({"instancesDeleted": deleted})

    async def raise_event(self, request: web.Request) -> web.Response:
        if request.content_type.lower() != "application/json":
            return _error(400, "Only application/json request content is supported")
        try:
            data = decode_payload(await request.read())
        except (ValueError, UnicodeDecodeError):
            return _error(400, "Invalid JSON content")
        return await _accepted(
            self.client.raise_event(
                request.match_info["instanceId"], request.match_info["eventName"], data
            )
        )

    async def terminate(self, request: web.Request) -> web.Response:
        reason = request.query.get("reason", "")
        return await _accepted(self.client.terminate(request.match_info["instanceId"], reason))

    async def unsupported(self, request: web.Request) -> web.Response:
        operation = request.match_info["operation"]
        return _error(501, f"'{operation}' is not supported by the standalone host")
