"""A scan's Durable orchestration, seen through the Durable client: start it, ask what it runs."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from orchestrations.core.contract import ORCHESTRATOR, ScanStart

log = logging.getLogger(__name__)

ALIVE = {"Running", "Pending", "ContinuedAsNew", "Suspended"}
# A rescan may come while the target's previous orchestration runs its last episode (its lease
# is released just before): ask again soon, for up to three seconds.
_START_ATTEMPTS = 150
_START_RETRY_S = 0.02


class ScanStartError(Exception):
    """The orchestration could not be started; the scan record says failed."""


async def orchestration(client: Any, instance_id: str) -> tuple[str | None, str | None]:
    """(runtime status, scan id it runs) of an instance, or (None, None) when there is none."""
    try:
        status = await client.get_status(instance_id, show_input=True)
    except Exception as exc:
        log.warning("status of orchestration %s unavailable: %s", instance_id, exc)
        return "Unknown", None
    runtime = status.runtime_status.value if status.runtime_status else None
    raw_input = status.input_
    scan_id = raw_input.get("scanId") if isinstance(raw_input, dict) else None
    return runtime, scan_id


async def start_orchestration(client: Any, instance_id: str, payload: ScanStart) -> None:
    """Start the scan's orchestration; an instance that already runs (or ran) this very scan
    counts as started (a start repeated after an interruption)."""
    last_error: Exception | None = None
    for attempt in range(_START_ATTEMPTS):
        try:
            await client.start_new(ORCHESTRATOR, instance_id, payload)
            return
        except Exception as exc:
            # The target's previous orchestration releases the lease just before it ends; a
            # new start can arrive in that moment. Wait for it to finish.
            last_error = exc
            if attempt == 0 and (await orchestration(client, instance_id))[1] == payload["scanId"]:
                return
            await asyncio.sleep(_START_RETRY_S)
    raise ScanStartError(f"could not start the scan orchestration: {last_error}")
