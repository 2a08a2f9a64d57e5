"""GET /api/health: liveness for load balancers and monitors; needs no key, touches no storage."""

import azure.durable_functions as df
import azure.functions as func

from orchestrations.api import routes
from orchestrations.api.http import json_response, route
from orchestrations.api.models import Health

bp = df.Blueprint()

SERVICE_NAME = "scan-orchestrator"


@route(bp, routes.HEALTH)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(Health(status="ok", service=SERVICE_NAME))
