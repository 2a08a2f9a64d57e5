"""The API's Entra app registration (infra/entra/api-app.json) against what the code expects."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

from orchestrations.identity.roles import APP_ROLES
from tests.infra import settings_sources as sources

APP = sources.ROOT / "infra" / "entra" / "api-app.json"
DOC = sources.ROOT / "docs" / "identity.md"


@pytest.fixture(scope="module")
def app() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(APP.read_text(encoding="utf-8"))
    return document


def test_the_app_roles_are_the_ones_the_code_maps(app: dict[str, Any]) -> None:
    roles = app["appRoles"]
    assert {r["value"] for r in roles} == set(APP_ROLES)
    assert len({r["id"] for r in roles}) == len(roles)
    for role in roles:
        uuid.UUID(role["id"])
        assert role["isEnabled"] is True
        assert set(role["allowedMemberTypes"]) == {"User", "Application"}  # people and pipelines


def test_tokens_are_v2_for_this_tenant_only(app: dict[str, Any]) -> None:
    assert app["api"]["requestedAccessTokenVersion"] == 2  # the issuer the API checks
    assert app["signInAudience"] == "AzureADMyOrg"


def test_the_docs_pre_authorise_the_scope_the_app_defines(app: dict[str, Any]) -> None:
    scope = app["api"]["oauth2PermissionScopes"][0]
    doc = DOC.read_text(encoding="utf-8")
    assert re.search(rf"SCOPE_ID={scope['id']}\b", doc)
    assert f"--body @{APP.relative_to(sources.ROOT).as_posix()}" in doc
