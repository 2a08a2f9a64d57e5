"""The service's blueprints plus a synthetic target kind, for the lifecycle tests."""

import azure.durable_functions as df
import azure.functions as func

from orchestrations.blueprints import BLUEPRINTS
from orchestrations.scans.kinds import register_kind
from tests.apps.scan_api.synthetic import SyntheticKind

register_kind(SyntheticKind())

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
for blueprint in BLUEPRINTS:
    app.register_functions(blueprint)
