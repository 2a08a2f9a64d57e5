"""HTTP API for a host's known SSH host key: show it, pin it, forget it.

`/api/v1/hosts/{hostId}/host-key`, where hostId is the host's target id `<hostname>-<port>`
(as in /api/v1/hosts/{hostId}):
- GET: the recorded key(s) (404 when none);
- PUT `{"keyType", "fingerprint"}`: pin the key, replacing what was recorded (how hosts are
  admitted under the `strict` policy);
- DELETE: forget the recorded key(s), e.g. after a host was reinstalled; under `accept-new`
  the next scan records the key it is shown (204; 404 when none was recorded).
"""

from __future__ import annotations

from datetime import datetime

import azure.durable_functions as df
import azure.functions as func
from pydantic import Field

from orchestrations.api import routes
from orchestrations.api.http import ApiError, json_body, json_response, parse, route
from orchestrations.core.models import ApiModel, validate_hostname
from orchestrations.core.settings import get_settings
from orchestrations.state.host_keys import TableKnownHostKeys, host_id
from orchestrations.state.storage import get_storage
from scanner.hosts.host_keys import KnownHostKey

bp = df.Blueprint()
HOST_ID_PATTERN = r"^[A-Za-z0-9.:_-]{1,253}-[0-9]{1,5}$"
KEY_TYPE_PATTERN = r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521))$"
FINGERPRINT_PATTERN = r"^SHA256:[A-Za-z0-9+/]{43}$"


class HostKeyIn(ApiModel):
    """A host key to pin: its type and OpenSSH SHA256 fingerprint (`ssh-keygen -lf`)."""

    key_type: str = Field(pattern=KEY_TYPE_PATTERN)
    fingerprint: str = Field(pattern=FINGERPRINT_PATTERN)


class HostKeyOut(ApiModel):
    key_type: str
    fingerprint: str
    recorded_at: datetime | None = None
    source: str | None = None  # first-contact (accept-new) or api (pinned)


class HostKeys(ApiModel):
    host_id: str
    hostname: str
    port: int
    keys: list[HostKeyOut]


def _host(req: func.HttpRequest) -> tuple[str, int]:
    value = req.route_params.get("hostId", "")
    hostname, _, port_text = value.rpartition("-")
    problem = ApiError(
        400, "invalid_parameter", "hostId must be <hostname>-<port>, e.g. example.com-22"
    )
    if not hostname or not port_text.isascii() or not port_text.isdigit():
        raise problem
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise problem
    try:
        return validate_hostname(hostname), port
    except ValueError as exc:
        raise problem from exc


def _keys(store: TableKnownHostKeys, hostname: str, port: int) -> HostKeys:
    entities = store.entries(host_id(hostname, port))
    return HostKeys(
        host_id=host_id(hostname, port),
        hostname=hostname,
        port=port,
        keys=[
            HostKeyOut(
                key_type=str(e["KeyType"]),
                fingerprint=str(e["Fingerprint"]),
                recorded_at=e.get("RecordedAt"),
                source=e.get("Source"),
            )
            for e in entities
        ],
    )


def _store() -> TableKnownHostKeys:
    return TableKnownHostKeys(get_storage(get_settings()))


@route(bp, routes.GET_HOST_KEY)
def get_host_key(req: func.HttpRequest) -> func.HttpResponse:
    hostname, port = _host(req)
    keys = _keys(_store(), hostname, port)
    if not keys.keys:
        raise ApiError(404, "host_key_not_found", f"no host key is recorded for {keys.host_id}")
    return json_response(keys)


@route(bp, routes.PIN_HOST_KEY)
def pin_host_key(req: func.HttpRequest) -> func.HttpResponse:
    hostname, port = _host(req)
    body = parse(HostKeyIn, json_body(req))
    store = _store()
    store.pin(hostname, port, KnownHostKey(body.key_type, body.fingerprint))
    return json_response(_keys(store, hostname, port))


@route(bp, routes.FORGET_HOST_KEY)
def forget_host_key(req: func.HttpRequest) -> func.HttpResponse:
    hostname, port = _host(req)
    if not _store().forget(hostname, port):
        raise ApiError(
            404, "host_key_not_found", f"no host key is recorded for {host_id(hostname, port)}"
        )
    return func.HttpResponse(status_code=204)
