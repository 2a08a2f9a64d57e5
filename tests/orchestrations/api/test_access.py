"""Roles on every route, for API keys and Entra ID tokens; bad tokens; scoped keys; rotation;
the audit log. Against the scan API on the standalone host and a fake Entra ID tenant (TLS)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from orchestrations.api.access import authenticator
from orchestrations.api.routes import ROUTES, Operation
from orchestrations.core.settings import AppSettings
from orchestrations.identity.roles import APP_ROLES, Role
from tests.support.entra import FakeEntra
from tests.support.host_process import HostProcess
from tests.support.scan_api import ROLE_KEYS, Api, scan_api_env, start_api

ROLES = (Role.READER, Role.OPERATOR, Role.ADMIN)
APP_ROLE_OF = {role: value for value, role in APP_ROLES.items()}
OLD_PIPELINE_KEY = "pipeline-old-0123456789abcdef"
NEW_PIPELINE_KEY = "pipeline-new-fedcba9876543210"
# A value for each route parameter, so every route can be called.
PARAMETERS = {
    "{scanId}": "01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "{repositoryId}": "r1",
    "{targetId}": "x1",
    "{hostId}": "example.com-22",
    "{kind}": "hosts",
    "{exceptionId}": "01ARZ3NDEKTSV4RRFFQ69G5FAV",
}


def concrete(template: str) -> str:
    for name, value in PARAMETERS.items():
        template = template.replace(name, value)
    return "/api/" + template


@pytest.fixture(scope="module")
def host(
    azurite: str, entra: FakeEntra, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HostProcess]:
    # The pipeline's two keys come from the secret SCAN_API_KEYS_SECRET names (here an app
    # setting; in Azure a Key Vault secret), the others from SCAN_API_KEYS.
    env = scan_api_env(
        azurite,
        SCAN_API_KEYS_SECRET="SCAN_TEST_PIPELINE_KEYS",
        SCAN_TEST_PIPELINE_KEYS=(
            f"pipeline:operator:{OLD_PIPELINE_KEY}, pipeline:operator:{NEW_PIPELINE_KEY}"
        ),
        **entra.env(),
    )
    process = start_api(tmp_path_factory.mktemp("access"), env)
    yield process
    process.stop()


def key(role: Role) -> dict[str, str]:
    return {"X-API-Key": ROLE_KEYS[role.label]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def call(
    host: HostProcess, method: str, path: str, headers: dict[str, str], **kwargs: Any
) -> requests.Response:
    return requests.request(method, host.base_url + path, headers=headers, timeout=30, **kwargs)


# -- the route table ------------------------------------------------------------------------------

# Every (route, operation) of the table, with a path to call it at.
OPERATIONS = [
    (concrete(route.template), operation) for route in ROUTES for operation in route.operations
]


def test_every_change_records_an_audit_action_and_only_health_is_public() -> None:
    for path, operation in OPERATIONS:
        assert (operation.method != "GET") == (operation.change is not None), (path, operation)
        assert (operation.role is None) == (path == "/api/health"), (path, operation)
    assert len(OPERATIONS) >= 21


def expected_failure(
    operation: Operation, role: Role | None, answer: requests.Response
) -> str | None:
    """What is wrong with `answer` to a caller holding `role`, or None."""
    required = operation.role
    assert required is not None
    if role is not None and role >= required:
        if answer.status_code in (401, 403):
            return f"{role.label}: {answer.status_code}, expected to be let in"
        return None
    if answer.status_code != 403:
        return f"{role.label if role else 'no role'}: {answer.status_code}, expected 403"
    body = answer.json()
    if body.get("requiredRole") != required.label or body["error"]["code"] != "forbidden":
        return f"{role}: 403 body does not name the role: {body}"
    if required.label not in body["error"]["message"]:
        return f"{role}: 403 message does not name the role: {body}"
    return None


@pytest.mark.parametrize("credential", ["api key", "entra token"])
def test_every_route_admits_exactly_the_roles_its_rule_names(
    host: HostProcess, entra: FakeEntra, credential: str
) -> None:
    callers: list[tuple[Role | None, dict[str, str]]]
    if credential == "api key":
        callers = [(role, key(role)) for role in ROLES]
    else:
        callers = [(role, bearer(entra.token([APP_ROLE_OF[role]]))) for role in ROLES]
        callers.append((None, bearer(entra.token(None))))  # signed in, no role granted
    problems = []
    for path, operation in OPERATIONS:
        method = operation.method
        if operation.role is None:
            assert call(host, method, path, {}).status_code == 200
            continue
        anonymous = call(host, method, path, {}, json={})
        if anonymous.status_code != 401 or "WWW-Authenticate" not in anonymous.headers:
            problems.append(f"{method} {path} without credentials: {anonymous.status_code}")
        for role, headers in callers:
            answer = call(host, method, path, headers, json={})
            problem = expected_failure(operation, role, answer)
            if problem:
                problems.append(f"{method} {path} as {problem}")
    assert not problems, "\n".join(problems)


def test_the_openapi_document_shows_each_operations_role(host: HostProcess) -> None:
    spec = call(host, "GET", "/api/openapi.json", key(Role.READER)).json()
    assert set(spec["components"]["securitySchemes"]) == {"ApiKey", "EntraId"}
    seen = 0
    for route in ROUTES:
        for operation in route.operations:
            documented = spec["paths"][route.path("hosts")][operation.method.lower()]
            if operation.role is None:
                assert documented["security"] == []
                continue
            assert documented["x-required-role"] == operation.role.label
            assert documented["security"] == [
                {"ApiKey": [operation.role.label]},
                {"EntraId": [APP_ROLE_OF[operation.role]]},
            ]
            assert {"401", "403"} <= set(documented["responses"])
            seen += 1
    assert seen >= 20


# -- tokens ---------------------------------------------------------------------------------------


def bad_tokens(entra: FakeEntra) -> dict[str, str]:
    header, _, signature = entra.token(["Scans.Read"]).split(".")
    unpublished = entra.new_key(publish=False)
    return {
        "HS256 with the public key": entra.forged_hs256(entra.claims(["Scans.Admin"])),
        "expired": entra.token(["Scans.Admin"], lifetime_s=-3600),
        "not yet valid": entra.token(["Scans.Admin"], not_before_s=3600),
        "wrong audience": entra.token(["Scans.Admin"], aud="api://another-api"),
        "wrong issuer": entra.token(["Scans.Admin"], iss="https://login.example/other/v2.0"),
        "unknown key id": entra.token(["Scans.Admin"], key=unpublished),
        "tampered": ".".join([header, entra.token(["Scans.Admin"]).split(".")[1], signature]),
        "alg none": entra.unsigned(entra.claims(["Scans.Admin"])),
        "garbage": "not-a-token",
    }


def test_bad_tokens_are_unauthorized(host: HostProcess, entra: FakeEntra) -> None:
    for case, token in bad_tokens(entra).items():
        answer = call(host, "GET", "/api/v1/scans", bearer(token))
        assert answer.status_code == 401, (case, answer.text)
        assert answer.json()["error"]["code"] == "unauthorized", case
        assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"], case
    # An Authorization header wins over an API key sent with it: no falling back.
    answer = call(host, "GET", "/api/v1/scans", {**bearer("x.y.z"), **key(Role.ADMIN)})
    assert answer.status_code == 401


# -- scoped keys ----------------------------------------------------------------------------------


def test_a_reader_key_cannot_start_cancel_register_or_pin(host: HostProcess) -> None:
    admin, reader = Api(host), Api(host, ROLE_KEYS["reader"])
    refused = [
        reader.scan(name="reader-try", items=1),
        reader.post("/api/v1/hosts", {"hostname": "reader.example", "port": 22}),
        reader.request(
            "PUT",
            "/api/v1/hosts/reader.example-22/host-key",
            json={"keyType": "ssh-ed25519", "fingerprint": "SHA256:" + "A" * 43},
        ),
    ]
    running = admin.scan(name="reader-cancel", items=3, itemDelayMs=300).json()["scanId"]
    refused.append(reader.post(f"/api/v1/scans/{running}/cancel"))
    assert [r.status_code for r in refused] == [403] * 4
    assert {r.json()["requiredRole"] for r in refused} == {"operator", "admin"}
    # Nothing happened: no scan of that target, no host, no key; the scan ran to its end.
    assert admin.get("/api/v1/scans", params={"targetId": "reader-try"}).json()["items"] == []
    assert admin.get("/api/v1/hosts/reader.example-22").status_code == 404
    assert admin.get("/api/v1/hosts/reader.example-22/host-key").status_code == 404
    assert admin.wait(running)["status"] == "completed"
    # What it may do: read.
    assert reader.get(f"/api/v1/scans/{running}").status_code == 200


def test_two_keys_under_one_name_are_valid_at_once(host: HostProcess) -> None:
    for value in (OLD_PIPELINE_KEY, NEW_PIPELINE_KEY):
        assert Api(host, value).get("/api/v1/scans").status_code == 200
    assert Api(host, NEW_PIPELINE_KEY + "x").get("/api/v1/scans").status_code == 401


# -- the audit log --------------------------------------------------------------------------------


def test_every_change_is_audited_with_who_what_and_where_from(
    host: HostProcess, entra: FakeEntra
) -> None:
    admin = Api(host)
    alice = bearer(entra.token(["Scans.Admin"], user="alice@contoso.example"))
    bob = bearer(entra.token(["Scans.Run"], user="bob@contoso.example"))
    pipeline = Api(host, OLD_PIPELINE_KEY)
    fingerprint = {"keyType": "ssh-ed25519", "fingerprint": "SHA256:" + "B" * 43}

    def ok(answer: requests.Response) -> requests.Response:
        assert answer.status_code < 300, answer.text
        return answer

    ok(admin.post("/api/v1/synthetics", {"name": "audited", "items": 1, "itemDelayMs": 0}))
    ok(call(host, "PATCH", "/api/v1/synthetics/audited", alice, json={"items": 2}))
    started = ok(
        call(
            host,
            "POST",
            "/api/v1/scans",
            bob,
            json={"targetType": "synthetic", "name": "audited-run", "items": 3, "itemDelayMs": 400},
        )
    ).json()["scanId"]
    ok(pipeline.post(f"/api/v1/scans/{started}/cancel"))
    ok(call(host, "PUT", "/api/v1/hosts/audit.example-22/host-key", alice, json=fingerprint))
    ok(admin.request("DELETE", "/api/v1/hosts/audit.example-22/host-key"))
    ok(admin.request("DELETE", "/api/v1/synthetics/audited"))
    # Refused and failed calls change nothing and leave no row.
    assert admin.request("DELETE", "/api/v1/synthetics/never-there").status_code == 404
    assert call(host, "DELETE", "/api/v1/synthetics/x", bob).status_code == 403

    entries = admin.get("/api/v1/audit", params={"limit": 7}).json()["items"]
    mine = [
        (e["action"], e["actor"]["kind"], e["actor"]["name"], e["actor"]["role"], e["target"])
        for e in entries
    ]
    assert mine == [
        ("target.deleted", "key", "tests-admin", "admin", None),
        ("hostKey.forgotten", "key", "tests-admin", "admin", None),
        ("hostKey.pinned", "user", "alice@contoso.example", "admin", None),
        ("scan.cancelled", "key", "pipeline", "operator", "synthetic:audited-run"),
        ("scan.started", "user", "bob@contoso.example", "operator", "synthetic:audited-run"),
        ("target.updated", "user", "alice@contoso.example", "admin", "synthetic:audited"),
        ("target.registered", "key", "tests-admin", "admin", "synthetic:audited"),
    ]
    cancelled, started_entry = entries[3], entries[4]
    assert started_entry["scans"] == [started] and cancelled["scans"] == [started]
    assert entries[1]["details"] == {"hostId": "audit.example-22"}
    assert entries[0]["path"] == "/api/v1/synthetics/audited" and entries[0]["status"] == 204
    assert {e["source"] for e in entries} == {"127.0.0.1"}
    assert entries[2]["actor"]["objectId"]  # people are also named by their Entra object id
    assert entries == sorted(entries, key=lambda e: e["at"], reverse=True)


def test_the_audit_log_pages_newest_first(host: HostProcess) -> None:
    admin = Api(host)
    for n in range(5):
        answer = admin.post("/api/v1/synthetics", {"name": f"paged-{n}", "items": 1})
        assert answer.status_code == 201
    seen: list[dict[str, Any]] = []
    token = None
    while len(seen) < 5:
        params = {"limit": 2, **({"continuationToken": token} if token else {})}
        page = admin.get("/api/v1/audit", params=params).json()
        assert len(page["items"]) == 2
        seen += page["items"]
        token = page["continuationToken"]
        assert token
    assert [e["target"] for e in seen[:5]] == [f"synthetic:paged-{n}" for n in range(4, -1, -1)]
    assert len({e["id"] for e in seen}) == len(seen)
    assert admin.get("/api/v1/audit", params={"continuationToken": "%%%"}).status_code == 400


def test_no_key_reaches_the_log(host: HostProcess, tmp_path: Path) -> None:
    log = host.log()
    for value in [*ROLE_KEYS.values(), OLD_PIPELINE_KEY, NEW_PIPELINE_KEY]:
        assert value not in log


def test_a_half_done_entra_configuration_refuses_tokens_and_says_why(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ENTRA_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47")
    monkeypatch.setenv("ENTRA_API_AUDIENCE", "")
    assert authenticator(AppSettings()).tokens is None
    assert "ENTRA_API_AUDIENCE is empty" in caplog.text
    monkeypatch.setenv("ENTRA_API_AUDIENCE", "api://scans")
    monkeypatch.setenv("ENTRA_AUTHORITY_HOST", "http://127.0.0.1:9")
    assert authenticator(AppSettings()).tokens is None
    assert "not an https address" in caplog.text
    monkeypatch.setenv("ENTRA_AUTHORITY_HOST", "https://login.example")
    assert authenticator(AppSettings()).tokens is not None
