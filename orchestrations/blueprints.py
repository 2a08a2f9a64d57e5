"""Every blueprint of the service, in one list (function_app.py and test apps register these)."""

from __future__ import annotations

import azure.durable_functions as df

from orchestrations import (
    health_api,
    host_keys_api,
    openapi,
    scan_activities,
    scan_orchestrator,
    scan_views_api,
    scans_api,
    scheduler,
    targets_api,
)

BLUEPRINTS: list[df.Blueprint] = [
    health_api.bp,
    openapi.bp,
    scans_api.bp,
    scan_views_api.bp,
    targets_api.bp,
    host_keys_api.bp,
    scan_orchestrator.bp,
    scan_activities.bp,
    scheduler.bp,
]
