"""Every blueprint of the service, in one list (function_app.py and test apps register these)."""

from __future__ import annotations

import azure.durable_functions as df

from orchestrations import (
    audit_api,
    health_api,
    host_keys_api,
    openapi,
    scan_activities,
    scan_orchestrator,
    scans_api,
    scheduler,
    targets_api,
)

BLUEPRINTS: list[df.Blueprint] = [
    health_api.bp,
    openapi.bp,
    scans_api.bp,
    targets_api.bp,
    host_keys_api.bp,
    audit_api.bp,
    scan_orchestrator.bp,
    scan_activities.bp,
    scheduler.bp,
]
