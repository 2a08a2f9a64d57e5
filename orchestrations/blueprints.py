"""Every blueprint of the service, in one list (function_app.py and test apps register these)."""

from __future__ import annotations

import azure.durable_functions as df

from orchestrations.api import (
    audit,
    diff,
    exceptions,
    health,
    host_keys,
    openapi,
    scan_views,
    scans,
    targets,
)
from orchestrations.workflow import activities, orchestrator, timers

BLUEPRINTS: list[df.Blueprint] = [
    health.bp,
    openapi.bp,
    scans.bp,
    diff.bp,
    scan_views.bp,
    targets.bp,
    host_keys.bp,
    exceptions.bp,
    audit.bp,
    orchestrator.bp,
    activities.bp,
    timers.bp,
]
