"""GET /api/health: liveness for load balancers and the standalone host's readiness check."""

import json

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()

SERVICE_NAME = "scan-orchestrator"


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    """Answer 200 with a small JSON document; needs no key and touches no storage."""
    body = {"status": "ok", "service": SERVICE_NAME}
    return func.HttpResponse(json.dumps(body), status_code=200, mimetype="application/json")
