"""Telemetry: Azure Monitor export (OpenTelemetry) when configured, and scan-scoped log records.

`configure_telemetry()` turns on the azure-monitor-opentelemetry distro only when
`APPLICATIONINSIGHTS_CONNECTION_STRING` is set; otherwise it does nothing, so the standalone host
and the tests pay nothing for it. The distro is imported inside the function: it pulls in the
OpenTelemetry SDK and several instrumentations, which would slow every cold start.

Application Insights in Azure has local (key) authentication disabled, so ingestion needs an Entra
token: `APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD;ClientId=<client id>` (set by
the Bicep) selects the user-assigned managed identity. Without that setting, `AZURE_CLIENT_ID`
selects it when the process runs under a managed-identity endpoint (`IDENTITY_ENDPOINT`).

One scheme names the scan on log records: `scan_context()` sets the scan in a context variable,
and a log record factory gives every record made inside it `scanId`, `targetId` (and `phase`)
attributes (custom dimensions in Application Insights) and a `scan=<id> target=<id>` prefix, so
the plain log lines show them too; engines log as usual. `scan_logger()` is a logger that writes
each record inside its scan's context. `log_scan_started()` / `log_scan_finished()` write the two
records the Portal workbook (infra/workbooks/scans.workbook.json) is built on.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

log = logging.getLogger(__name__)

CONNECTION_STRING_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
AUTHENTICATION_STRING_SETTING = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"

# Custom dimension names; the workbook and docs/operations.md query these exact keys.
SCAN_ID = "scanId"
TARGET_ID = "targetId"
TARGET_TYPE = "targetType"
PHASE = "phase"
EVENT = "event"
STATUS = "status"
DURATION_SECONDS = "durationSeconds"
FINDINGS = "findings"
NEW_FINDINGS = "newFindings"
RESOLVED_FINDINGS = "resolvedFindings"
ERROR_MESSAGE = "errorMessage"

SCAN_STARTED = "scan.started"
SCAN_FINISHED = "scan.finished"

# The Azure SDK logs every HTTP request at INFO; exported, that is one trace per storage call.
_NOISY_LOGGERS = ("azure.core.pipeline.policies.http_logging_policy",)
# Web frameworks and database drivers the app does not use: loading their instrumentations
# (and the frameworks they import) would only lengthen the cold start.
_UNUSED_INSTRUMENTATIONS = ("django", "fastapi", "flask", "psycopg2")

_lock = threading.Lock()
_configured = False


def parse_authentication_string(value: str) -> dict[str, str]:
    """`Authorization=AAD;ClientId=...` -> {"authorization": "AAD", "clientid": "..."}.

    Keys are lower-cased; malformed parts (no `=`) are ignored rather than raised on.
    """
    pairs: dict[str, str] = {}
    for part in value.split(";"):
        key, sep, item = part.partition("=")
        if sep and key.strip():
            pairs[key.strip().lower()] = item.strip()
    return pairs


def entra_client_id() -> tuple[bool, str | None]:
    """Whether ingestion must use a managed identity, and which one (None: system-assigned)."""
    client_id = os.environ.get("AZURE_CLIENT_ID", "").strip() or None
    auth = parse_authentication_string(os.environ.get(AUTHENTICATION_STRING_SETTING, ""))
    if auth.get("authorization", "").upper() == "AAD":
        return True, auth.get("clientid") or client_id
    if not auth and client_id and os.environ.get("IDENTITY_ENDPOINT"):
        return True, client_id
    return False, None


def _managed_identity_credential(client_id: str | None) -> TokenCredential:
    from azure.identity import ManagedIdentityCredential

    if client_id:
        return ManagedIdentityCredential(client_id=client_id)
    return ManagedIdentityCredential()


def configure_telemetry() -> bool:
    """Export logs, traces and metrics to Application Insights when a connection string is set.

    Returns True when the exporter is (or already was) configured, False when telemetry stays
    local. Safe to call more than once; only the first call with a connection string acts.
    """
    global _configured
    connection_string = os.environ.get(CONNECTION_STRING_SETTING, "").strip()
    if not connection_string:
        return False
    with _lock:
        if _configured:
            return True
        from azure.monitor.opentelemetry import configure_azure_monitor

        options: dict[str, Any] = {
            "connection_string": connection_string,
            "instrumentation_options": {
                name: {"enabled": False} for name in _UNUSED_INSTRUMENTATIONS
            },
        }
        use_entra, client_id = entra_client_id()
        if use_entra:
            options["credential"] = _managed_identity_credential(client_id)
        configure_azure_monitor(**options)
        for name in _NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        _configured = True
    log.info(
        "Azure Monitor telemetry enabled (authentication: %s)",
        "managed identity" if use_entra else "connection string",
    )
    return True


class ScanLoggerAdapter(logging.LoggerAdapter[logging.Logger]):
    """A logger for one scan: each record it writes is made inside that scan's context."""

    def __init__(self, logger: logging.Logger, extra: Mapping[str, object]) -> None:
        super().__init__(logger, dict(extra))

    @property
    def dimensions(self) -> dict[str, object]:
        return dict(self.extra or {})

    def with_phase(self, phase: str | None) -> ScanLoggerAdapter:
        """The same scan's logger for another phase."""
        dims = self.dimensions
        dims.pop(PHASE, None)
        if phase is not None:
            dims[PHASE] = phase
        return ScanLoggerAdapter(self.logger, dims)

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        dims = self.dimensions
        # A per-call `extra` may override the scan's dimensions (logging refuses an `extra`
        # key the record already has, so those go into the context instead).
        extra = dict(kwargs.get("extra") or {})
        for key in (SCAN_ID, TARGET_ID, PHASE):
            if key in extra:
                dims[key] = extra.pop(key)
        kwargs["extra"] = extra
        # Attribute the record to our caller, not to this method.
        kwargs["stacklevel"] = int(kwargs.get("stacklevel", 1)) + 1
        with scan_context(str(dims[SCAN_ID]), str(dims[TARGET_ID]), dims.get(PHASE)):  # type: ignore[arg-type]
            self.logger.log(level, msg, *args, **kwargs)


def scan_logger(
    logger: logging.Logger, scan_id: str, target_id: str, phase: str | None = None
) -> ScanLoggerAdapter:
    """A logger whose records carry `scanId`, `targetId` and (when given) `phase`."""
    dims: dict[str, object] = {SCAN_ID: scan_id, TARGET_ID: target_id}
    if phase is not None:
        dims[PHASE] = phase
    return ScanLoggerAdapter(logger, dims)


def log_scan_started(scan_log: logging.Logger | ScanLoggerAdapter, target_type: str) -> None:
    """The record that opens a scan in the workbook (event `scan.started`); `scan_log` is a
    scan's logger, or any logger inside `scan_context`."""
    scan_log.info(
        "scan started (%s)",
        target_type,
        extra={EVENT: SCAN_STARTED, TARGET_TYPE: target_type, STATUS: "running"},
    )


def log_scan_finished(
    scan_log: logging.Logger | ScanLoggerAdapter,
    *,
    target_type: str,
    status: str,
    duration_seconds: float,
    findings: int,
    error_message: str | None = None,
    new_findings: int | None = None,
    resolved_findings: int | None = None,
) -> None:
    """The record the workbook counts (event `scan.finished`): status, duration and findings;
    for a completed scan also its findings new and resolved since the target's previous scan.

    Write it once per scan, from an activity or outside orchestrator replay, so a replay does not
    count the scan twice. `status` is the scan's terminal status (completed, failed, cancelled).
    """
    extra: dict[str, object] = {
        EVENT: SCAN_FINISHED,
        TARGET_TYPE: target_type,
        STATUS: status,
        DURATION_SECONDS: round(float(duration_seconds), 3),
        FINDINGS: int(findings),
    }
    if error_message:
        extra[ERROR_MESSAGE] = error_message
    delta = ""
    if new_findings is not None and resolved_findings is not None:
        extra[NEW_FINDINGS] = int(new_findings)
        extra[RESOLVED_FINDINGS] = int(resolved_findings)
        delta = f" ({int(new_findings)} new, {int(resolved_findings)} resolved)"
    level = logging.WARNING if status == "failed" else logging.INFO
    scan_log.log(
        level,
        "scan %s in %.1f s with %d findings%s",
        status,
        duration_seconds,
        findings,
        delta,
        extra=extra,
    )


# -- the scan a piece of work is for, on every log record it (or its engine) writes ------------

_current_scan: ContextVar[dict[str, object] | None] = ContextVar("current_scan", default=None)
_factory_lock = threading.Lock()
_factory_installed = False


def _prefix(dims: Mapping[str, object]) -> str:
    text = f"scan={dims[SCAN_ID]} target={dims[TARGET_ID]}"
    if dims.get(PHASE) is not None:
        text += f" phase={dims[PHASE]}"
    return text + " "


def _install_record_factory() -> None:
    """Records created while a scan context is set carry its dimensions and a prefix."""
    global _factory_installed
    with _factory_lock:
        if _factory_installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            dims = _current_scan.get()
            if dims and not hasattr(record, SCAN_ID):
                record.__dict__.update(dims)
                if isinstance(record.msg, str):
                    prefix = _prefix(dims)
                    record.msg = (prefix.replace("%", "%%") if record.args else prefix) + record.msg
            return record

        logging.setLogRecordFactory(factory)
        _factory_installed = True


@contextmanager
def scan_context(scan_id: str, target_id: str, phase: str | None = None) -> Iterator[None]:
    """While inside, every log record of this thread names the scan (engines need not know)."""
    _install_record_factory()
    dims: dict[str, object] = {SCAN_ID: scan_id, TARGET_ID: target_id}
    if phase is not None:
        dims[PHASE] = phase
    token = _current_scan.set(dims)
    try:
        yield
    finally:
        _current_scan.reset(token)
