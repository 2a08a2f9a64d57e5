"""Entra ID access tokens: checked against the tenant's published signing keys (PyJWT).

The tenant's OpenID configuration (`{authority}/{tenant}/v2.0/.well-known/openid-configuration`)
names the issuer and the JWKS address. Both are fetched over HTTPS on first use and kept; the
keys are fetched again after a day, and at once when a token names a key id we do not know
(Entra rolls its keys), but not more often than once a minute, so tokens with made-up key ids
cannot make us hammer the authority. When the authority cannot be reached, the keys we have stay
in use; with none at all, the caller gets "unavailable" (503), not "unauthorized".

Only RS256 is accepted: a token saying `alg: none`, or HS256 signed with the public key as the
secret, is refused before any signature check. Issuer, audience, expiry and not-before are
required and checked (with five minutes of clock skew, as Microsoft's own libraries allow).
"""

from __future__ import annotations

import http.client
import json
import logging
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from orchestrations.identity.roles import Principal, role_from_app_roles

log = logging.getLogger(__name__)

ALGORITHM = "RS256"
CLOCK_SKEW_SECONDS = 300
KEYS_MAX_AGE_SECONDS = 24 * 3600
REFRESH_INTERVAL_SECONDS = 60
FETCH_TIMEOUT_SECONDS = 10
MAX_DOCUMENT_BYTES = 512 * 1024
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"


class TokenRejected(Exception):
    """The token is not one we accept; `reason` is a short machine-readable word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class IdentityProviderUnavailable(Exception):
    """The tenant's keys could not be fetched and none are known yet."""


@dataclass(frozen=True)
class EntraConfig:
    """Which tokens the API accepts: its tenant, its audience(s), the cloud's authority."""

    tenant_id: str
    audiences: tuple[str, ...]
    authority_host: str = DEFAULT_AUTHORITY_HOST

    @property
    def discovery_url(self) -> str:
        host = self.authority_host.rstrip("/")
        return f"{host}/{self.tenant_id}/v2.0/.well-known/openid-configuration"


@dataclass
class _SigningKeys:
    issuer: str
    keys: dict[str, jwt.PyJWK]
    fetched_at: float


def _https(url: object, what: str) -> str:
    if not isinstance(url, str) or not url.lower().startswith("https://"):
        raise ValueError(f"the {what} is not an https address")
    return url


class EntraTokenValidator:
    """Validates access tokens for one API app registration; safe to share between threads."""

    def __init__(
        self,
        config: EntraConfig,
        *,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
        refresh_interval: float = REFRESH_INTERVAL_SECONDS,
        keys_max_age: float = KEYS_MAX_AGE_SECONDS,
    ) -> None:
        _https(config.discovery_url, "authority")
        self.config = config
        self._ssl = ssl_context or ssl.create_default_context()
        self._clock = clock
        self._refresh_interval = refresh_interval
        self._keys_max_age = keys_max_age
        self._lock = threading.Lock()
        self._current: _SigningKeys | None = None
        self._last_attempt: float | None = None

    # -- the keys -----------------------------------------------------------------------------

    def _get_json(self, url: str) -> dict[str, Any]:
        # The addresses are checked to be https (the authority's, and the JWKS address it names).
        request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
        with urllib.request.urlopen(  # noqa: S310
            request, timeout=FETCH_TIMEOUT_SECONDS, context=self._ssl
        ) as response:
            body = response.read(MAX_DOCUMENT_BYTES + 1)
        if len(body) > MAX_DOCUMENT_BYTES:
            raise ValueError(f"{url} answered more than {MAX_DOCUMENT_BYTES} bytes")
        document = json.loads(body)
        if not isinstance(document, dict):
            raise ValueError(f"{url} did not answer a JSON object")
        return document

    def _fetch(self) -> _SigningKeys:
        discovery = self._get_json(self.config.discovery_url)
        issuer = discovery.get("issuer")
        if not isinstance(issuer, str) or not issuer or "{" in issuer:
            raise ValueError("the OpenID configuration names no tenant-specific issuer")
        jwks = self._get_json(_https(discovery.get("jwks_uri"), "JWKS address"))
        keys: dict[str, jwt.PyJWK] = {}
        for entry in jwks.get("keys") or []:
            if not isinstance(entry, dict) or entry.get("kty") != "RSA":
                continue
            if entry.get("use", "sig") != "sig" or not isinstance(entry.get("kid"), str):
                continue
            try:
                keys[entry["kid"]] = jwt.PyJWK(entry, algorithm=ALGORITHM)
            except jwt.PyJWKError as exc:
                log.warning("Entra signing key %s skipped: %s", entry["kid"], exc)
        if not keys:
            raise ValueError("the JWKS holds no RSA signing key")
        return _SigningKeys(issuer, keys, self._clock())

    def _refresh(self, why: str) -> None:
        """Fetch the keys again (the caller holds the lock); keep the old ones on failure."""
        self._last_attempt = self._clock()
        try:
            fresh = self._fetch()
        except (OSError, ValueError, http.client.HTTPException) as exc:
            log.warning("Entra signing keys not fetched (%s): %s", why, exc)
            return
        log.info(
            "Entra signing keys fetched (%s): %d key(s), issuer %s",
            why,
            len(fresh.keys),
            fresh.issuer,
        )
        self._current = fresh

    def _may_refresh(self) -> bool:
        last = self._last_attempt
        return last is None or self._clock() - last >= self._refresh_interval

    def _keys(self) -> _SigningKeys:
        """The keys we have, fetched first when there are none or they are a day old."""
        with self._lock:
            current = self._current
            stale = current is None or self._clock() - current.fetched_at >= self._keys_max_age
            if stale and self._may_refresh():
                self._refresh("first use" if current is None else "daily refresh")
                current = self._current
        if current is None:
            raise IdentityProviderUnavailable("the tenant's signing keys could not be fetched")
        return current

    def _key_for(self, kid: str) -> tuple[str, jwt.PyJWK]:
        current = self._keys()
        key = current.keys.get(kid)
        if key is not None:
            return current.issuer, key
        with self._lock:
            current = self._current or current
            if kid not in current.keys and self._may_refresh():
                self._refresh("unknown key id")
                current = self._current or current
        key = current.keys.get(kid)
        if key is None:
            raise TokenRejected(
                "unknown_key", "the token is signed with a key the tenant does not publish"
            )
        return current.issuer, key

    # -- tokens -------------------------------------------------------------------------------

    def validate(self, token: str) -> Principal:
        """The caller a token stands for; TokenRejected if it is not valid for this API."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise TokenRejected("malformed", "the bearer token is not a JWT") from None
        algorithm = header.get("alg")
        if algorithm != ALGORITHM:
            raise TokenRejected(
                "algorithm", f"tokens signed with {str(algorithm)[:16]!r} are not accepted"
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenRejected("unknown_key", "the token names no signing key")
        issuer, key = self._key_for(kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=list(self.config.audiences),
                issuer=issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "nbf", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("expired", "the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("not_yet_valid", "the token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected("audience", "the token is not issued for this API") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("issuer", _issuer_message(token)) from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("signature", "the token's signature does not verify") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected("missing_claim", f"the token has no {exc.claim!r} claim") from None
        except jwt.InvalidTokenError as exc:
            raise TokenRejected(
                "invalid", f"the token is not valid ({type(exc).__name__})"
            ) from None
        return principal_of(claims)


def _issuer_message(token: str) -> str:
    claims = jwt.decode(token, options={"verify_signature": False})
    if claims.get("ver") == "1.0":
        return (
            "the token is a v1.0 token; the API's app registration must issue v2.0 tokens "
            "(requestedAccessTokenVersion 2)"
        )
    return "the token is not issued by this API's tenant"


def principal_of(claims: dict[str, Any]) -> Principal:
    """People carry delegated scopes (`scp`); applications (client credentials) do not."""
    roles = claims.get("roles")
    role = role_from_app_roles(roles if isinstance(roles, list) else [])
    object_id = str(claims.get("oid") or "")
    if "scp" in claims:
        name = claims.get("preferred_username") or claims.get("upn") or object_id
        return Principal("user", str(name), role, object_id)
    return Principal(
        "application", str(claims.get("azp") or claims.get("appid") or object_id), role, object_id
    )
