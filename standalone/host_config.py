"""The parts of host.json the standalone host honours."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from standalone.settings import resolve_setting_refs

DEFAULT_HUB = "TestHubName"
# Durable Functions' own defaults for the Python worker when host.json says nothing.
DEFAULT_MAX_ACTIVITIES = 10
DEFAULT_MAX_ORCHESTRATORS = 10

_HUB_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,44}$")


class HostConfigError(Exception):
    """host.json is missing or holds a value the host cannot use."""


@dataclass(frozen=True)
class HostConfig:
    hub_name: str
    route_prefix: str
    max_activities: int
    max_orchestrators: int
    refuse_running_instances: bool
    storage_setting: str


def _positive_int(value: Any, name: str, default: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise HostConfigError(f"host.json: {name} must be an integer, not {value!r}") from exc
    if number < 1:
        raise HostConfigError(f"host.json: {name} must be at least 1")
    return number


def load_host_config(app_dir: Path) -> HostConfig:
    """Read host.json (settings must already be applied, for `%NAME%` references)."""
    path = app_dir / "host.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HostConfigError(f"cannot read {path}: {exc}") from exc
    except ValueError as exc:
        raise HostConfigError(f"{path} is not valid JSON: {exc}") from exc

    extensions = document.get("extensions", {}) or {}
    durable = extensions.get("durableTask", {}) or {}
    http = extensions.get("http", {}) or {}

    hub = resolve_setting_refs(str(durable.get("hubName") or DEFAULT_HUB)).strip() or DEFAULT_HUB
    # Azure Storage task hubs become table and container names, hence Azure's naming rule.
    if not _HUB_NAME.match(hub):
        raise HostConfigError(
            f"task hub name {hub!r} is invalid: 3-45 letters and digits, starting with a letter"
        )
    prefix = str(http.get("routePrefix", "api")).strip("/")
    states = str(durable.get("overridableExistingInstanceStates", "NonRunningStates"))
    provider = durable.get("storageProvider", {}) or {}
    return HostConfig(
        hub_name=hub,
        route_prefix=prefix,
        max_activities=_positive_int(
            durable.get("maxConcurrentActivityFunctions"),
            "maxConcurrentActivityFunctions",
            DEFAULT_MAX_ACTIVITIES,
        ),
        max_orchestrators=_positive_int(
            durable.get("maxConcurrentOrchestratorFunctions"),
            "maxConcurrentOrchestratorFunctions",
            DEFAULT_MAX_ORCHESTRATORS,
        ),
        refuse_running_instances=states.lower() != "anystate",
        storage_setting=str(provider.get("connectionStringName") or "AzureWebJobsStorage"),
    )
