"""GET /api/health: liveness for load balancers and monitors; needs no key, touches no storage."""

import azure.durable_functions as df
import azure.functions as func

from orchestrations.api_common import api_endpoint, json_response
from orchestrations.api_models import Health

bp = df.Blueprint()

SERVICE_NAME = "scan-orchestrator"


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@api_endpoint()
def health(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(Health(status="ok", service=SERVICE_NAME))
