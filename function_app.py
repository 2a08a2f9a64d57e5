"""The Function App: creates the Durable Functions app and registers the blueprints."""

import azure.durable_functions as df
import azure.functions as func

from orchestrations.blueprints import BLUEPRINTS
from orchestrations.core.telemetry import configure_telemetry

configure_telemetry()  # Azure Monitor export when APPLICATIONINSIGHTS_CONNECTION_STRING is set

# Our endpoints check their own API key (X-API-Key), so the Functions-level key is not used.
app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
for blueprint in BLUEPRINTS:
    app.register_functions(blueprint)
