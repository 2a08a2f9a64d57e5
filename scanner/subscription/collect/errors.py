"""How collection failures surface: fatal ones fail the scan with a message naming the
service and the HTTP status; a missing permission or licence marks one section unavailable."""

from __future__ import annotations

from scanner.engine import ScanError


class ServiceFailureError(ScanError):
    """A service kept failing after the client's retries (persistent 5xx, throttling beyond
    the retry budget, unreachable): the scan fails with this message."""

    def __init__(
        self, service: str, operation: str, status: int | None, detail: str, attempts: int = 0
    ) -> None:
        self.service = service
        self.operation = operation
        self.status = status
        what = f"HTTP {status}" if status is not None else "no answer"
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        detail = " ".join(detail.split())[:300]
        super().__init__(f"{service} answered {what} to {operation}{tries}: {detail}")


class CredentialError(ScanError):
    """No token could be had (no credential configured, a wrong secret, the authority
    failing): the scan fails with this message. It never contains the secret."""

    def __init__(self, service: str, detail: str) -> None:
        self.service = service
        detail = " ".join(detail.split())[:400]
        super().__init__(f"Microsoft Entra ID: no token for {service}: {detail}")


class SectionUnavailableError(Exception):
    """A section cannot be collected (e.g. 403: permission or licence missing). The rules that
    need it report a soft error; the scan completes."""

    def __init__(self, service: str, operation: str, status: int | None, detail: str) -> None:
        self.reason = (
            f"{service} answered HTTP {status} to {operation}: {' '.join(detail.split())[:300]}"
        )
        super().__init__(self.reason)
