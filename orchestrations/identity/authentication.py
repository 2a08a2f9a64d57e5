"""Who sent a request: an Entra ID access token (`Authorization: Bearer`) or an API key
(`X-API-Key`). A request carrying a bearer token is judged by the token alone."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from orchestrations.identity.api_keys import ApiKeyRing
from orchestrations.identity.entra_tokens import EntraTokenValidator, TokenRejected
from orchestrations.identity.roles import Principal

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
AUTHORIZATION_HEADER = "Authorization"


class Unauthenticated(Exception):
    """No credentials, or credentials we do not accept (401). `challenge` is the RFC 6750
    error code for the `WWW-Authenticate` answer when a bearer token was refused."""

    def __init__(self, message: str, challenge: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.challenge = challenge


@dataclass(frozen=True)
class Authenticator:
    keys: ApiKeyRing
    tokens: EntraTokenValidator | None  # None: Entra ID sign-in is not configured

    @property
    def schemes(self) -> str:
        return "a bearer token or an X-API-Key" if self.tokens else f"a valid {API_KEY_HEADER}"

    def authenticate(self, headers: Mapping[str, str]) -> Principal:
        """The caller, or Unauthenticated. IdentityProviderUnavailable passes through (503)."""
        authorization = (headers.get(AUTHORIZATION_HEADER) or "").strip()
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
            return self._bearer(token.strip())
        presented = headers.get(API_KEY_HEADER) or ""
        if not presented:
            raise Unauthenticated(f"{self.schemes} is required")
        key = self.keys.match(presented)
        if key is None:
            raise Unauthenticated(f"{self.schemes} is required (the {API_KEY_HEADER} is not valid)")
        return key.principal

    def _bearer(self, token: str) -> Principal:
        if self.tokens is None:
            raise Unauthenticated(
                "bearer tokens are not accepted here (Entra ID sign-in is not configured); "
                f"use {API_KEY_HEADER}",
                challenge="invalid_token",
            )
        try:
            return self.tokens.validate(token)
        except TokenRejected as exc:
            log.info("bearer token refused: %s", exc.reason)
            raise Unauthenticated(exc.message, challenge="invalid_token") from None
