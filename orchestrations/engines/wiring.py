"""What every engine's wiring shares: the error for an engine that cannot be built, and reading
an engine's settings with each problem named (and no input echoed: it could be a secret)."""

from __future__ import annotations

from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings


class EngineUnavailableError(Exception):
    """No scan engine is installed (or configured) for this target type."""


S = TypeVar("S", bound=BaseSettings)


def load_settings(settings_class: type[S], what: str) -> S:
    """`settings_class()` from the environment; invalid values raise EngineUnavailableError
    naming the settings, e.g. `host scans are misconfigured: SSH_CONNECT_TIMEOUT_S: ...`."""
    try:
        return settings_class()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise EngineUnavailableError(f"{what} are misconfigured: {problems}") from exc
