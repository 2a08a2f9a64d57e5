"""The route table: every HTTP function's route, methods and operations, in one place, with
the role each operation needs and the audit action each change records.

The handlers register with these routes and check their roles, the OpenAPI document is built
from them and the tests call every route with every role. Routes are Functions route templates
(without the `/api` prefix); `{kind}` stands for each registered target kind's plural
(`repositories`, `hosts`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrations.identity.roles import Role

PREFIX = "/api"
KIND = "{kind}"
PUBLIC = None
READER, OPERATOR, ADMIN = Role.READER, Role.OPERATOR, Role.ADMIN


@dataclass(frozen=True)
class Operation:
    method: str
    operation_id: str  # `{Kind}`/`{Kinds}`: the kind's name/plural, capitalised
    summary: str
    role: Role | None  # who may call it; PUBLIC (None): anyone
    change: str | None = None  # the audit action a successful call records


@dataclass(frozen=True)
class Route:
    """One HTTP function: its route template and the operations it serves."""

    template: str
    operations: tuple[Operation, ...]

    @property
    def methods(self) -> list[str]:
        return [operation.method for operation in self.operations]

    def operation(self, method: str) -> Operation | None:
        return next((o for o in self.operations if o.method == method.upper()), None)

    def path(self, plural: str | None = None) -> str:
        """The OpenAPI path, e.g. `/api/v1/scans/{scanId}` (`plural` fills `{kind}`)."""
        template = self.template.replace(KIND, plural) if plural else self.template
        return f"{PREFIX}/{template}"

    @property
    def per_kind(self) -> bool:
        return KIND in self.template


HEALTH = Route("health", (Operation("GET", "getHealth", "Liveness (no key needed)", PUBLIC),))
OPENAPI = Route("openapi.json", (Operation("GET", "getOpenApiDocument", "This document", READER),))

START_SCAN = Route(
    "v1/scans",
    (
        Operation(
            "POST",
            "startScan",
            "Start a scan of a host, repository or subscription (queued when its kind is busy)",
            OPERATOR,
            "scan.started",
        ),
    ),
)
LIST_SCANS = Route("v1/scans", (Operation("GET", "listScans", "Scans, newest first", READER),))
GET_SCAN = Route(
    "v1/scans/{scanId}",
    (
        Operation(
            "GET",
            "getScan",
            "Status (a queued scan with its place), progress, phase, counters; results when done",
            READER,
        ),
    ),
)
CANCEL_SCAN = Route(
    "v1/scans/{scanId}/cancel",
    (
        Operation(
            "POST",
            "cancelScan",
            "Cancel an active or queued scan (partial results are kept)",
            OPERATOR,
            "scan.cancelled",
        ),
    ),
)
SCAN_REPORT = Route(
    "v1/scans/{scanId}/report",
    (Operation("GET", "getScanReport", "Findings report", READER),),
)
SCAN_FINDINGS = Route(
    "v1/scans/{scanId}/findings",
    (
        Operation(
            "GET",
            "listScanFindings",
            "Every finding of a scan, with its service family and controls",
            READER,
        ),
    ),
)
SCAN_TRACE = Route(
    "v1/scans/{scanId}/trace",
    (
        Operation(
            "GET",
            "getScanTrace",
            "A repository scan's artifacts and links, for the trace matrix",
            READER,
        ),
    ),
)
SCAN_DOCUMENT = Route(
    "v1/scans/{scanId}/source",
    (
        Operation(
            "GET",
            "getScanDocument",
            "One document of a repository scan at the scanned commit",
            READER,
        ),
    ),
)
SCAN_DIFF = Route(
    "v1/scans/{scanId}/diff",
    (
        Operation(
            "GET", "getScanDiff", "What changed since an earlier scan of the same target", READER
        ),
    ),
)
START_REPOSITORY_SCAN = Route(
    "v1/repositories/{repositoryId}/scan",
    (
        Operation(
            "POST",
            "startRepositoryScan",
            "Scan a registered repository at a commit (default: HEAD of its branch)",
            OPERATOR,
            "scan.started",
        ),
    ),
)
START_SUBSCRIPTION_SCANS = Route(
    "scans/trigger",
    (
        Operation(
            "POST",
            "startSubscriptionScans",
            "Scan a subscription, or the configured default subscriptions",
            OPERATOR,
            "scan.started",
        ),
    ),
)
# The unversioned spellings of two reads, kept for existing clients.
LIST_SCANS_UNVERSIONED = Route(
    "scans", (Operation("GET", "listScansUnversioned", "Alias of /api/v1/scans", READER),)
)
GET_SCAN_UNVERSIONED = Route(
    "scans/{scanId}",
    (Operation("GET", "getScanUnversioned", "Alias of /api/v1/scans/{scanId}", READER),),
)

REGISTER_TARGET = Route(
    "v1/{kind}",
    (Operation("POST", "register{Kind}", "Register a {kind}", ADMIN, "target.registered"),),
)
LIST_TARGETS = Route("v1/{kind}", (Operation("GET", "list{Kinds}", "Registered {kinds}", READER),))
GET_TARGET = Route("v1/{kind}/{targetId}", (Operation("GET", "get{Kind}", "One {kind}", READER),))
UPDATE_TARGET = Route(
    "v1/{kind}/{targetId}",
    (
        Operation("PUT", "replace{Kind}", "Update a {kind}", ADMIN, "target.updated"),
        Operation("PATCH", "update{Kind}", "Update a {kind}", ADMIN, "target.updated"),
    ),
)
DELETE_TARGET = Route(
    "v1/{kind}/{targetId}",
    (
        Operation(
            "DELETE", "delete{Kind}", "Forget a {kind} (its scans stay)", ADMIN, "target.deleted"
        ),
    ),
)

HOST_KEY_ROUTE = "v1/hosts/{hostId}/host-key"
GET_HOST_KEY = Route(
    HOST_KEY_ROUTE,
    (Operation("GET", "getHostKey", "The SSH host key recorded for a host", READER),),
)
PIN_HOST_KEY = Route(
    HOST_KEY_ROUTE,
    (
        Operation(
            "PUT",
            "pinHostKey",
            "Pin a host's SSH host key (admits it under the strict policy)",
            ADMIN,
            "hostKey.pinned",
        ),
    ),
)
FORGET_HOST_KEY = Route(
    HOST_KEY_ROUTE,
    (
        Operation(
            "DELETE",
            "forgetHostKey",
            "Forget a host's SSH host key (the next scan records the new one)",
            ADMIN,
            "hostKey.forgotten",
        ),
    ),
)

# Accepting a risk is the admin's: it hides findings from every gate, as changing a target or a
# host key changes what scans see (docs/identity.md says why no lesser role may).
CREATE_EXCEPTION = Route(
    "v1/exceptions",
    (
        Operation(
            "POST",
            "createException",
            "Accept findings (by fingerprint, or by rule and resource pattern) until a date",
            ADMIN,
            "exception.created",
        ),
    ),
)
LIST_EXCEPTIONS = Route(
    "v1/exceptions",
    (Operation("GET", "listExceptions", "Exceptions, expired ones marked", READER),),
)
GET_EXCEPTION = Route(
    "v1/exceptions/{exceptionId}",
    (Operation("GET", "getException", "One exception", READER),),
)
DELETE_EXCEPTION = Route(
    "v1/exceptions/{exceptionId}",
    (
        Operation(
            "DELETE",
            "deleteException",
            "Withdraw an exception (its findings count again at once)",
            ADMIN,
            "exception.deleted",
        ),
    ),
)

LIST_AUDIT_ENTRIES = Route(
    "v1/audit",
    (
        Operation(
            "GET",
            "listAuditEntries",
            "Changes made through the API, newest first: who, what, when, from where",
            ADMIN,
        ),
    ),
)

ROUTES: tuple[Route, ...] = (
    HEALTH,
    OPENAPI,
    START_SCAN,
    LIST_SCANS,
    GET_SCAN,
    CANCEL_SCAN,
    SCAN_REPORT,
    SCAN_DIFF,
    SCAN_FINDINGS,
    SCAN_TRACE,
    SCAN_DOCUMENT,
    START_REPOSITORY_SCAN,
    START_SUBSCRIPTION_SCANS,
    LIST_SCANS_UNVERSIONED,
    GET_SCAN_UNVERSIONED,
    REGISTER_TARGET,
    LIST_TARGETS,
    GET_TARGET,
    UPDATE_TARGET,
    DELETE_TARGET,
    GET_HOST_KEY,
    PIN_HOST_KEY,
    FORGET_HOST_KEY,
    CREATE_EXCEPTION,
    LIST_EXCEPTIONS,
    GET_EXCEPTION,
    DELETE_EXCEPTION,
    LIST_AUDIT_ENTRIES,
)
