"""GET /api/v1/scans/{scanId}/diff: what changed since an earlier scan of the same target."""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from orchestrations.api_common import ApiError, api_endpoint
from orchestrations.comparison_models import ScanComparison
from orchestrations.scan_comparison import PREVIOUS, ComparisonError, compare
from orchestrations.scan_service import Stores
from orchestrations.scan_store import is_scan_id
from orchestrations.settings import get_settings
from scanner.reports import CONTENT_TYPES, FORMATS

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


@bp.route(route="v1/scans/{scanId}/diff", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@api_endpoint()
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


DESCRIPTION = """Compares two completed scans of one target. `against=previous` (the default)
takes the latest completed scan of the same target before this one; otherwise name a scan id.
Findings match by fingerprint (rule id, the thing the finding is about and a normalized
location; never line numbers or message text); facts are compared per target type.
Answers 404 for an unknown scan, 409 when either scan has not completed, 422 when the scans
are of different targets, and 200 with `baseline: null` when there is no earlier scan (every
finding is then new). `format=sarif` marks results with SARIF 2.1.0 `baselineState`
(new, unchanged, absent)."""


def diff_paths(spec: Any) -> dict[str, Any]:
    """The OpenAPI paths of this blueprint (`spec` is orchestrations.openapi's builder)."""
    schemas = {
        "json": spec.ref(ScanComparison),
        "sarif": {"type": "object", "description": "SARIF 2.1.0 log with baselineState"},
        "csv": {"type": "string"},
        "html": {"type": "string"},
    }
    return {
        "/api/v1/scans/{scanId}/diff": {
            "get": {
                "operationId": "compareScan",
                "summary": "What changed since an earlier scan of the same target",
                "description": DESCRIPTION,
                "parameters": [
                    {
                        "name": "scanId",
                        "in": "path",
                        "required": True,
                        "description": "The scan to compare (a ULID)",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 256},
                    },
                    {
                        "name": "against",
                        "in": "query",
                        "required": False,
                        "description": "`previous` or the id of the baseline scan",
                        "schema": {"type": "string", "maxLength": 64, "default": PREVIOUS},
                    },
                    {
                        "name": "format",
                        "in": "query",
                        "required": False,
                        "description": "Answer format",
                        "schema": {"type": "string", "enum": list(FORMATS), "default": "json"},
                    },
                ],
                "responses": spec.responses(
                    {
                        "200": {
                            "description": "The comparison",
                            "content": {
                                CONTENT_TYPES[f].split(";")[0]: {"schema": schemas[f]}
                                for f in FORMATS
                            },
                        }
                    },
                    [400, 404, 409, 422],
                ),
            }
        }
    }
