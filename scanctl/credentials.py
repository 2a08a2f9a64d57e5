"""Where the credential comes from, and the one header it becomes. Keys are never printed:
messages name the source (`--api-key-file /path`, `SCAN_API_KEY`), never the value.

The service takes an API key (`X-API-Key`) or an Entra ID access token (`Authorization:
Bearer`), e.g. `SCAN_API_TOKEN=$(az account get-access-token --scope api://<app id>/.default
--query accessToken -o tsv)`: the same shape with another header.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from scanctl.errors import UsageError

API_KEY_HEADER = "X-API-Key"
KEY_ENV = "SCAN_API_KEY"
KEY_FILE_ENV = "SCAN_API_KEY_FILE"
TOKEN_ENV = "SCAN_API_TOKEN"  # noqa: S105 (the name of the variable, not a token)


class Credential:
    """One HTTP header that authenticates; `source` says where it came from."""

    __slots__ = ("header", "source", "value")

    def __init__(self, header: str, value: str, source: str) -> None:
        self.header, self.value, self.source = header, value, source

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


def _read_key_file(path: str, source: str) -> Credential:
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as file:
            text = file.read()
    except OSError as exc:
        raise UsageError(f"cannot read the API key file {path} ({exc.strerror})") from exc
    return api_key(text, source)


def resolve(
    key: str | None, key_file: str | None, env: Mapping[str, str] | None = None
) -> Credential | None:
    """The credential to send: --api-key, --api-key-file, SCAN_API_TOKEN, SCAN_API_KEY,
    SCAN_API_KEY_FILE, in that order; None when there is none (the service will answer 401, and
    we say how to give one)."""
    values: Mapping[str, str] = os.environ if env is None else env
    if key is not None:
        return api_key(key, "--api-key")
    if key_file is not None:
        return _read_key_file(key_file, f"--api-key-file {key_file}")
    if values.get(TOKEN_ENV):
        return bearer_token(values[TOKEN_ENV], TOKEN_ENV)
    if values.get(KEY_ENV):
        return api_key(values[KEY_ENV], KEY_ENV)
    if values.get(KEY_FILE_ENV):
        path = values[KEY_FILE_ENV]
        return _read_key_file(path, f"{KEY_FILE_ENV} ({path})")
    return None


HOW_TO_GIVE = (
    f"give one with {KEY_ENV}, --api-key-file FILE or --api-key, or an Entra ID access token "
    f"with {TOKEN_ENV}"
)
