"""The registry of target kinds, and the one engine per kind and process.

`KINDS` is what the API, the activities and the timers use. An app may register more kinds
(the tests register a synthetic one with `register_kind`).
"""

from __future__ import annotations

import threading
from typing import Any

from orchestrations.core.settings import get_settings
from orchestrations.engines.wiring import EngineUnavailableError
from orchestrations.scans.kinds.base import (
    InvalidTargetError,
    TargetKind,
    TargetNotFoundError,
    instance_id_for,
)
from orchestrations.scans.kinds.host import HostKind
from orchestrations.scans.kinds.repository import RepositoryKind
from orchestrations.scans.kinds.subscription import SubscriptionKind
from orchestrations.state.host_keys import host_id
from scanner.engine import ScanEngine

__all__ = [
    "KINDS",
    "EngineUnavailableError",
    "InvalidTargetError",
    "TargetKind",
    "TargetNotFoundError",
    "engine_for",
    "host_id",
    "infer_target_type",
    "instance_id_for",
    "kind_by_plural",
    "register_kind",
]

KINDS: dict[str, TargetKind] = {}

_engines: dict[str, ScanEngine] = {}
_engines_lock = threading.Lock()


def register_kind(kind: TargetKind) -> None:
    KINDS[kind.name] = kind


def kind_by_plural(plural: str) -> TargetKind | None:
    return next((k for k in KINDS.values() if k.plural == plural), None)


def engine_for(target_type: str) -> ScanEngine:
    """The kind's engine, built once per process (engines may hold keys or connection pools).
    Raises KeyError for an unknown kind, EngineUnavailableError when it cannot be built."""
    with _engines_lock:
        if target_type not in _engines:
            _engines[target_type] = KINDS[target_type].engine(get_settings())
        return _engines[target_type]


for _kind in (HostKind(), RepositoryKind(), SubscriptionKind()):
    register_kind(_kind)


def infer_target_type(body: dict[str, Any]) -> str | None:
    """The kind a trigger body means: its targetType, else the field only that kind has (the
    unversioned routes and older clients post without targetType)."""
    explicit = body.get("targetType", body.get("target_type"))
    if explicit is not None:
        return str(explicit)
    for key, kind in (
        ("hostname", "host"),
        ("repositoryId", "repository"),
        ("repository_id", "repository"),
        ("subscriptionId", "subscription"),
        ("subscription_id", "subscription"),
        ("subscriptionIds", "subscription"),
        ("subscription_ids", "subscription"),
        ("managementGroupId", "subscription"),
        ("management_group_id", "subscription"),
    ):
        if key in body:
            return kind
    return None
