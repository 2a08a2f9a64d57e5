"""The role each route needs, and the audit action each change leaves: one table.

`api_endpoint` finds a request's rule here (by method and route template, literal segments
before parameters, as the Functions host routes), the OpenAPI document shows it, and the tests
call every route with every role. A route missing here answers to admins only and fails the
tests. Routes are Functions route templates, without the `/api` prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrations.identity.roles import Role

READER, OPERATOR, ADMIN = Role.READER, Role.OPERATOR, Role.ADMIN
HOST_KEY = "v1/hosts/{hostId}/host-key"


@dataclass(frozen=True)
class Rule:
    method: str
    template: str
    role: Role | None  # None: public
    change: str | None = None  # the audit action a successful call records

    @property
    def segments(self) -> list[str]:
        return self.template.split("/")

    def matches(self, method: str, path: str) -> bool:
        parts = path.strip("/").split("/")
        if method != self.method or len(parts) != len(self.segments):
            return False
        return all(s.startswith("{") or s == p for s, p in zip(self.segments, parts, strict=True))

    @property
    def precedence(self) -> tuple[bool, ...]:
        """Sorts literal segments before parameters, position by position."""
        return tuple(s.startswith("{") for s in self.segments)


RULES: tuple[Rule, ...] = (
    Rule("GET", "health", None),
    Rule("GET", "openapi.json", READER),
    Rule("GET", "v1/scans", READER),
    Rule("GET", "v1/scans/{scanId}", READER),
    Rule("GET", "v1/scans/{scanId}/report", READER),
    Rule("GET", "scans", READER),
    Rule("GET", "scans/{scanId}", READER),
    Rule("POST", "v1/scans", OPERATOR, "scan.started"),
    Rule("POST", "v1/repositories/{repositoryId}/scan", OPERATOR, "scan.started"),
    Rule("POST", "scans/trigger", OPERATOR, "scan.started"),
    Rule("POST", "v1/scans/{scanId}/cancel", OPERATOR, "scan.cancelled"),
    Rule("GET", "v1/{kind}", READER),
    Rule("GET", "v1/{kind}/{targetId}", READER),
    Rule("POST", "v1/{kind}", ADMIN, "target.registered"),
    Rule("PUT", "v1/{kind}/{targetId}", ADMIN, "target.updated"),
    Rule("PATCH", "v1/{kind}/{targetId}", ADMIN, "target.updated"),
    Rule("DELETE", "v1/{kind}/{targetId}", ADMIN, "target.deleted"),
    Rule("GET", HOST_KEY, READER),
    Rule("PUT", HOST_KEY, ADMIN, "hostKey.pinned"),
    Rule("DELETE", HOST_KEY, ADMIN, "hostKey.forgotten"),
    Rule("GET", "v1/audit", ADMIN),
)


def rule_for(method: str, path: str) -> Rule | None:
    """The rule of the route serving `method path` (path without the `/api` prefix)."""
    found = [rule for rule in RULES if rule.matches(method.upper(), path)]
    return min(found, key=lambda rule: rule.precedence) if found else None
