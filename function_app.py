"""The Function App: creates the Durable Functions app and registers the blueprints."""

import azure.durable_functions as df
import azure.functions as func

from orchestrations.health_api import bp as health_bp

# Our HTTP endpoints check their own API key (X-API-Key), so the Functions-level key is not used.
app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(health_bp)
