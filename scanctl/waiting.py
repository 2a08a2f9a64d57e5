"""Waiting for scans: poll what is live, stop when it has ended, never hammer.

Polls start quick (a host quick-scan ends in about a second) and slow down to `max_interval`;
several scans are polled side by side over the client's pool. A scan that has ended gets its
JSON report read once, for its findings per severity.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from scanctl.client import ApiClient
from scanctl.errors import UnreachableError
from scanctl.findings import ACCEPTED, COUNTS, accepted_count, severity_counts
from scanctl.views.progress import ENDED, ProgressView

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

FIRST_INTERVAL_S = 0.25
INTERVAL_GROWTH = 1.5
POLL_THREADS = 8
# The service may restart under a long wait (a deployment): keep trying this long.
UNREACHABLE_GRACE_S = 30.0


class WaitTimeout(Exception):
    def __init__(self, pending: list[str]) -> None:
        super().__init__("timed out")
        self.pending = pending


class WaitInterrupted(Exception):
    """Ctrl-C while waiting; `running` are the scans that had not ended."""

    def __init__(self, running: list[str]) -> None:
        super().__init__("interrupted")
        self.running = running


def with_findings(client: ApiClient, scan: dict[str, Any]) -> dict[str, Any]:
    """The scan with `findings` (per severity) read from its JSON report."""
    report = json.loads(client.report(str(scan["scanId"]), "json"))
    return {**scan, COUNTS: severity_counts(report), ACCEPTED: accepted_count(report)}


def poll(client: ApiClient, scan_id: str) -> dict[str, Any]:
    scan = client.scan(scan_id)
    return with_findings(client, scan) if scan.get("status") in ENDED else scan


def wait_for(
    client: ApiClient,
    scans: list[dict[str, Any]],
    view: ProgressView,
    max_interval: float = 1.0,
    timeout: float | None = None,
) -> list[dict[str, Any]]:
    """Final statuses (with findings) of `scans`, in their order; progress goes to `view`."""
    current = {str(s["scanId"]): s for s in scans}
    pending = list(current)
    deadline = None if timeout is None else time.monotonic() + timeout
    interval = FIRST_INTERVAL_S
    failing_since: float | None = None
    pool: ThreadPoolExecutor | None = None
    if len(pending) > 1:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(min(POLL_THREADS, len(pending)))
    view.start(scans)
    try:
        while pending:
            try:
                if pool is None:
                    answers = [poll(client, pending[0])]
                else:
                    answers = list(pool.map(lambda scan_id: poll(client, scan_id), pending))
                failing_since = None
            except UnreachableError:
                failing_since = failing_since or time.monotonic()
                if time.monotonic() - failing_since > UNREACHABLE_GRACE_S:
                    raise
                answers = []
            for answer in answers:
                current[str(answer["scanId"])] = answer
                view.update(answer)
            pending = [i for i in pending if current[i].get("status") not in ENDED]
            if not pending:
                break
            pause = interval
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WaitTimeout(pending)
                pause = min(pause, left)
            time.sleep(pause)
            interval = min(interval * INTERVAL_GROWTH, max_interval)
    except KeyboardInterrupt:
        raise WaitInterrupted(
            [i for i in current if current[i].get("status") not in ENDED]
        ) from None
    finally:
        view.stop()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    return [current[str(s["scanId"])] for s in scans]
