"""Telemetry: off without a connection string, scan dimensions on every record, and (end to
end) Entra-authenticated export to an ingestion endpoint served on loopback."""

from __future__ import annotations

import datetime
import gzip
import ipaddress
import json
import logging
import os
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from orchestrations.core import telemetry

ROOT = Path(__file__).resolve().parents[3]


# ---------------------------------------------------------------------------------------------
# Off by default, and cheap to import


def run_python(
    code: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    output = {"capture_output": True, "text": True}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, timeout=timeout, check=False, **output
    )


def clean_env() -> dict[str, str]:
    drop = {
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        "AZURE_CLIENT_ID",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
    }
    return {k: v for k, v in os.environ.items() if k not in drop}


def test_no_connection_string_means_no_exporter_and_no_heavy_imports() -> None:
    code = (
        "import sys\n"
        "from orchestrations.core.telemetry import configure_telemetry\n"
        "assert configure_telemetry() is False\n"
        "heavy = sorted(m for m in sys.modules if m.startswith(('azure.monitor', 'azure.identity',"
        " 'opentelemetry.sdk')))\n"
        "assert not heavy, heavy\n"
    )
    result = run_python(code, clean_env())
    assert result.returncode == 0, result.stderr


def test_configure_is_a_no_op_for_blank_connection_string(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", "   ")
    assert telemetry.configure_telemetry() is False


# ---------------------------------------------------------------------------------------------
# Which identity ingestion uses


@pytest.mark.parametrize(
    ("auth", "client_id", "identity_endpoint", "expected"),
    [
        ("Authorization=AAD;ClientId=abc", None, None, (True, "abc")),
        ("authorization=AAD", "from-env", None, (True, "from-env")),
        ("Authorization=AAD", None, None, (True, None)),
        (None, "from-env", "http://127.0.0.1:1/token", (True, "from-env")),
        (None, "from-env", None, (False, None)),  # a developer's service principal, not an MI
        ("Authorization=Key", "from-env", "http://127.0.0.1:1/token", (False, None)),
        (None, None, None, (False, None)),
    ],
)
def test_entra_client_id(
    monkeypatch: pytest.MonkeyPatch,
    auth: str | None,
    client_id: str | None,
    identity_endpoint: str | None,
    expected: tuple[bool, str | None],
) -> None:
    for name, value in (
        ("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", auth),
        ("AZURE_CLIENT_ID", client_id),
        ("IDENTITY_ENDPOINT", identity_endpoint),
    ):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert telemetry.entra_client_id() == expected


def test_parse_authentication_string_ignores_junk() -> None:
    assert telemetry.parse_authentication_string("Authorization=AAD;;junk; ClientId = x ") == {
        "authorization": "AAD",
        "clientid": "x",
    }


# ---------------------------------------------------------------------------------------------
# Scan-scoped records


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, Capture]]:
    logger = logging.getLogger("tests.infra.telemetry")
    logger.setLevel(logging.DEBUG)
    handler = Capture()
    logger.addHandler(handler)
    try:
        yield logger, handler
    finally:
        logger.removeHandler(handler)


def test_scan_logger_adds_dimensions_and_prefix(
    captured: tuple[logging.Logger, Capture],
) -> None:
    logger, handler = captured
    log = telemetry.scan_logger(logger, "01HX", "host-example.com-22", phase="collect")
    log.info("ran %d commands", 6, extra={"step": "uname"})
    record = handler.records[-1]
    assert (
        record.getMessage() == "scan=01HX target=host-example.com-22 phase=collect ran 6 commands"
    )
    assert (record.scanId, record.targetId, record.phase, record.step) == (  # type: ignore[attr-defined]
        "01HX",
        "host-example.com-22",
        "collect",
        "uname",
    )
    assert record.funcName == "test_scan_logger_adds_dimensions_and_prefix"  # the caller
    assert record.name == "tests.infra.telemetry"


def test_scan_logger_without_phase_and_with_percent_in_ids(
    captured: tuple[logging.Logger, Capture],
) -> None:
    logger, handler = captured
    log = telemetry.scan_logger(logger, "s%1", "repository-a%b")
    log.warning("plain 100% message")
    log.warning("formatted %s", "arg")
    plain, formatted = handler.records[-2:]
    assert plain.getMessage() == "scan=s%1 target=repository-a%b plain 100% message"
    assert formatted.getMessage() == "scan=s%1 target=repository-a%b formatted arg"
    assert not hasattr(plain, "phase")
    later = log.with_phase("report")
    later.debug("done")
    assert handler.records[-1].phase == "report"  # type: ignore[attr-defined]
    assert later.with_phase(None).dimensions == {"scanId": "s%1", "targetId": "repository-a%b"}


def test_scan_outcome_records_carry_the_workbook_dimensions(
    captured: tuple[logging.Logger, Capture],
) -> None:
    logger, handler = captured
    log = telemetry.scan_logger(logger, "01HY", "subscription-1234")
    telemetry.log_scan_started(log, "subscription")
    telemetry.log_scan_finished(
        log,
        target_type="subscription",
        status="failed",
        duration_seconds=12.3456,
        findings=7,
        error_message="ARM said no",
    )
    started, finished = handler.records[-2:]
    assert started.event == "scan.started" and started.status == "running"  # type: ignore[attr-defined]
    assert finished.levelno == logging.WARNING
    dims = {
        k: getattr(finished, k)
        for k in (
            "event",
            "scanId",
            "targetId",
            "targetType",
            "status",
            "durationSeconds",
            "findings",
            "errorMessage",
        )
    }
    assert dims == {
        "event": "scan.finished",
        "scanId": "01HY",
        "targetId": "subscription-1234",
        "targetType": "subscription",
        "status": "failed",
        "durationSeconds": 12.346,
        "findings": 7,
        "errorMessage": "ARM said no",
    }
    assert finished.getMessage().startswith(
        "scan=01HY target=subscription-1234 scan failed in 12.3 s"
    )


def test_a_completed_scan_records_its_findings_new_and_resolved(
    captured: tuple[logging.Logger, Capture],
) -> None:
    logger, handler = captured
    log = telemetry.scan_logger(logger, "01HZ", "docs")
    telemetry.log_scan_finished(
        log,
        target_type="repository",
        status="completed",
        duration_seconds=2,
        findings=9,
        new_findings=2,
        resolved_findings=5,
    )
    record = handler.records[-1]
    assert (record.newFindings, record.resolvedFindings) == (2, 5)  # type: ignore[attr-defined]
    assert record.getMessage().endswith("with 9 findings (2 new, 5 resolved)")
    telemetry.log_scan_finished(
        log, target_type="repository", status="failed", duration_seconds=1, findings=0
    )
    assert not hasattr(handler.records[-1], "newFindings")


def test_workbook_queries_use_the_dimensions_telemetry_writes() -> None:
    workbook = json.loads((ROOT / "infra" / "workbooks" / "scans.workbook.json").read_text())
    queries = [item["content"]["query"] for item in workbook["items"] if item["type"] == 3]
    assert len(queries) >= 5
    text = "\n".join(queries)
    for name in (
        telemetry.SCAN_ID,
        telemetry.TARGET_ID,
        telemetry.TARGET_TYPE,
        telemetry.STATUS,
        telemetry.DURATION_SECONDS,
        telemetry.FINDINGS,
        telemetry.ERROR_MESSAGE,
    ):
        assert f"customDimensions.{name}" in text, name
    assert f'"{telemetry.SCAN_FINISHED}"' in text and f'"{telemetry.SCAN_STARTED}"' in text
    assert workbook["fallbackResourceIds"] == ["__APPLICATION_INSIGHTS_ID__"]
    bicep = (ROOT / "infra" / "modules" / "workbook.bicep").read_text()
    assert "__APPLICATION_INSIGHTS_ID__" in bicep and "scans.workbook.json" in bicep


# ---------------------------------------------------------------------------------------------
# End to end: managed-identity token from a loopback endpoint, export to loopback ingestion


def make_certificate(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Recorder:
    def __init__(self) -> None:
        self.token_requests: list[tuple[dict[str, list[str]], str | None]] = []
        self.ingestion: list[tuple[str | None, list[dict[str, Any]]]] = []


def serve(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


def reply_json(handler: BaseHTTPRequestHandler, body: bytes) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def token_server(recorder: Recorder) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlparse(self.path).query)
            recorder.token_requests.append((query, self.headers.get("X-IDENTITY-HEADER")))
            body = json.dumps(
                {
                    "access_token": "loopback-token",
                    "expires_on": str(int(time.time()) + 3600),
                    "resource": query.get("resource", [""])[0],
                    "token_type": "Bearer",
                }
            ).encode()
            reply_json(self, body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


def ingestion_server(recorder: Recorder, cert: Path, key: Path) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            envelopes = json.loads(raw)
            recorder.ingestion.append((self.headers.get("Authorization"), envelopes))
            body = json.dumps(
                {"itemsReceived": len(envelopes), "itemsAccepted": len(envelopes), "errors": []}
            ).encode()
            reply_json(self, body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return server


CHILD = """
import logging
from opentelemetry._logs import get_logger_provider
from orchestrations.core.telemetry import configure_telemetry, log_scan_finished, scan_logger

assert configure_telemetry() is True
assert configure_telemetry() is True  # idempotent
log = scan_logger(logging.getLogger("scan.e2e"), "scan-e2e-1", "host-example.com-22", "collect")
logging.getLogger("scan.e2e").setLevel(logging.INFO)
log_scan_finished(log, target_type="host", status="completed", duration_seconds=1.5, findings=3)
assert get_logger_provider().force_flush(30000)
"""


def test_export_uses_the_managed_identity_and_keeps_custom_dimensions(tmp_path: Path) -> None:
    pytest.importorskip("azure.monitor.opentelemetry")
    cert, key = make_certificate(tmp_path)
    recorder = Recorder()
    tokens, ingestion = token_server(recorder), ingestion_server(recorder, cert, key)
    serve(tokens), serve(ingestion)
    try:
        env = clean_env()
        env.update(
            {
                "APPLICATIONINSIGHTS_CONNECTION_STRING": (
                    "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
                    f"IngestionEndpoint=https://127.0.0.1:{ingestion.server_address[1]}/"
                ),
                "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Authorization=AAD;ClientId=mi-client",
                "IDENTITY_ENDPOINT": f"http://127.0.0.1:{tokens.server_address[1]}/msi/token",
                "IDENTITY_HEADER": "loopback-identity-header",
                "REQUESTS_CA_BUNDLE": str(cert),
                "SSL_CERT_FILE": str(cert),
                # Keep everything on loopback: no statsbeat, no control plane, no VM metadata.
                "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
                "APPLICATIONINSIGHTS_SDKSTATS_DISABLED": "true",
                "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
                "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "azure_app_service",
                "TMPDIR": str(tmp_path),
            }
        )
        result = run_python(CHILD, env, timeout=120)
        assert result.returncode == 0, result.stderr[-3000:]
    finally:
        tokens.shutdown(), ingestion.shutdown()
        tokens.server_close(), ingestion.server_close()

    assert recorder.token_requests, "no managed-identity token was requested"
    query, header = recorder.token_requests[0]
    assert query.get("client_id") == ["mi-client"] and header == "loopback-identity-header"
    messages = [
        envelope["data"]["baseData"]
        for auth, envelopes in recorder.ingestion
        for envelope in envelopes
        if auth == "Bearer loopback-token" and envelope["data"].get("baseType") == "MessageData"
    ]
    finished = [m for m in messages if m.get("properties", {}).get("event") == "scan.finished"]
    assert finished, f"no scan.finished record exported; got {messages!r}"
    record = finished[0]
    assert record["message"] == (
        "scan=scan-e2e-1 target=host-example.com-22 phase=collect "
        "scan completed in 1.5 s with 3 findings"
    )
    props = record["properties"]
    assert props["scanId"] == "scan-e2e-1" and props["targetId"] == "host-example.com-22"
    assert props["phase"] == "collect" and props["status"] == "completed"
    assert float(props["durationSeconds"]) == 1.5 and int(props["findings"]) == 3
