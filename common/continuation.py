"""Continuation tokens: a storage paging position as an opaque, URL-safe string.

Table Storage hands out its position as a small dict of strings (a key may be None); callers of
a paged API get it back as one base64url JSON string and send it unchanged for the next page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping

Position = dict[str, str | None]  # where the next page starts


class InvalidTokenError(ValueError):
    """The string is not a continuation token this service handed out."""


def encode_token(position: Mapping[str, str | None] | None) -> str | None:
    if not position:
        return None
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def decode_token(token: str | None) -> Position | None:
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error) as exc:
        raise InvalidTokenError("continuation token is not valid") from exc
    if not isinstance(position, dict) or not all(
        isinstance(v, str) or v is None for v in position.values()
    ):
        raise InvalidTokenError("continuation token is not valid")
    return position
