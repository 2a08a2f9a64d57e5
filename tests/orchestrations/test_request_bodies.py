"""Hostile request bodies, sent raw to every route that reads one: each answer is a JSON 4xx
that says what is wrong, never a 5xx, and the host's log has no traceback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.host_process import HostProcess
from tests.support.scan_api import API_KEY, running_api, scan_api_env

MAX_BODY_BYTES = 1_000_000  # what the API documents
DEEP = 100_000
EXAMPLES = 150

# A value for each path parameter of the API (none of them needs to exist).
PATH_VALUES = {
    "scanId": "01J0000000000000000000000A",
    "repositoryId": "no-such-repository",
    "targetId": "example.com-22",
    "hostId": "example.com-22",
}


@pytest.fixture(scope="module")
def api_host(azurite: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    with running_api(tmp_path_factory.mktemp("request-bodies"), scan_api_env(azurite)) as api:
        yield api.host


@pytest.fixture(scope="module")
def body_routes(api_host: HostProcess) -> list[tuple[str, str]]:
    """(method, path) of every operation of the API that takes a body, from its OpenAPI
    document, path parameters filled in; and the Durable HTTP API's POST routes."""
    spec = requests.get(
        api_host.base_url + "/api/openapi.json", headers={"X-API-Key": API_KEY}, timeout=30
    ).json()
    routes = []
    for path, operations in spec["paths"].items():
        for method in operations:
            if method in ("post", "put", "patch"):
                routes.append((method.upper(), path.format(**PATH_VALUES)))
    code = api_host.keys()["systemKey"]
    webhooks = "/runtime/webhooks/durabletask"
    routes += [
        ("POST", f"{webhooks}/orchestrators/no_such_function?code={code}"),
        ("POST", f"{webhooks}/instances/no-such-instance/raiseEvent/approval?code={code}"),
        ("POST", f"{webhooks}/instances/no-such-instance/terminate?code={code}"),
    ]
    assert len(routes) >= 15
    return routes


def send(
    host: HostProcess, method: str, path: str, body: bytes, content_type: str | None = "json"
) -> requests.Response:
    headers = {"X-API-Key": API_KEY}
    if content_type is not None:
        headers["Content-Type"] = "application/json" if content_type == "json" else content_type
    return requests.request(method, host.base_url + path, data=body, headers=headers, timeout=60)


def json_error(response: requests.Response) -> dict[str, Any]:
    assert response.headers["Content-Type"].startswith("application/json"), response.text
    body: dict[str, Any] = response.json()
    return body


def deep(opening: str, closing: str, depth: int = DEEP) -> bytes:
    return (opening * depth + "1" + closing * depth).encode()


HOSTILE = {
    "twenty megabytes": (b'{"hostname": "' + b"a" * 20_000_000 + b'"}', "json", 413),
    "over the documented limit": (
        b'{"name": "' + b"a" * MAX_BODY_BYTES + b'"}',
        "json",
        413,
    ),
    "100,000-deep arrays": (b'{"a": ' + deep("[", "]") + b"}", "json", 400),
    "100,000-deep objects": (deep('{"a": ', "}"), "json", 400),
    "33 levels": (deep('{"a": ', "}", 33), "json", 400),
    "invalid UTF-8": (b'{"hostname": "\xff\xfe\xfd"}', "json", 400),
    "a lone surrogate": (b'{"hostname": "\\ud800"}', "json", 400),
    "NaN": (b'{"port": NaN}', "json", 400),
    "a JSON array": (b'[{"hostname": "example.com"}]', "json", 400),
    "an empty body": (b"", "json", 400),
    "not JSON": (b"hostname=example.com", "json", 400),
    "a wrong content type": (b'{"hostname": "example.com"}', "text/plain", 415),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_bodies_get_a_json_4xx_that_names_the_problem(
    api_host: HostProcess, case: str
) -> None:
    body, content_type, status = HOSTILE[case]
    for method, path in [("POST", "/api/v1/scans"), ("PUT", "/api/v1/hosts/example.com-22")]:
        response = send(api_host, method, path, body, content_type)
        assert response.status_code == status, (method, path, response.text[:300])
        error = json_error(response)["error"]
        assert (
            error["code"]
            == {
                413: "payload_too_large",
                415: "unsupported_media_type",
                400: "invalid_json",
            }[status]
        )
        assert len(error["message"]) < 300  # says what is wrong, echoes nothing large


def test_bodies_within_the_limits_are_read(api_host: HostProcess) -> None:
    """The limits refuse only what they must: 32 levels and ~1 MB pass the body checks (and
    meet the request's own validation)."""
    nested = deep('{"a": ', "}", 31)
    answer = send(
        api_host, "POST", "/api/v1/scans", b'{"targetType": "host", "x": ' + nested + b"}"
    )
    assert answer.status_code == 422, answer.text
    big = b'{"targetType": "host", "x": "' + b"a" * (MAX_BODY_BYTES - 40) + b'"}'
    assert len(big) <= MAX_BODY_BYTES
    assert send(api_host, "POST", "/api/v1/scans", big).status_code == 422
    charset = send(api_host, "POST", "/api/v1/scans", b"{}", "application/json; charset=utf-8")
    assert charset.status_code == 422  # a charset parameter is fine; the body is not


def test_every_body_route_refuses_deep_nesting_and_wrong_bytes(
    api_host: HostProcess, body_routes: list[tuple[str, str]]
) -> None:
    for method, path in body_routes:
        for body in (deep("[", "]"), b"\xff\xfe", b'{"a": "\\udfff"}'):
            response = send(api_host, method, path, body)
            assert 400 <= response.status_code < 500, (method, path, response.text[:300])
            if path.startswith("/api/"):  # the Durable API answers as Azure's does
                json_error(response)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.sampled_from(["host", "repository", "subscription", "example.com", "22", "full"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "targetType",
                    "hostname",
                    "port",
                    "username",
                    "scanType",
                    "credentialsRef",
                    "passphraseRef",
                    "proxyJump",
                    "url",
                    "name",
                    "schedule",
                    "keyType",
                    "fingerprint",
                    "subscriptionId",
                    "commitSha",
                ]
            )
            | st.text(max_size=10),
            inner,
            max_size=6,
        )
    ),
    max_leaves=25,
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(
    data=st.data(),
    raw=st.binary(max_size=300),
    value=JSON_VALUES,
    content_type=st.sampled_from(["json", "application/json; charset=utf-8", None, "text/plain"]),
)
def test_random_bytes_and_random_json_never_get_a_5xx(
    api_host: HostProcess,
    body_routes: list[tuple[str, str]],
    data: st.DataObject,
    raw: bytes,
    value: Any,
    content_type: str | None,
) -> None:
    method, path = data.draw(st.sampled_from(body_routes))
    for body in (raw, json.dumps(value).encode()):
        response = send(api_host, method, path, body, content_type)
        assert response.status_code < 500, (method, path, body[:200], response.text[:500])


def test_the_host_log_has_one_line_per_refusal_and_no_traceback(
    api_host: HostProcess,
) -> None:
    send(api_host, "POST", "/api/v1/scans", deep("[", "]"))
    log = api_host.log()
    assert "Traceback" not in log
    refusals = [line for line in log.splitlines() if "POST /api/v1/scans: 400 invalid_json" in line]
    assert refusals, log[-2000:]
