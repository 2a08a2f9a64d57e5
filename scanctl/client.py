"""The HTTP API, as Python calls: JSON in and out, and every failure turned into a
`CliError` carrying the API's own one-line message."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from scanctl.credentials import HOW_TO_GIVE, Credential
from scanctl.errors import ApiError, UnreachableError, UsageError
from scanctl.transport import Transport, TransportError

DEFAULT_URL = "http://127.0.0.1:7071"
USER_AGENT = "scanctl/0.1"


def _segment(value: str) -> str:
    return quote(value, safe="")


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
        self.transport = Transport(self.url)

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
        target = path + (f"?{urlencode(query)}" if query else "")
        headers = dict(self.headers)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        status, data = self._send(method, target, payload, headers)
        if status == 401 and self.credential is not None and self.credential.renew is not None:
            # Refused before anything happened: renew the token once and ask again.
            self.credential = self.credential.renew()
            self.headers.update(self.credential.headers())
            headers.update(self.credential.headers())
            status, data = self._send(method, target, payload, headers)
        if status >= 400:
            raise self._error(status, data)
        if raw:
            return data
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError:
            raise UnreachableError(
                f"{self.url} answered {status} with something that is not JSON: "
                "is --url the scan service?"
            ) from None

    def _send(
        self, method: str, target: str, payload: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        try:
            return self.transport.request(method, target, payload, headers)
        except TransportError as exc:
            raise UnreachableError(f"cannot reach the scan service at {self.url}: {exc}") from None

    def _error(self, status: int, data: bytes) -> ApiError:
        try:
            decoded = json.loads(data) if data else None
        except ValueError:
            decoded = None
        parsed = _error_message(decoded)
        code, message = parsed or (
            "",
            f"{self.url} answered HTTP {status} without the scan service's JSON error: "
            "is --url right?",
        )
        if status == 401:
            if self.credential is None:
                message = f"{message}: no API key was given; {HOW_TO_GIVE}"
            else:
                what = "token" if self.credential.header == "Authorization" else "key"
                message = f"{message}: the {what} from {self.credential.source} was refused"
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

    def compliance(self, scan_id: str, framework: str) -> dict[str, Any]:
        """A subscription scan seen through a compliance framework (e.g. cis-azure)."""
        result: dict[str, Any] = self.request(
            "GET",
            f"/api/v1/scans/{_segment(scan_id)}/report",
            params={"format": "json", "framework": framework},
        )
        return result

    def diff(self, scan_id: str, against: str, fmt: str = "json") -> bytes:
        """The comparison of a scan with `against` (previous, or a scan id), in `fmt`."""
        result: bytes = self.request(
            "GET",
            f"/api/v1/scans/{_segment(scan_id)}/diff",
            params={"against": against, "format": fmt},
            raw=True,
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
