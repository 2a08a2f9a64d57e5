"""HTTP/1.1 over the standard library: kept-alive connections (one per thread, as
http.client's are not thread-safe), a short connect timeout, TLS with the system's trust
(SSL_CERT_FILE honoured) and the proxy the environment names.

Why not a library: urllib3, requests and httpx cost 2-3 times http.client's import time, and
a command-line client's start-up is what people feel on every call (see bench/cli.py).
"""

from __future__ import annotations

import http.client
import os
import socket
import threading
from typing import Any
from urllib.parse import urlsplit

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 60.0
# A kept-alive connection the server closed while idle fails like this on its next use.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class TransportError(Exception):
    """No answer: the reason in a few words (connection refused, timed out, ...)."""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "unknown host name"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if type(exc).__module__ == "ssl":
        return f"TLS failed ({getattr(exc, 'reason', None) or exc})"
    return str(exc)[:160] or type(exc).__name__


class Transport:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.https else 80)
        self.prefix = parts.path.rstrip("/")
        self.proxy = _proxy_for(url, self.host)
        self.local = threading.local()

    def _new_connection(self) -> http.client.HTTPConnection:
        host, port = self.proxy or (self.host, self.port)
        connection: http.client.HTTPConnection
        if self.https:
            import ssl  # only for https: it costs start-up time

            context = ssl.create_default_context()
            connection = http.client.HTTPSConnection(
                host, port, timeout=CONNECT_TIMEOUT_S, context=context
            )
            if self.proxy:
                connection.set_tunnel(self.host, self.port)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=CONNECT_TIMEOUT_S)
        connection.connect()
        if connection.sock is not None:
            connection.sock.settimeout(READ_TIMEOUT_S)
        return connection

    def _target(self, path: str) -> str:
        if self.proxy and not self.https:  # a plain proxy takes the absolute URL
            return f"http://{self.host}:{self.port}{self.prefix}{path}"
        return self.prefix + path

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        """(status, body). Raises TransportError when there is no answer."""
        for attempt in (1, 2):
            connection: Any = getattr(self.local, "connection", None)
            reused = connection is not None
            try:
                if connection is None:
                    connection = self.local.connection = self._new_connection()
                connection.request(method, self._target(path), body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                if response.will_close:
                    self._drop()
                return response.status, data
            except _STALE as exc:
                self._drop()
                if not reused or attempt == 2:
                    raise TransportError(_reason(exc)) from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                raise TransportError(_reason(exc)) from None
        raise AssertionError("unreachable")

    def _drop(self) -> None:
        connection = getattr(self.local, "connection", None)
        self.local.connection = None
        if connection is not None:
            connection.close()


def _proxy_for(url: str, host: str) -> tuple[str, int] | None:
    """(host, port) of the proxy HTTPS_PROXY / HTTP_PROXY name for `url`, unless NO_PROXY."""
    if not any(name.lower().endswith("_proxy") for name in os.environ):
        return None
    import urllib.request  # only when a proxy may apply

    proxy = urllib.request.getproxies().get(urlsplit(url).scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    return parts.hostname or "", parts.port or 8080
