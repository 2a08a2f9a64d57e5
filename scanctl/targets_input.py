"""Targets as people write them: `[user@]host[:port]` (IPv6 in brackets), one per argument or
one per line of a file (`#` starts a comment; `-` reads standard input)."""

from __future__ import annotations

import re
import sys
from typing import NamedTuple

from scanctl.errors import UsageError

_HOST = re.compile(
    r"^(?:(?P<user>[^@:\s]+)@)?(?:\[(?P<v6>[^\]]+)\]|(?P<name>[^:@\s\[\]]+))(?::(?P<port>\d+))?$"
)


class HostSpec(NamedTuple):
    hostname: str
    port: int | None = None
    username: str | None = None


def parse_host(text: str) -> HostSpec:
    match = _HOST.match(text.strip())
    if match is None:
        raise UsageError(f"{text!r} is not a host: use [user@]host[:port] ([::1]:22 for IPv6)")
    port = match["port"]
    if port is not None and not 1 <= int(port) <= 65535:
        raise UsageError(f"{text!r}: the port must be between 1 and 65535")
    return HostSpec(
        hostname=match["v6"] or match["name"],
        port=int(port) if port is not None else None,
        username=match["user"],
    )


def read_lines(path: str) -> list[str]:
    """The non-empty, non-comment lines of a file (or of stdin for `-`)."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as file:
                text = file.read()
    except OSError as exc:
        raise UsageError(f"cannot read {path} ({exc.strerror})") from exc
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return [line for line in lines if line]
