"""The HTTP API, as Python calls: one urllib3 pool (thread-safe, keep-alive), JSON in and
out, and every failure turned into a `CliError` with the API's own one-line message."""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import urllib3
from urllib3.exceptions import HTTPError as TransportError

from scanctl.credentials import HOW_TO_GIVE, Credential
from scanctl.errors import ApiError, UnreachableError, UsageError

DEFAULT_URL = "http://127.0.0.1:7071"
USER_AGENT = "scanctl/0.1"
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 60.0
# Enough connections for the concurrent polls of a fleet (see waiting.POLL_THREADS).
POOL_SIZE = 8


def _segment(value: str) -> str:
    return quote(value, safe="")


def _pool(url: str) -> urllib3.PoolManager:
    """A direct pool, or one through the proxy the environment names (HTTPS_PROXY, NO_PROXY)."""
    options: dict[str, Any] = {
        "maxsize": POOL_SIZE,
        "timeout": urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S),
        # A refused or dropped connect is retried (the request was never sent); nothing else.
        "retries": urllib3.Retry(total=2, connect=2, read=0, status=0, other=0, redirect=0),
    }
    if any(k.lower().endswith("_proxy") for k in os.environ):
        import urllib.request  # only when a proxy may apply: it costs start-up time

        host = urlsplit(url).hostname or ""
        proxy = urllib.request.getproxies().get(urlsplit(url).scheme)
        if proxy and not urllib.request.proxy_bypass(host):
            return urllib3.ProxyManager(proxy, **options)
    return urllib3.PoolManager(**options)


def _error_message(data: Any) -> tuple[str, str] | None:
    """(code, message) of the API's JSON error, the field errors appended."""
    if not isinstance(data, dict) or not isinstance(data.get("error"), dict):
        return None
    error = data["error"]
    message = str(error.get("message") or error.get("code") or "error")
    details = error.get("details")
    if isinstance(details, list) and details:
        fields = "; ".join(
            f"{d.get('field', '?')}: {d.get('message', '')}" for d in details if isinstance(d, dict)
        )
        message = f"{message} ({fields})"
    return str(error.get("code") or ""), message


class ApiClient:
    """One service; every call returns decoded JSON (or bytes for reports)."""

    def __init__(self, url: str, credential: Credential | None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"--url must be an http:// or https:// URL, not {url!r}")
        self.url = url.rstrip("/")
        self.credential = credential
        self.headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if credential is not None:
            self.headers.update(credential.headers())
        self.pool = _pool(self.url)

    # -- transport ----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        raw: bool = False,
    ) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        url = self.url + path + (f"?{urlencode(query)}" if query else "")
        headers = dict(self.headers)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            response = self.pool.request(method, url, body=payload, headers=headers, redirect=False)
        except TransportError as exc:
            raise UnreachableError(self._unreachable(exc)) from None
        if response.status >= 400:
            raise self._error(response.status, response.data)
        if raw:
            return response.data
        if not response.data:
            return None
        try:
            return json.loads(response.data)
        except ValueError:
            raise UnreachableError(
                f"{self.url} answered {response.status} with something that is not JSON: "
                "is --url the scan service?"
            ) from None

    def _unreachable(self, exc: TransportError) -> str:
        reason = getattr(exc, "reason", None) or exc
        text = str(reason)
        if "Connection refused" in text:
            why = "connection refused"
        elif "timed out" in text.lower():
            why = "timed out"
        elif "Name or service not known" in text or "NameResolutionError" in type(reason).__name__:
            why = "unknown host name"
        elif "SSL" in text or "certificate" in text.lower():
            why = f"TLS failed ({text.split(': ', 1)[-1][:160]})"
        else:
            why = text.split(": ", 1)[-1][:160]
        return f"cannot reach the scan service at {self.url}: {why}"

    def _error(self, status: int, data: bytes) -> ApiError:
        try:
            decoded = json.loads(data) if data else None
        except ValueError:
            decoded = None
        parsed = _error_message(decoded)
        code, message = parsed if parsed else ("", f"the service answered HTTP {status}")
        if status == 401:
            if self.credential is None:
                message = f"{message}: no API key was given; {HOW_TO_GIVE}"
            else:
                message = f"{message}: the key from {self.credential.source} was refused"
        return ApiError(status, code, message, decoded if isinstance(decoded, dict) else {})

    # -- scans --------------------------------------------------------------------------------

    def start_scan(self, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", "/api/v1/scans", body=body)
        return result

    def scan(self, scan_id: str, items: bool = False) -> dict[str, Any]:
        params = {"include": "items"} if items else None
        result: dict[str, Any] = self.request(
            "GET", f"/api/v1/scans/{_segment(scan_id)}", params=params
        )
        return result

    def scans(
        self,
        target_type: str | None = None,
        target_id: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        params = {
            "targetType": target_type,
            "targetId": target_id,
            "status": status,
            "limit": limit,
            "continuationToken": token,
        }
        result: dict[str, Any] = self.request("GET", "/api/v1/scans", params=params)
        return result

    def cancel(self, scan_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", f"/api/v1/scans/{_segment(scan_id)}/cancel")
        return result

    def report(self, scan_id: str, fmt: str) -> bytes:
        result: bytes = self.request(
            "GET", f"/api/v1/scans/{_segment(scan_id)}/report", params={"format": fmt}, raw=True
        )
        return result

    # -- targets ------------------------------------------------------------------------------

    def targets(
        self, plural: str, limit: int | None = None, token: str | None = None
    ) -> dict[str, Any]:
        params = {"limit": limit, "continuationToken": token}
        result: dict[str, Any] = self.request("GET", f"/api/v1/{plural}", params=params)
        return result

    def target(self, plural: str, target_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/api/v1/{plural}/{_segment(target_id)}")
        return result

    def add_target(self, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", f"/api/v1/{plural}", body=body)
        return result

    def update_target(self, plural: str, target_id: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "PATCH", f"/api/v1/{plural}/{_segment(target_id)}", body=body
        )
        return result

    def remove_target(self, plural: str, target_id: str) -> None:
        self.request("DELETE", f"/api/v1/{plural}/{_segment(target_id)}")
