"""GET /api/openapi.json: the OpenAPI 3.1 document, built from the route table and the models.

Paths, methods, operationIds and summaries come from `routes.ROUTES` (the table the handlers
register with); this module adds what each operation takes and answers.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df
import azure.functions as func
from pydantic import BaseModel

from orchestrations.api import routes
from orchestrations.api.audit import AuditList
from orchestrations.api.comparison_models import ScanComparison
from orchestrations.api.compliance_models import ComplianceReport
from orchestrations.api.exceptions import (
    EXCEPTION_ID_PATTERN,
    MAX_EXCEPTION_DAYS,
    ExceptionIn,
    ExceptionList,
    ExceptionOut,
)
from orchestrations.api.host_keys import HOST_ID_PATTERN, HostKeyIn, HostKeys
from orchestrations.api.http import MAX_BODY_BYTES, MAX_BODY_DEPTH, json_response, route
from orchestrations.api.models import (
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
from orchestrations.api.scan_views import FindingList, SourceView, TraceView
from orchestrations.core.lifecycle import STATUSES
from orchestrations.core.models import ID_PATTERN
from orchestrations.identity.authentication import API_KEY_HEADER
from orchestrations.identity.roles import APP_ROLES
from orchestrations.scans.kinds import KINDS, TargetKind
from scanner.reports import CONTENT_TYPES, FORMATS
from scanner.subscription.frameworks import known_frameworks

bp = df.Blueprint()

_ERRORS = {
    400: f"Malformed request: a parameter, or a body that is not a UTF-8 JSON object nested at "
    f"most {MAX_BODY_DEPTH} levels deep",
    401: f"No valid credentials (an Entra ID bearer token or an {API_KEY_HEADER})",
    403: "Valid credentials without the role this operation needs (see requiredRole)",
    404: "Not found",
    409: "Conflict (e.g. a scan of this target is active; see activeScanId)",
    413: f"Body larger than {MAX_BODY_BYTES} bytes",
    415: "Body not application/json",
    422: "The request is well-formed but not valid",
    502: "A system the service reads from (e.g. the Git server) failed",
    503: "The scan could not be started",
}
_START_ERRORS = [400, 404, 409, 413, 415, 422, 503]


class _Spec:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: str = "serialization") -> dict[str, Any]:
        suffix = "Input" if mode == "validation" else ""
        name = model.__name__ + suffix
        if name not in self.schemas:
            schema = model.model_json_schema(
                by_alias=True,
                mode=mode,  # type: ignore[arg-type]
                ref_template="#/components/schemas/{model}" + suffix,
            )
            for def_name, definition in schema.pop("$defs", {}).items():
                self.schemas.setdefault(def_name + suffix, definition)
            self.schemas[name] = schema
        return {"$ref": f"#/components/schemas/{name}"}

    def body(self, schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
        return {"required": required, "content": {"application/json": {"schema": schema}}}

    def responses(self, ok: dict[str, Any], errors: list[int]) -> dict[str, Any]:
        """The answers of an operation that needs a role: `ok`, 401, 403 and `errors`."""
        answers = dict(ok)
        error = self.ref(ErrorResponse)
        for code in [401, 403, *errors]:
            answers[str(code)] = {
                "description": _ERRORS[code],
                "content": {"application/json": {"schema": error}},
            }
        return answers

    def json_ok(
        self, code: int, model: type[BaseModel], description: str, location: bool = False
    ) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "description": description,
            "content": {"application/json": {"schema": self.ref(model)}},
        }
        if location:
            answer["headers"] = {"Location": {"schema": {"type": "string"}}}
        return {str(code): answer}


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


_TOKEN = _query(
    "continuationToken", {"type": "string", "maxLength": 2048}, "From the previous page"
)


def _page_size(default: int, maximum: int) -> dict[str, Any]:
    return _query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
        "Page size",
    )


def _scan_operations(spec: _Spec) -> dict[routes.Route, dict[str, Any]]:
    """What each scan operation takes and answers, by route."""
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
    listing = {
        "parameters": [
            _query("targetId", {"type": "string", "maxLength": 256}, "Only scans of this target"),
            _query(
                "targetType", {"type": "string", "enum": sorted(KINDS)}, "Only this target type"
            ),
            _query(
                "status", {"type": "string", "enum": list(STATUSES)}, "Only scans in this status"
            ),
            _page_size(20, 100),
            _TOKEN,
        ],
        "responses": spec.responses(spec.json_ok(200, ScanList, "A page of scans"), [400]),
    }
    one_scan = {
        "parameters": [scan_id, include],
        "responses": spec.responses(spec.json_ok(200, ScanStatus, "The scan"), [400, 404]),
    }
    started = spec.json_ok(202, ScanAccepted, "Started; poll statusUrl", location=True)
    report_schemas: dict[str, Any] = {
        CONTENT_TYPES[f].split(";")[0]: {
            "schema": {"type": "string" if f in ("csv", "html") else "object"}
        }
        for f in FORMATS
    }
    report_schemas["application/json"]["schema"] = {
        "anyOf": [
            {"type": "object", "description": "The findings report"},
            spec.ref(ComplianceReport),
        ]
    }
    report = {
        "200": {
            "description": "The report; with `framework`, the compliance view (ComplianceReport)",
            "content": report_schemas,
        }
    }
    return {
        routes.START_SCAN: {
            "requestBody": spec.body({"anyOf": trigger_schemas}),
            "responses": spec.responses(started, _START_ERRORS),
        },
        routes.LIST_SCANS: listing,
        routes.LIST_SCANS_UNVERSIONED: listing,
        routes.GET_SCAN: one_scan,
        routes.GET_SCAN_UNVERSIONED: one_scan,
        routes.CANCEL_SCAN: {
            "parameters": [scan_id],
            "responses": spec.responses(spec.json_ok(200, ScanStatus, "Cancelled"), [404, 409]),
        },
        routes.SCAN_REPORT: {
            "parameters": [
                scan_id,
                _query(
                    "format",
                    {"type": "string", "enum": list(FORMATS), "default": "json"},
                    "Report format",
                ),
                _query(
                    "framework",
                    {"type": "string", "enum": list(known_frameworks())},
                    "Subscription scans: the scan seen through a compliance framework (JSON "
                    "only): every control of CIS Microsoft Azure Foundations Benchmark v3.0.0 "
                    "with its status (pass, fail, error, not-applicable, not-checked), reason, "
                    "rules, their evaluated and finding counts and the findings' resources; "
                    "totals by status. An unknown framework is a 400 naming the known ones; a "
                    "scan of another kind a 422.",
                ),
            ],
            "responses": spec.responses(report, [400, 404, 422]),
        },
        routes.SCAN_FINDINGS: {
            "parameters": [scan_id],
            "responses": spec.responses(spec.json_ok(200, FindingList, "The findings"), [404]),
        },
        routes.SCAN_TRACE: {
            "parameters": [scan_id],
            "responses": spec.responses(spec.json_ok(200, TraceView, "The artifacts"), [404, 409]),
        },
        routes.SCAN_DOCUMENT: {
            "parameters": [
                scan_id,
                {
                    "name": "path",
                    "in": "query",
                    "required": True,
                    "description": "The document's path, as the trace matrix names it",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 4096},
                },
            ],
            "responses": spec.responses(
                spec.json_ok(200, SourceView, "The document"), [404, 409, 502]
            ),
        },
        routes.START_REPOSITORY_SCAN: {
            "parameters": [_path_param("repositoryId", "Repository id", ID_PATTERN)],
            "requestBody": spec.body(spec.ref(RepositoryScanTrigger, "validation"), False),
            "responses": spec.responses(started, _START_ERRORS),
        },
        routes.START_SUBSCRIPTION_SCANS: {
            "requestBody": spec.body(spec.ref(SubscriptionTrigger, "validation"), False),
            "responses": spec.responses(
                spec.json_ok(202, ScanAcceptedList, "Started", location=True), _START_ERRORS
            ),
        },
    }


def _target_operations(spec: _Spec, kind: TargetKind) -> dict[routes.Route, dict[str, Any]]:
    """What each operation on one kind's registry takes and answers, by route."""
    assert kind.registration_model is not None and kind.update_model is not None
    item = _path_param("targetId", f"{kind.name} id")
    return {
        routes.REGISTER_TARGET: {
            "requestBody": spec.body(spec.ref(kind.registration_model, "validation")),
            "responses": spec.responses(
                spec.json_ok(201, TargetOut, "Registered", location=True), [400, 409, 413, 415, 422]
            ),
        },
        routes.LIST_TARGETS: {
            "parameters": [_page_size(50, 200), _TOKEN],
            "responses": spec.responses(spec.json_ok(200, TargetList, "A page"), [400]),
        },
        routes.GET_TARGET: {
            "parameters": [item],
            "responses": spec.responses(spec.json_ok(200, TargetOut, "The target"), [404]),
        },
        routes.UPDATE_TARGET: {
            "requestBody": spec.body(spec.ref(kind.update_model, "validation")),
            "parameters": [item],
            "responses": spec.responses(
                spec.json_ok(200, TargetOut, "Updated"), [400, 404, 409, 413, 415, 422]
            ),
        },
        routes.DELETE_TARGET: {
            "parameters": [item],
            "responses": spec.responses({"204": {"description": "Deleted"}}, [404]),
        },
    }


def _host_key_operations(spec: _Spec) -> dict[routes.Route, dict[str, Any]]:
    host = {
        "name": "hostId",
        "in": "path",
        "required": True,
        "description": "Host id: <hostname>-<port>, e.g. example.com-22",
        "schema": {"type": "string", "minLength": 3, "maxLength": 259, "pattern": HOST_ID_PATTERN},
    }
    keys = spec.json_ok(200, HostKeys, "The host's recorded key(s)")
    return {
        routes.GET_HOST_KEY: {
            "parameters": [host],
            "responses": spec.responses(keys, [400, 404]),
        },
        routes.PIN_HOST_KEY: {
            "parameters": [host],
            "requestBody": spec.body(spec.ref(HostKeyIn, "validation")),
            "responses": spec.responses(keys, [400, 413, 415, 422]),
        },
        routes.FORGET_HOST_KEY: {
            "parameters": [host],
            "responses": spec.responses({"204": {"description": "Forgotten"}}, [400, 404]),
        },
    }


EXCEPTIONS_DESCRIPTION = f"""An exception accepts findings: one by its `fingerprint`, or a rule's
(`ruleId`) whose resource id, document, file or host subject matches `resourcePattern` (a
case-insensitive glob; without one, all of the rule's findings), optionally only on one
`targetId`. It needs a `reason`, an `owner` and `expiresAt`, in the future and at most
{MAX_EXCEPTION_DAYS} days ahead. Until it expires, the findings it covers are listed as
`accepted` (with the exception's id, reason, owner and expiry) in findings, reports and
comparisons, and are left out of the severity counts that gates read. It acts whenever findings
are read: no rescan is needed, and an expired or deleted exception covers nothing at once."""


def _exception_operations(spec: _Spec) -> dict[routes.Route, dict[str, Any]]:
    exception_id = _path_param("exceptionId", "Exception id (a ULID)", EXCEPTION_ID_PATTERN)
    return {
        routes.CREATE_EXCEPTION: {
            "description": EXCEPTIONS_DESCRIPTION,
            "requestBody": spec.body(spec.ref(ExceptionIn, "validation")),
            "responses": spec.responses(
                spec.json_ok(201, ExceptionOut, "Created", location=True), [400, 413, 415, 422]
            ),
        },
        routes.LIST_EXCEPTIONS: {
            "parameters": [
                _query(
                    "status",
                    {"type": "string", "enum": ["active", "expired"]},
                    "Only active or only expired exceptions",
                )
            ],
            "responses": spec.responses(spec.json_ok(200, ExceptionList, "Exceptions"), [400]),
        },
        routes.GET_EXCEPTION: {
            "parameters": [exception_id],
            "responses": spec.responses(spec.json_ok(200, ExceptionOut, "The exception"), [404]),
        },
        routes.DELETE_EXCEPTION: {
            "parameters": [exception_id],
            "responses": spec.responses({"204": {"description": "Deleted"}}, [404]),
        },
    }


def _service_operations(spec: _Spec) -> dict[routes.Route, dict[str, Any]]:
    return {
        routes.HEALTH: {"responses": spec.json_ok(200, Health, "Service is up")},
        routes.OPENAPI: {
            "responses": spec.responses(
                {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
                [],
            )
        },
        routes.LIST_AUDIT_ENTRIES: {
            "parameters": [_page_size(50, 200), _TOKEN],
            "responses": spec.responses(spec.json_ok(200, AuditList, "A page of entries"), [400]),
        },
    }


DIFF_DESCRIPTION = """Compares two completed scans of one target. `against=previous` (the
default) takes the latest completed scan of the same target before this one; otherwise name a
scan id. Findings match by fingerprint (rule id, the thing the finding is about and a normalized
location; never line numbers or message text); facts are compared per target type. Answers 404
for an unknown scan, 409 when either scan has not completed, 422 when the scans are of different
targets, and 200 with `baseline: null` when there is no earlier scan (every finding is then
new). `format=sarif` marks results with SARIF 2.1.0 `baselineState` (new, unchanged, absent)."""


def _diff_operations(spec: _Spec) -> dict[routes.Route, dict[str, Any]]:
    schemas = {
        "json": spec.ref(ScanComparison),
        "sarif": {"type": "object", "description": "SARIF 2.1.0 log with baselineState"},
        "csv": {"type": "string"},
        "html": {"type": "string"},
    }
    return {
        routes.SCAN_DIFF: {
            "description": DIFF_DESCRIPTION,
            "parameters": [
                _path_param("scanId", "The scan to compare (a ULID)"),
                _query(
                    "against",
                    {"type": "string", "maxLength": 64, "default": "previous"},
                    "`previous` or the id of the baseline scan",
                ),
                _query(
                    "format",
                    {"type": "string", "enum": list(FORMATS), "default": "json"},
                    "Answer format",
                ),
            ],
            "responses": spec.responses(
                {
                    "200": {
                        "description": "The comparison",
                        "content": {
                            CONTENT_TYPES[f].split(";")[0]: {"schema": schemas[f]} for f in FORMATS
                        },
                    }
                },
                [400, 404, 409, 422],
            ),
        }
    }


def _add(
    paths: dict[str, Any],
    served: routes.Route,
    details: dict[str, Any],
    kind: TargetKind | None = None,
) -> None:
    """The route's operations under its path (for `kind`: under that kind's collection)."""
    path = served.path(kind.plural if kind else None)
    for operation in served.operations:
        names = {"{Kind}": "", "{Kinds}": "", "{kind}": "", "{kinds}": ""}
        if kind is not None and kind.plural:
            names = {
                "{Kind}": kind.name.capitalize(),
                "{Kinds}": kind.plural.capitalize(),
                "{kind}": kind.name,
                "{kinds}": kind.plural,
            }
        operation_id, summary = operation.operation_id, operation.summary
        for placeholder, value in names.items():
            operation_id = operation_id.replace(placeholder, value)
            summary = summary.replace(placeholder, value)
        paths.setdefault(path, {})[operation.method.lower()] = {
            "operationId": operation_id,
            "summary": summary,
            **_security(operation),
            **details,
        }


_APP_ROLE_OF = {role: value for value, role in APP_ROLES.items()}


def _security(operation: routes.Operation) -> dict[str, Any]:
    """Who may call it, from the route table: the role names in each scheme's requirement (as
    OpenAPI 3.1 allows for schemes other than OAuth2) and `x-required-role`."""
    if operation.role is None:
        return {"security": []}
    return {
        "security": [
            {"ApiKey": [operation.role.label]},
            {"EntraId": [_APP_ROLE_OF[operation.role]]},
        ],
        "x-required-role": operation.role.label,
    }


def build_openapi() -> dict[str, Any]:
    spec = _Spec()
    paths: dict[str, Any] = {}
    described: set[routes.Route] = set()
    for served, details in {
        **_service_operations(spec),
        **_scan_operations(spec),
        **_diff_operations(spec),
        **_host_key_operations(spec),
        **_exception_operations(spec),
    }.items():
        _add(paths, served, details)
        described.add(served)
    for kind in KINDS.values():
        if kind.plural and kind.registration_model and kind.update_model:
            for served, details in _target_operations(spec, kind).items():
                _add(paths, served, details, kind)
                described.add(served)
    missing = [r.template for r in routes.ROUTES if r not in described]
    if missing:
        raise RuntimeError(f"routes without an OpenAPI description: {missing}")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Scan orchestration service",
            "version": "1.0.0",
            "description": "Trigger and track compliance and inventory scans of Git repositories, "
            "Azure subscriptions and Linux hosts. Every call but /api/health needs an Entra ID "
            "access token or an API key holding the operation's role (x-required-role): reader, "
            "operator or admin.",
        },
        "paths": paths,
        "components": {
            "schemas": spec.schemas,
            "securitySchemes": {
                "ApiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": API_KEY_HEADER,
                    "description": "A scoped API key (name:role:key in the service's settings)",
                },
                "EntraId": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An Entra ID access token for the API's app registration; "
                    "the role comes from its app roles (Scans.Read, Scans.Run, Scans.Admin)",
                },
            },
        },
        "security": [{"ApiKey": []}, {"EntraId": []}],
    }


@route(bp, routes.OPENAPI)
def openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(build_openapi())
