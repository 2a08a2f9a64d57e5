"""schemathesis against /api/openapi.json: no 5xx, every answer as documented, for each role
(an admin with every example, a reader and an operator with fewer: most of their changes end in
a documented 403)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import azure.durable_functions as df
import azure.functions as func
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from orchestrations.api.routes import ROUTES
from orchestrations.blueprints import BLUEPRINTS
from orchestrations.scans.kinds import KINDS
from tests.support.entra import FakeEntra
from tests.support.host_process import HostProcess
from tests.support.scan_api import API_KEY, ROLE_KEYS, Api, scan_api_env, start_api

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MIN_CASES_PER_EXAMPLE = 25  # of the examples per mode, over all operations and both modes
# Caller -> examples per operation and mode.
CALLERS = {"admin key": 20, "operator token": 5, "reader key": 5}


@pytest.fixture(scope="module")
def api_host(
    azurite: str, entra: FakeEntra, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HostProcess]:
    host = start_api(tmp_path_factory.mktemp("openapi"), scan_api_env(azurite, **entra.env()))
    yield host
    host.stop()


def credentials(caller: str, entra: FakeEntra) -> dict[str, str]:
    role, kind = caller.split()
    if kind == "token":
        app_role = {"reader": "Scans.Read", "operator": "Scans.Run", "admin": "Scans.Admin"}[role]
        return {"Authorization": f"Bearer {entra.token([app_role])}"}
    return {"X-API-Key": ROLE_KEYS[role]}


@pytest.fixture(scope="module")
def api_schema(api_host: HostProcess) -> Any:
    return schemathesis.openapi.from_url(
        api_host.base_url + "/api/openapi.json", headers={"X-API-Key": API_KEY}
    )


def test_the_document_describes_every_route(api_host: HostProcess) -> None:
    spec = Api(api_host).get("/api/openapi.json").json()
    assert spec["openapi"] == "3.1.0"
    assert spec["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"
    plurals = [kind.plural for kind in KINDS.values() if kind.plural] + ["synthetics"]
    expected = {
        (route.path(plural), operation.method.lower())
        for route in ROUTES
        for plural in (plurals if route.per_kind else [None])
        for operation in route.operations
    }
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert documented == expected
    assert {"/api/v1/repositories", "/api/v1/hosts", "/api/v1/subscriptions"} <= set(spec["paths"])
    operation_ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))  # unique
    assert not [name for name in operation_ids if "seed" in name.lower()]
    triggers = spec["paths"]["/api/v1/scans"]["post"]["requestBody"]["content"]
    assert len(triggers["application/json"]["schema"]["anyOf"]) == 4  # three kinds + synthetic


def test_every_http_function_serves_a_route_of_the_table() -> None:
    served = {
        (binding["route"], tuple(binding["methods"]))
        for function in app_with_blueprints().get_functions()
        for binding in json.loads(function.get_function_json())["bindings"]
        if binding["type"] == "httpTrigger"
    }
    assert served == {(route.template, tuple(route.methods)) for route in ROUTES}


def app_with_blueprints() -> df.DFApp:
    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    for blueprint in BLUEPRINTS:
        app.register_functions(blueprint)
    return app


def runner(
    operation: Any,
    mode: GenerationMode,
    headers: dict[str, str],
    examples: int,
    cases_run: list[str],
) -> Any:
    """A Hypothesis test of one operation in one generation mode."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        database=None,
    )
    def run(case: Any) -> None:
        response = case.call(headers=headers, timeout=30)
        cases_run.append(operation.label)
        case.validate_response(response, checks=CHECKS)

    return run


@pytest.mark.parametrize("caller", CALLERS)
def test_api_conforms_to_its_openapi_document(
    api_schema: Any, entra: FakeEntra, caller: str
) -> None:
    """Positive and negative cases for every operation; all checks on every answer."""
    failures: dict[str, str] = {}
    cases_run: list[str] = []
    headers, examples = credentials(caller, entra), CALLERS[caller]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                runner(operation, mode, headers, examples, cases_run)()
            except Unsatisfiable:
                continue  # no invalid input exists (an operation without parameters)
            except Exception as exc:  # keep going: report every failing operation at once
                failures[f"{operation.label} ({mode.value})"] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{k}: {v}" for k, v in failures.items())
    assert len(cases_run) >= MIN_CASES_PER_EXAMPLE * examples, len(cases_run)
    assert len(set(cases_run)) == len(operations) >= 25  # every operation was exercised
