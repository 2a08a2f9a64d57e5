"""GET /api/openapi.json: the OpenAPI 3.1 description, generated from the API's models."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df
import azure.functions as func
from pydantic import BaseModel

from orchestrations.api_common import API_KEY_HEADER, api_endpoint, json_response
from orchestrations.api_models import (
    ErrorResponse,
    Health,
    RepositoryScanTrigger,
    ScanAccepted,
    ScanAcceptedList,
    ScanList,
    ScanStatus,
    SubscriptionTrigger,
    TargetList,
    TargetOut,
)
from orchestrations.host_keys_api import host_key_paths
from orchestrations.scan_store import STATUSES
from orchestrations.scan_views_api import scan_view_paths
from orchestrations.target_kinds import KINDS
from scanner.reports import CONTENT_TYPES, FORMATS

bp = df.Blueprint()

_ERRORS = {
    400: "Malformed request (invalid JSON or parameter)",
    401: f"Missing or wrong {API_KEY_HEADER}",
    404: "Not found",
    409: "Conflict (e.g. a scan of this target is active; see activeScanId)",
    413: "Body too large",
    422: "The request is well-formed but not valid",
    502: "A system the service reads from (e.g. the Git server) failed",
    503: "The scan could not be started",
}


class _Spec:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: str = "serialization") -> dict[str, Any]:
        name = model.__name__ + ("Input" if mode == "validation" else "")
        if name not in self.schemas:
            schema = model.model_json_schema(
                by_alias=True,
                mode=mode,  # type: ignore[arg-type]
                ref_template="#/components/schemas/{model}"
                + ("Input" if mode == "validation" else ""),
            )
            for def_name, definition in schema.pop("$defs", {}).items():
                self.schemas.setdefault(
                    def_name + ("Input" if mode == "validation" else ""), definition
                )
            self.schemas[name] = schema
        return {"$ref": f"#/components/schemas/{name}"}

    def body(self, schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
        return {"required": required, "content": {"application/json": {"schema": schema}}}

    def responses(self, ok: dict[str, Any], errors: list[int]) -> dict[str, Any]:
        answers = dict(ok)
        error = self.ref(ErrorResponse)
        for code in [401, *errors]:
            answers[str(code)] = {
                "description": _ERRORS[code],
                "content": {"application/json": {"schema": error}},
            }
        return answers

    def json_ok(self, code: int, model: type[BaseModel], description: str) -> dict[str, Any]:
        return {
            str(code): {
                "description": description,
                "content": {"application/json": {"schema": self.ref(model)}},
            }
        }


def _path_param(name: str, description: str, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 256}
    if pattern:
        schema["pattern"] = pattern
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def build_openapi() -> dict[str, Any]:
    spec = _Spec()
    trigger_schemas = []
    for kind in KINDS.values():
        ref = spec.ref(kind.trigger_model, "validation")
        schema = spec.schemas[ref["$ref"].rsplit("/", 1)[1]]
        schema["required"] = sorted({*schema.get("required", []), "targetType"})
        trigger_schemas.append(ref)

    scan_id = _path_param("scanId", "Scan id (a ULID)")
    include = _query(
        "include", {"type": "string", "enum": ["items"]}, "items: add per-item results (done scans)"
    )
    paging = [
        _query(
            "limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "Page size"
        ),
        _query(
            "continuationToken", {"type": "string", "maxLength": 2048}, "From the previous page"
        ),
    ]
    scan_filters = [
        _query("targetId", {"type": "string", "maxLength": 256}, "Only scans of this target"),
        _query("targetType", {"type": "string", "enum": sorted(KINDS)}, "Only this target type"),
        _query("status", {"type": "string", "enum": list(STATUSES)}, "Only scans in this status"),
    ]
    accepted = {
        "202": {
            "description": "Started; poll statusUrl",
            "headers": {"Location": {"schema": {"type": "string"}}},
            "content": {"application/json": {"schema": spec.ref(ScanAccepted)}},
        }
    }
    paths: dict[str, Any] = {
        "/api/health": {
            "get": {
                "operationId": "health",
                "summary": "Liveness (no key needed)",
                "security": [],
                "responses": spec.json_ok(200, Health, "Service is up"),
            }
        },
        "/api/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": spec.responses(
                    {
                        "200": {
                            "description": "OpenAPI 3.1",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                    [],
                ),
            }
        },
        "/api/v1/scans": {
            "post": {
                "operationId": "triggerScan",
                "summary": "Start a scan of a host, repository or subscription",
                "requestBody": spec.body({"anyOf": trigger_schemas}),
                "responses": spec.responses(accepted, [400, 404, 409, 413, 422, 503]),
            },
            "get": {
                "operationId": "listScans",
                "summary": "Scans, newest first",
                "parameters": scan_filters + paging,
                "responses": spec.responses(spec.json_ok(200, ScanList, "A page of scans"), [400]),
            },
        },
        "/api/v1/scans/{scanId}": {
            "get": {
                "operationId": "getScan",
                "summary": "Status, progress, phase, counters; results when done",
                "parameters": [scan_id, include],
                "responses": spec.responses(spec.json_ok(200, ScanStatus, "The scan"), [400, 404]),
            }
        },
        "/api/v1/scans/{scanId}/cancel": {
            "post": {
                "operationId": "cancelScan",
                "summary": "Cancel an active scan (partial results are kept)",
                "parameters": [scan_id],
                "responses": spec.responses(spec.json_ok(200, ScanStatus, "Cancelled"), [404, 409]),
            }
        },
        "/api/v1/scans/{scanId}/report": {
            "get": {
                "operationId": "scanReport",
                "summary": "Findings report",
                "parameters": [
                    scan_id,
                    _query(
                        "format",
                        {"type": "string", "enum": list(FORMATS), "default": "json"},
                        "Report format",
                    ),
                ],
                "responses": spec.responses(
                    {
                        "200": {
                            "description": "The report",
                            "content": {
                                CONTENT_TYPES[f].split(";")[0]: {
                                    "schema": {
                                        "type": "string" if f in ("csv", "html") else "object"
                                    }
                                }
                                for f in FORMATS
                            },
                        }
                    },
                    [400, 404],
                ),
            }
        },
        "/api/v1/repositories/{repositoryId}/scan": {
            "post": {
                "operationId": "triggerRepositoryScan",
                "summary": "Scan a registered repository at a commit (default: HEAD of its branch)",
                "parameters": [
                    _path_param(
                        "repositoryId", "Repository id", r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
                    )
                ],
                "requestBody": spec.body(
                    spec.ref(RepositoryScanTrigger, "validation"), required=False
                ),
                "responses": spec.responses(accepted, [400, 404, 409, 413, 422, 503]),
            }
        },
        "/api/scans/trigger": {
            "post": {
                "operationId": "triggerSubscriptionScans",
                "summary": "Scan a subscription, or the configured default subscriptions",
                "requestBody": spec.body(
                    spec.ref(SubscriptionTrigger, "validation"), required=False
                ),
                "responses": spec.responses(
                    {
                        "202": {
                            "description": "Started",
                            "headers": {"Location": {"schema": {"type": "string"}}},
                            "content": {"application/json": {"schema": spec.ref(ScanAcceptedList)}},
                        }
                    },
                    [400, 404, 409, 413, 422, 503],
                ),
            }
        },
    }
    # The seeds' spellings of the same reads.
    for alias, original in (
        ("/api/scans", "/api/v1/scans"),
        ("/api/scans/{scanId}", "/api/v1/scans/{scanId}"),
    ):
        operation = dict(paths[original]["get"])
        operation["operationId"] += "Seed"
        operation["summary"] = f"Alias of {original}"
        paths[alias] = {"get": operation}
    for kind in KINDS.values():
        if not kind.plural or kind.registration_model is None or kind.update_model is None:
            continue
        collection = f"/api/v1/{kind.plural}"
        item = _path_param("targetId", f"{kind.name} id")
        update = {
            "requestBody": spec.body(spec.ref(kind.update_model, "validation")),
            "parameters": [item],
            "responses": spec.responses(
                spec.json_ok(200, TargetOut, "Updated"), [400, 404, 409, 413, 422]
            ),
        }
        paths[collection] = {
            "post": {
                "operationId": f"register_{kind.name}",
                "summary": f"Register a {kind.name}",
                "requestBody": spec.body(spec.ref(kind.registration_model, "validation")),
                "responses": spec.responses(
                    {
                        "201": {
                            "description": "Registered",
                            "headers": {"Location": {"schema": {"type": "string"}}},
                            "content": {"application/json": {"schema": spec.ref(TargetOut)}},
                        }
                    },
                    [400, 409, 413, 422],
                ),
            },
            "get": {
                "operationId": f"list_{kind.plural}",
                "summary": f"Registered {kind.plural}",
                "parameters": [
                    _query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                        "Page size",
                    ),
                    paging[1],
                ],
                "responses": spec.responses(spec.json_ok(200, TargetList, "A page"), [400]),
            },
        }
        paths[f"{collection}/{{targetId}}"] = {
            "get": {
                "operationId": f"get_{kind.name}",
                "summary": f"One {kind.name}",
                "parameters": [item],
                "responses": spec.responses(spec.json_ok(200, TargetOut, "The target"), [404]),
            },
            "put": {
                "operationId": f"replace_{kind.name}",
                "summary": f"Update a {kind.name}",
                **update,
            },
            "patch": {
                "operationId": f"update_{kind.name}",
                "summary": f"Update a {kind.name}",
                **update,
            },
            "delete": {
                "operationId": f"delete_{kind.name}",
                "summary": f"Forget a {kind.name} (its scans stay)",
                "parameters": [item],
                "responses": spec.responses({"204": {"description": "Deleted"}}, [404]),
            },
        }
    paths.update(host_key_paths(spec))
    paths.update(scan_view_paths(spec))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Scan orchestration service",
            "version": "1.0.0",
            "description": "Trigger and track compliance and inventory scans of Git repositories, "
            "Azure subscriptions and Linux hosts. Every call but /api/health needs X-API-Key.",
        },
        "paths": paths,
        "components": {
            "schemas": spec.schemas,
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}
            },
        },
        "security": [{"ApiKey": []}],
    }


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@api_endpoint()
def openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(build_openapi())
