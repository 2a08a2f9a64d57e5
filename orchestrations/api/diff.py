"""GET /api/v1/scans/{scanId}/diff: what changed since an earlier scan of the same target."""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from orchestrations.api import routes
from orchestrations.api.http import ApiError, route
from orchestrations.core.settings import get_settings
from orchestrations.scans.comparison import PREVIOUS, ComparisonError, compare
from orchestrations.state.scans import is_scan_id
from orchestrations.state.stores import Stores
from scanner.reports import FORMATS

log = logging.getLogger(__name__)
bp = df.Blueprint()


def _against(req: func.HttpRequest) -> str:
    against = (req.params.get("against") or PREVIOUS).strip()
    if against != PREVIOUS and not is_scan_id(against.upper()):
        raise ApiError(400, "invalid_parameter", "against must be `previous` or a scan id (a ULID)")
    return against if against == PREVIOUS else against.upper()


def comparison(req: func.HttpRequest) -> tuple[str, dict[str, Any]]:
    """(format, comparison document) for the request, or the ApiError that answers it."""
    fmt = (req.params.get("format") or "json").lower()
    if fmt not in FORMATS:
        raise ApiError(400, "invalid_parameter", f"format must be one of {', '.join(FORMATS)}")
    against = _against(req)
    scans = Stores.of(get_settings()).scans
    scan_id = req.route_params.get("scanId", "")
    record = scans.get(scan_id)
    if record is None:
        raise ApiError(404, "scan_not_found", f"no scan with id {scan_id[:64]!r}")
    try:
        return fmt, compare(scans, record, against)
    except ComparisonError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc


@route(bp, routes.SCAN_DIFF)
def scan_diff(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/v1/scans/{scanId}/diff?against=previous|{scanId}&format=json|csv|html|sarif."""
    fmt, document = comparison(req)
    counts = document["findings"]["counts"]
    log.info(
        "scan=%s target=%s: compared with %s: %d new, %d resolved findings",
        document["scanId"],
        document["targetId"],
        (document["baseline"] or {}).get("scanId", "no earlier scan"),
        counts["new"],
        counts["resolved"],
    )
    from scanner.comparison.reports import render  # with the comparison: on first use

    content_type, body = render(fmt, document)
    return func.HttpResponse(body, status_code=200, headers={"Content-Type": content_type})
