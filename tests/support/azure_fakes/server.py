"""TLS HTTP servers on loopback for the fake Azure services (certificates from trustme).

Each service is a `Service` (request -> `Reply`); `TlsServer` serves one on its own port
with HTTP/1.1 keep-alive, counts requests per label and injects faults on demand (a status,
optionally with Retry-After, a number of times or for good).
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    base_url: str

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    @property
    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        return value[7:] if value.lower().startswith("bearer ") else None


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-able, or bytes
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if self.body is None:
            return b""
        return json.dumps(self.body, separators=(",", ":")).encode()


def error(status: int, code: str, message: str, **headers: str) -> Reply:
    """An error in the ARM / Microsoft Graph shape: {"error": {"code", "message"}}."""
    return Reply(status, {"error": {"code": code, "message": message}}, dict(headers))


@dataclass
class Fault:
    label: str  # which service label it applies to ("arm", "resourceGraph", "graph", ...)
    path_contains: str
    status: int
    times: int | None  # None: every time (persistent)
    retry_after: str | None = None
    hits: int = 0


class Service:
    """A fake service: `label(request)` names it for counting and faults."""

    name = "service"

    def label(self, request: Request) -> str:
        return self.name

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError


class Stats:
    """Requests per label and injected faults, shared by the servers of one FakeAzure."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.paths: list[tuple[str, str, str]] = []  # (label, method, path)
        self.faults: list[Fault] = []

    def record(self, label: str, request: Request) -> None:
        with self.lock:
            self.counts[label] = self.counts.get(label, 0) + 1
            self.paths.append((label, request.method, request.path))

    def fault_for(self, label: str, request: Request) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.label != label or fault.path_contains not in request.path:
                    continue
                if fault.times is not None and fault.hits >= fault.times:
                    continue
                fault.hits += 1
                return fault
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            base_url=self.server.base_url,
        )
        service = self.server.service
        label = service.label(request)
        self.server.stats.record(label, request)
        fault = self.server.stats.fault_for(label, request)
        if fault is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            reply = error(
                fault.status,
                "TooManyRequests" if fault.status == 429 else "ServiceUnavailable",
                f"injected fault {fault.status}",
                **headers,
            )
        else:
            try:
                reply = service.handle(request)
            except Exception as exc:  # a bug in a fake must show, not hang the client
                reply = error(500, "FakeServerBug", f"{type(exc).__name__}: {exc}")
        payload = reply.encoded()
        self.send_response(reply.status)
        headers = {"Content-Type": "application/json; charset=utf-8", **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    service: Service
    stats: Stats
    base_url: str
    tls: ssl.SSLContext

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake happens in the connection's own thread, not in the accept loop.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        super().finish_request(wrapped, client_address)


class TlsServer:
    """One service on https://127.0.0.1:<port>."""

    def __init__(self, service: Service, tls: ssl.SSLContext, stats: Stats) -> None:
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.service = service
        self.server.stats = stats
        self.server.tls = tls
        self.port = self.server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self.server.base_url = self.url
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-{service.name}",
            daemon=True,
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
