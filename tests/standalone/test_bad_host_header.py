"""A request whose Host header names no valid host still reaches its function (the URL the
function sees is the address the request reached), never a 500."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

from tests.support.scan_api import API_KEY, running_api, scan_api_env


def test_a_malformed_host_header_is_answered_by_the_function(azurite: str, tmp_path: Path) -> None:
    with running_api(tmp_path, scan_api_env(azurite)) as api:
        port = int(api.host.base_url.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.putrequest("GET", "/api/v1/scans/01ARZ3NDEKTSV4RRFFQ69G5FAV", skip_host=True)
        connection.putheader("Host", "ZA2 6%.}x,fLk/RQ~@P@by+cgSVJDe[m")
        connection.putheader("X-API-Key", API_KEY)
        connection.endheaders()
        answer = connection.getresponse()
        body = json.loads(answer.read())
        assert answer.status == 404, body
        assert body["error"]["code"] == "scan_not_found"
