"""Exit codes and the errors that end a command with one of them.

Every failure the user can cause or meet becomes a `CliError` with one line of text and its
exit code; `cli.main` prints that line and exits, never a traceback.
"""

from __future__ import annotations

PASSED = 0  # the command did what was asked; gates (if any) passed
THRESHOLD = 1  # --fail-on / --fail-on-new: a finding reached the threshold
USAGE = 2  # bad arguments or input the service refused (400, 404, 409, 422)
SCAN_FAILED = 3  # a scan ended failed or cancelled
AUTH = 4  # the service refused the credentials (401, 403)
UNREACHABLE = 5  # no answer, a server error or a wait that timed out
INTERRUPTED = 130  # Ctrl-C (the shell's convention for SIGINT)


class CliError(Exception):
    """A one-line message and the exit code it ends the command with."""

    exit_code = USAGE

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(CliError):
    exit_code = USAGE


class ApiError(CliError):
    """An error answer of the API: its status, its machine code and its message."""

    def __init__(self, status: int, code: str, message: str, body: dict[str, object]) -> None:
        super().__init__(message, exit_code_for_status(status))
        self.status = status
        self.code = code
        self.body = body


class UnreachableError(CliError):
    exit_code = UNREACHABLE


def exit_code_for_status(status: int) -> int:
    if status in (401, 403):
        return AUTH
    if status >= 500 or status == 408:
        return UNREACHABLE
    return USAGE
