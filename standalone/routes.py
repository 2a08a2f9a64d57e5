"""Azure Functions HTTP route templates (ASP.NET style) compiled to regular expressions.

Supported: literal segments, `{name}`, `{name?}`, `{name:int}` (and other common constraints),
`{name=default}` and a trailing catch-all `{*rest}`. Routes are tried most specific first, as
ASP.NET routing does: literal before constrained before plain parameter before catch-all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_PARAMETER = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([^}=?]+))?(\?)?(?:=([^}]*))?\}")
_CONSTRAINTS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "bool": r"(?i:true|false)",
    "alpha": r"[A-Za-z]+",
    "guid": r"[0-9A-Fa-f]{8}-?(?:[0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}",
    "double": r"-?\d+(?:\.\d+)?",
    "float": r"-?\d+(?:\.\d+)?",
    "decimal": r"-?\d+(?:\.\d+)?",
}


class RouteError(ValueError):
    """A route template this host cannot compile."""


@dataclass
class Route:
    template: str
    methods: frozenset[str]
    pattern: re.Pattern[str]
    rank: tuple[int, ...]
    defaults: dict[str, str] = field(default_factory=dict)
    target: Any = None

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        values = {k: v for k, v in found.groupdict().items() if v is not None}
        return {**self.defaults, **values}


def _segment(segment: str, defaults: dict[str, str]) -> tuple[str, int, bool]:
    """Regex for one path segment, its rank (lower = more specific) and whether it is optional."""
    parts: list[str] = []
    position = 0
    rank = 0
    optional = False
    for found in _PARAMETER.finditer(segment):
        parts.append(re.escape(segment[position : found.start()]))
        catch_all, name, constraint, question, default = found.groups()
        if catch_all:
            parts.append(f"(?P<{name}>.*)")
            rank = max(rank, 4)
        else:
            constraint_name = (constraint or "").split(":")[0].split("(")[0].lower()
            regex = _CONSTRAINTS.get(constraint_name, r"[^/]+")
            parts.append(f"(?P<{name}>{regex})")
            rank = max(rank, 1 if constraint_name in _CONSTRAINTS else 2)
        if question or default is not None:
            optional = True
            rank = max(rank, 3)
        if default is not None:
            defaults[name] = default
        position = found.end()
    parts.append(re.escape(segment[position:]))
    return "".join(parts), rank, optional


def compile_route(template: str, methods: list[str] | None, target: Any = None) -> Route:
    """Compile a route template (without the `/api` prefix) for the given HTTP methods."""
    template = template.strip("/")
    defaults: dict[str, str] = {}
    regex = ""
    ranks: list[int] = []
    for index, segment in enumerate(template.split("/") if template else []):
        if segment.count("{") != segment.count("}"):
            raise RouteError(f"unbalanced braces in route {template!r}")
        part, rank, optional = _segment(segment, defaults)
        piece = part if index == 0 else "/" + part
        regex += f"(?:{piece})?" if optional else piece
        ranks.append(rank)
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        raise RouteError(f"route {template!r} cannot be compiled: {exc}") from exc
    allowed = frozenset(m.upper() for m in (methods or [])) or frozenset(
        {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
    )
    return Route(template, allowed, pattern, (*ranks, 9), defaults, target)


def sort_routes(routes: list[Route]) -> list[Route]:
    """Most specific first, so `scans/trigger` wins over `scans/{scanId}`."""
    return sorted(routes, key=lambda r: (r.rank, r.template))
