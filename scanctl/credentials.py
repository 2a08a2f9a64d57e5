"""Where the credential comes from, and the one header it becomes. Keys are never printed:
messages name the source (`--api-key-file /path`, `SCAN_API_KEY`), never the value.

The service takes an API key (`X-API-Key`) or an Entra ID access token (`Authorization:
Bearer`), e.g. `SCAN_API_TOKEN=$(az account get-access-token --scope api://<app id>/.default
--query accessToken -o tsv)`: the same shape with another header. With `--entra-scope SCOPE`
(or SCAN_API_ENTRA_SCOPE) scanctl asks the Azure CLI for that token itself, as whoever is
signed in to `az` (a person, or a pipeline's identity after `az login --identity` or the
pipeline's Azure login step): an argument list, never a shell.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping

from scanctl.errors import AUTH, UNREACHABLE, CliError, UsageError

API_KEY_HEADER = "X-API-Key"
KEY_ENV = "SCAN_API_KEY"
KEY_FILE_ENV = "SCAN_API_KEY_FILE"
TOKEN_ENV = "SCAN_API_TOKEN"  # noqa: S105 (the name of the variable, not a token)
SCOPE_ENV = "SCAN_API_ENTRA_SCOPE"
AZ_TIMEOUT_S = 60
# An application id URI or app id with an optional `/.default` or scope name; nothing that az
# could read as an option, no spaces.
_SCOPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:/._~%-]{0,255}$")


class Credential:
    """One HTTP header that authenticates; `source` says where it came from; `renew` gets a
    fresh one (a token from az) when the service refuses this one."""

    __slots__ = ("header", "renew", "source", "value")

    def __init__(
        self,
        header: str,
        value: str,
        source: str,
        renew: Callable[[], Credential] | None = None,
    ) -> None:
        self.header, self.value, self.source = header, value, source
        self.renew = renew

    def __repr__(self) -> str:
        return f"Credential({self.header}, from {self.source})"  # never the value

    def headers(self) -> dict[str, str]:
        return {self.header: self.value}


def _checked(value: str, what: str, source: str) -> str:
    value = value.strip()
    if not value:
        raise UsageError(f"the {what} from {source} is empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise UsageError(f"the {what} from {source} contains control characters")
    return value


def api_key(value: str, source: str) -> Credential:
    return Credential(API_KEY_HEADER, _checked(value, "API key", source), source)


def bearer_token(value: str, source: str) -> Credential:
    """An Entra ID access token (what `az account get-access-token` prints)."""
    token = _checked(value, "token", source).removeprefix("Bearer ").strip()
    return Credential("Authorization", f"Bearer {token}", source)


def azure_cli_token(scope: str, source: str) -> Credential:
    """An access token for `scope` from `az account get-access-token` (the Azure CLI's own
    sign-in and token cache)."""
    import shutil  # only here: start-up is what a command-line user feels
    import subprocess

    scope = scope.strip()
    if not _SCOPE.match(scope):
        raise UsageError(
            f"the scope from {source} is not an app id URI (e.g. api://<app id>/.default)"
        )
    az = shutil.which("az")
    if az is None:
        raise UsageError(f"{source} needs the Azure CLI (az), which is not on PATH")
    command = [az, "account", "get-access-token", f"--scope={scope}"]
    command += ["--query", "accessToken", "--output", "tsv"]
    try:
        # A list of arguments (no shell); the scope was checked above.
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=AZ_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise CliError(f"az did not give a token within {AZ_TIMEOUT_S} s", UNREACHABLE) from exc
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        why = lines[0] if lines else f"exit code {done.returncode}"
        raise CliError(f"az account get-access-token failed for {source}: {why}", AUTH)
    token = bearer_token(done.stdout, f"az account get-access-token ({source})")
    # A token lasts about an hour: a long --wait asks az again when the service refuses it.
    token.renew = lambda: azure_cli_token(scope, source)
    return token


def _read_key_file(path: str, source: str) -> Credential:
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as file:
            text = file.read()
    except OSError as exc:
        raise UsageError(f"cannot read the API key file {path} ({exc.strerror})") from exc
    return api_key(text, source)


def resolve(
    key: str | None,
    key_file: str | None,
    env: Mapping[str, str] | None = None,
    entra_scope: str | None = None,
) -> Credential | None:
    """The credential to send: --api-key, --api-key-file, --entra-scope, SCAN_API_TOKEN,
    SCAN_API_ENTRA_SCOPE, SCAN_API_KEY, SCAN_API_KEY_FILE, in that order; None when there is
    none (the service will answer 401, and we say how to give one)."""
    values: Mapping[str, str] = os.environ if env is None else env
    if key is not None:
        return api_key(key, "--api-key")
    if key_file is not None:
        return _read_key_file(key_file, f"--api-key-file {key_file}")
    if entra_scope is not None:
        return azure_cli_token(entra_scope, "--entra-scope")
    if values.get(TOKEN_ENV):
        return bearer_token(values[TOKEN_ENV], TOKEN_ENV)
    if values.get(SCOPE_ENV):
        return azure_cli_token(values[SCOPE_ENV], SCOPE_ENV)
    if values.get(KEY_ENV):
        return api_key(values[KEY_ENV], KEY_ENV)
    if values.get(KEY_FILE_ENV):
        path = values[KEY_FILE_ENV]
        return _read_key_file(path, f"{KEY_FILE_ENV} ({path})")
    return None


HOW_TO_GIVE = (
    f"give one with {KEY_ENV}, --api-key-file FILE or --api-key, or an Entra ID access token "
    f"with {TOKEN_ENV} or --entra-scope api://<app id>/.default (from the Azure CLI)"
)
