"""The CLI's tests run `scanctl` itself against the service on the standalone host."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest

from tests.support.cli_service import Service, cli_service
from tests.support.host_process import ROOT

SCHEMA = json.loads((ROOT / "docs" / "scanctl-output.schema.json").read_text())


@pytest.fixture(scope="module")
def service(azurite: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One service per test module (starting one costs seconds)."""
    with cli_service(tmp_path_factory.mktemp("scanctl"), azurite) as running:
        yield running


def valid_output(text: str) -> dict[str, Any]:
    """The CLI's JSON output, checked against the schema docs/ publishes."""
    document: dict[str, Any] = json.loads(text)
    jsonschema_rs.validator_for(SCHEMA, validate_formats=True).validate(document)
    return document
