"""Access to the API: who is calling (an Entra ID access token or a scoped API key), whether the
route's role lets them, and the audit row every change leaves behind."""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func

from orchestrations.core.settings import AppSettings
from orchestrations.engines.secrets import SecretReader
from orchestrations.identity.api_keys import ApiKeyRing
from orchestrations.identity.authentication import Authenticator, Unauthenticated
from orchestrations.identity.entra_tokens import (
    EntraConfig,
    EntraTokenValidator,
    IdentityProviderUnavailable,
)
from orchestrations.identity.roles import Principal, Role
from orchestrations.state.audit import AuditEntry, AuditStore
from orchestrations.state.storage import get_storage

log = logging.getLogger(__name__)

FORWARDED_FOR = "X-Forwarded-For"

_lock = threading.Lock()
_current: tuple[AppSettings, Authenticator] | None = None


class AccessDenied(Exception):
    """The request may not go on: `status` 401, 403 or 503, with a message for the caller."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra
        self.headers: dict[str, str] = {}


def authenticator(settings: AppSettings) -> Authenticator:
    """The authenticator for these settings, made once (it caches keys and signing keys)."""
    global _current
    with _lock:
        if _current is None or _current[0] is not settings:
            keys = ApiKeyRing(
                settings.scan_api_keys.get_secret_value(),
                settings.scan_api_keys_secret,
                SecretReader(settings.key_vault_url),
            )
            _current = (settings, Authenticator(keys, _token_validator(settings)))
        return _current[1]


def _token_validator(settings: AppSettings) -> EntraTokenValidator | None:
    """Entra ID sign-in when configured; a half-done configuration refuses every bearer token
    (and says why in the log) rather than failing every request."""
    if not settings.entra_tenant_id:
        return None
    if not settings.entra_audiences:
        log.error("ENTRA_TENANT_ID is set but ENTRA_API_AUDIENCE is empty: bearer tokens refused")
        return None
    config = EntraConfig(
        settings.entra_tenant_id, settings.entra_audiences, settings.entra_authority_host
    )
    try:
        return EntraTokenValidator(config)
    except ValueError as exc:
        log.error("Entra ID sign-in is off: %s (ENTRA_AUTHORITY_HOST)", exc)
        return None


def caller(req: func.HttpRequest, settings: AppSettings) -> Principal:
    """Who sent `req`; AccessDenied 401 (no or bad credentials) or 503 (tenant unreachable)."""
    auth = authenticator(settings)
    try:
        return auth.authenticate(req.headers)
    except Unauthenticated as exc:
        denied = AccessDenied(401, "unauthorized", exc.message)
        challenge = 'Bearer realm="scan-orchestrator"'
        if exc.challenge:
            challenge += f', error="{exc.challenge}"'
        denied.headers["WWW-Authenticate"] = challenge if auth.tokens else "X-API-Key"
        raise denied from None
    except IdentityProviderUnavailable as exc:
        log.warning("bearer token not checked: %s", exc)
        raise AccessDenied(
            503, "identity_provider_unavailable", "Entra ID did not answer; try again"
        ) from None


def authorize(principal: Principal, required: Role) -> None:
    """AccessDenied 403, naming the role, unless the principal holds `required` (or more)."""
    if principal.may(required):
        return
    holds = f"has the {principal.role.label} role" if principal.role else "holds none of its roles"
    log.info("%s denied: needs %s, %s", principal.display, required.label, holds)
    raise AccessDenied(
        403,
        "forbidden",
        f"this call needs the {required.label} role; {principal.display} {holds}",
        requiredRole=required.label,
        role=principal.role.label if principal.role else None,
    )


def client_address(req: func.HttpRequest) -> str:
    """The caller's address: the last X-Forwarded-For entry, which the front end in front of
    the app added (earlier entries are whatever the client sent)."""
    forwarded = (req.headers.get(FORWARDED_FOR) or "").split(",")[-1].strip()
    if forwarded.startswith("["):  # [v6]:port
        forwarded = forwarded[1:].split("]", 1)[0]
    elif forwarded.count(":") == 1:  # v4:port
        forwarded = forwarded.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(forwarded))
    except ValueError:
        return "unknown"


def _answer(response: func.HttpResponse) -> dict[str, Any]:
    if "json" not in (response.mimetype or ""):
        return {}
    try:
        body = json.loads(response.get_body() or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _subject(req: func.HttpRequest, answer: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """What a change was about: its target (`type:id`) and the scans it started or stopped."""
    listed = answer.get("scans")
    started: list[Any] = listed if isinstance(listed, list) else [answer]
    scans = tuple(str(s["scanId"]) for s in started if isinstance(s, dict) and s.get("scanId"))
    target_type = answer.get("targetType")
    target_id = answer.get("targetId") or answer.get("id")
    if isinstance(target_type, str) and isinstance(target_id, str):
        return f"{target_type}:{target_id}", scans
    return "", scans


def record_change(
    req: func.HttpRequest,
    principal: Principal,
    action: str,
    response: func.HttpResponse,
    settings: AppSettings,
) -> None:
    """Write the audit row of a change that succeeded. A failed write is logged with the whole
    entry (it then reaches the telemetry) and does not undo or hide the change."""
    answer = _answer(response)
    target, scans = _subject(req, answer)
    if action.startswith("exception."):
        exception_id = answer.get("id") or req.route_params.get("exceptionId") or ""
        target = f"exception:{exception_id}"
    entry = AuditEntry(
        action=action,
        actor_kind=principal.kind,
        actor=principal.name,
        actor_id=principal.object_id,
        actor_role=principal.role.label if principal.role else "",
        method=req.method,
        path=urlsplit(req.url).path,
        status=response.status_code,
        source=client_address(req),
        target=target,
        scans=scans,
        details={k: str(v)[:256] for k, v in req.route_params.items()},
    )
    try:
        AuditStore(get_storage(settings)).record(entry)
    except Exception:
        log.exception("audit entry not written: %s", entry)
