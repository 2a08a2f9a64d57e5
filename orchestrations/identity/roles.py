"""The three roles, each including the ones below it, and the principal that holds one."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Role(enum.IntEnum):
    """`reader` reads everything; `operator` also starts and cancels scans; `admin` also changes
    targets, schedules, host keys and exceptions, and reads the audit log."""

    READER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        """`reader`, `operator` or `admin` (any case); ValueError otherwise."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {text.strip()[:32]!r}") from None


# The app roles of the API's Entra app registration (the `value` a token's `roles` claim carries).
APP_ROLES: dict[str, Role] = {
    "Scans.Read": Role.READER,
    "Scans.Run": Role.OPERATOR,
    "Scans.Admin": Role.ADMIN,
}


def role_from_app_roles(values: Iterable[object]) -> Role | None:
    """The highest role among a token's app roles; unknown values grant nothing."""
    granted = [APP_ROLES[v] for v in values if isinstance(v, str) and v in APP_ROLES]
    return max(granted, default=None)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: an API key (by its name), a person or an application."""

    kind: str  # "key", "user" or "application"
    name: str  # key name, user principal name, or the application's client id
    role: Role | None  # None: a valid identity holding none of our roles
    object_id: str = ""  # Entra object id (people and applications)

    def may(self, required: Role) -> bool:
        return self.role is not None and self.role >= required

    @property
    def display(self) -> str:
        return f"{self.kind} {self.name}"
