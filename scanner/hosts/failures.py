"""The failure taxonomy of host scans: every way a scan or a command can fail, named.

Each failure has a stable code (for machines: per-command status, `results.errors`) and a
label that starts every message (for people: the scan's errorMessage), e.g.
`connection refused: 10.0.0.5:22`. Connection-level failures end the scan at once; a failed
command only marks its own item, and the scan completes with partial results. Transient
failures (a lost connection, session channels refused) are retried, never reported as a
failed command.
"""

from __future__ import annotations

from enum import Enum

from scanner.engine import ScanError, TransientScanError


class Failure(Enum):
    """(code, label) of each kind of failure."""

    CONNECTION_REFUSED = ("connection_refused", "connection refused")
    TIMEOUT = ("timeout", "timeout")
    DNS_FAILURE = ("dns_failure", "DNS failure")
    AUTHENTICATION_FAILED = ("authentication_failed", "authentication failed")
    HOST_KEY_UNKNOWN = ("host_key_unknown", "host key unknown")
    HOST_KEY_CHANGED = ("host_key_changed", "host key changed")
    CONNECTION_FAILED = ("connection_failed", "connection failed")
    CONNECTION_LOST = ("connection_lost", "connection lost")
    SESSION_REFUSED = ("session_refused", "session refused")
    COMMAND_FAILED = ("command_failed", "command failed")
    COMMAND_TIMEOUT = ("command_timeout", "command timed out")
    UNSUPPORTED_OS = ("unsupported_os", "unsupported OS")
    CONFIGURATION = ("configuration", "configuration")

    @property
    def code(self) -> str:
        return self.value[0]

    @property
    def label(self) -> str:
        return self.value[1]

    def message(self, detail: str) -> str:
        return f"{self.label}: {detail}" if detail else self.label


NO_KEY = (
    "no SSH private key: set SSH_PRIVATE_KEY_PATH (or SSH_PRIVATE_KEY_SECRET with "
    "KEY_VAULT_URL), or give the host a credentialsRef"
)


class HostScanError(ScanError):
    """A failure that ends the scan (not retried); the message names the failure."""

    def __init__(self, failure: Failure, detail: str) -> None:
        super().__init__(failure.message(detail))
        self.failure = failure
        self.detail = detail


class TransientHostError(TransientScanError):
    """A failure worth retrying (the orchestrator runs the command again later)."""

    def __init__(self, failure: Failure, detail: str) -> None:
        super().__init__(failure.message(detail))
        self.failure = failure
        self.detail = detail


class ConnectionLostError(TransientHostError):
    """The SSH connection broke while a command ran; the command is retried, which
    reconnects."""

    def __init__(self, detail: str) -> None:
        super().__init__(Failure.CONNECTION_LOST, detail)


class SessionRefusedError(TransientHostError):
    """The server kept refusing session channels for a command, even one at a time (a busy
    server, or one that allows no sessions); the command is retried later."""

    def __init__(self, detail: str) -> None:
        super().__init__(Failure.SESSION_REFUSED, detail)
