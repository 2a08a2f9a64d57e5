"""A fake Entra ID tenant for the API's sign-in: its OpenID configuration and JWKS over TLS on
loopback (a trustme CA), and access tokens signed with keys made here.

    with FakeEntra(tmp_path) as entra:
        env = entra.env()                       # ENTRA_* settings + trust in the fake CA
        token = entra.token(roles=["Scans.Run"])
        entra.rotate()                          # publish a new signing key, sign with it
        entra.counts()                          # {"openid": 1, "jwks": 1}

It also signs a person in to a single-page application the way the tenant's v2.0 endpoints do
for MSAL in a browser: `/authorize` (authorization code with PKCE, S256 only; the person is
whoever `sign_in_as` named, no form) redirects back to a registered redirect URI, and `/token`
(CORS, for the page's origin) redeems the code once, or a refresh token, for an access token for
the API with the person's app roles, an ID token (the request's nonce) and `client_info`.

Token claims follow the v2.0 access tokens Entra issues (the claims listed in Microsoft's
"access token claims reference" on learn.microsoft.com: aud, iss, iat, nbf, exp, azp, name, oid,
preferred_username, roles, scp, sub, tid, ver); values are made up.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import jwt
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.support.azure_fakes.server import Reply, Request, Service, Stats, TlsServer, error
from tests.support.azure_fakes.services import openid_configuration

API_CLIENT_ID = "6e0c2f51-8a5c-4d0e-9b71-3f1c2a9d4e80"
READER = ["Scans.Read"]
OPERATOR = ["Scans.Run"]
ADMIN = ["Scans.Admin"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64_json(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value).encode())


class SigningKey:
    def __init__(self) -> None:
        self.kid = uuid.uuid4().hex[:20]
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self, issuer: str) -> dict[str, Any]:
        public: dict[str, Any] = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**public, "use": "sig", "kid": self.kid, "issuer": issuer}


class _EntraKeysService(Service):
    def __init__(self, fake: FakeEntra) -> None:
        self.fake = fake

    def label(self, request: Request) -> str:
        if request.path.endswith("/openid-configuration"):
            return "openid"
        return request.path.rsplit("/", 1)[-1].replace("keys", "jwks")

    def handle(self, request: Request) -> Reply:
        tenant = self.fake.tenant_id
        # The tenant's public documents may be read from any page (as Entra ID allows).
        public = {"Access-Control-Allow-Origin": "*"}
        if request.path == f"/{tenant}/v2.0/.well-known/openid-configuration":
            return Reply(200, openid_configuration(request.base_url, tenant), public)
        if request.path == f"/{tenant}/discovery/v2.0/keys":
            return Reply(200, {"keys": self.fake.published_jwks()}, public)
        if request.path == f"/{tenant}/oauth2/v2.0/authorize" and request.method == "GET":
            return self.fake.authorize(request)
        if request.path == f"/{tenant}/oauth2/v2.0/token":
            return self.fake.redeem(request)
        return error(404, "NotFound", f"no such path {request.path}")


@dataclass
class _Grant:
    """What a code or a refresh token stands for."""

    client_id: str
    redirect_uri: str
    scopes: str
    nonce: str
    challenge: str
    user: str
    roles: list[str]


def _oauth_error(code: str, description: str, origin: str | None) -> Reply:
    headers = {"Access-Control-Allow-Origin": origin} if origin else {}
    return Reply(400, {"error": code, "error_description": description}, headers)


class FakeEntra:
    def __init__(self, workdir: Path, ca: trustme.CA | None = None) -> None:
        self.tenant_id = str(uuid.uuid4())
        self.audience = API_CLIENT_ID
        self.ca = ca or trustme.CA()
        workdir.mkdir(parents=True, exist_ok=True)
        self.ca_path = workdir / "fake-entra-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_path))
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        leaf = self.ca.issue_cert("127.0.0.1", "localhost")
        leaf.configure_cert(tls)
        self.stats = Stats()
        self._lock = threading.Lock()
        self.keys = [SigningKey()]
        self.published = {self.keys[0].kid}
        self.signing = self.keys[0]  # what tokens are signed with unless a test says otherwise
        self.server = TlsServer(_EntraKeysService(self), tls, self.stats)
        self.server_certificate = leaf.cert_chain_pems[0].bytes()
        # Single-page sign-in: the registered redirect URIs, who signs in, what is outstanding.
        self.client_id = API_CLIENT_ID  # the API's own registration signs people in
        self.redirect_uris: set[str] = set()
        self.person: tuple[str, list[str]] = ("alice@contoso.example", READER)
        self._codes: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}

    @property
    def authority(self) -> str:
        return self.server.url

    @property
    def issuer(self) -> str:
        return f"{self.authority}/{self.tenant_id}/v2.0"

    def published_jwks(self) -> list[dict[str, Any]]:
        with self._lock:
            return [k.jwk(self.issuer) for k in self.keys if k.kid in self.published]

    def new_key(self, publish: bool) -> SigningKey:
        """A signing key, published in the JWKS or kept back (a token signed with it then names
        a key id the tenant does not publish)."""
        key = SigningKey()
        with self._lock:
            self.keys.append(key)
            if publish:
                self.published.add(key.kid)
        return key

    def rotate(self) -> SigningKey:
        """Publish a new key and sign new tokens with it (the old one stays published)."""
        self.signing = self.new_key(publish=True)
        return self.signing

    def env(self) -> dict[str, str]:
        return {
            "ENTRA_TENANT_ID": self.tenant_id,
            "ENTRA_API_AUDIENCE": f"{self.audience},api://{self.audience}",
            "ENTRA_AUTHORITY_HOST": self.authority,
            "SSL_CERT_FILE": str(self.ca_path),
        }

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def claims(
        self,
        roles: list[str] | None,
        *,
        user: str | None = "alice@contoso.example",
        lifetime_s: float = 3600,
        not_before_s: float = -60,
        **overrides: Any,
    ) -> dict[str, Any]:
        now = int(time.time())
        object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, user or "daemon"))
        claims: dict[str, Any] = {
            "aud": self.audience,
            "iss": self.issuer,
            "iat": now + int(min(not_before_s, 0)),
            "nbf": now + int(not_before_s),
            "exp": now + int(lifetime_s),
            "azp": "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
            "oid": object_id,
            "sub": object_id,
            "tid": self.tenant_id,
            "ver": "2.0",
            "uti": uuid.uuid4().hex[:22],
        }
        if user is not None:  # a person signed in (delegated): a scope, a name
            claims.update({"scp": "access_as_user", "name": user.split("@")[0].title()})
            claims["preferred_username"] = user
        if roles is not None:
            claims["roles"] = roles
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(self, claims: dict[str, Any], key: SigningKey | None = None) -> str:
        key = key or self.signing
        return jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": key.kid})

    def forged_hs256(self, claims: dict[str, Any]) -> str:
        """A token "signed" with HMAC-SHA256 and the signing key's public key (PEM) as the
        secret: what a validator that lets the token pick its algorithm would accept."""
        key = self.signing
        secret = key.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        signed = f"{_b64_json({'alg': 'HS256', 'typ': 'JWT', 'kid': key.kid})}.{_b64_json(claims)}"
        mac = hmac.new(secret, signed.encode(), hashlib.sha256).digest()
        return f"{signed}.{_b64(mac)}"

    def unsigned(self, claims: dict[str, Any]) -> str:
        """`alg: none`, no signature."""
        header = {"alg": "none", "typ": "JWT", "kid": self.signing.kid}
        return f"{_b64_json(header)}.{_b64_json(claims)}."

    def token(self, roles: list[str] | None = None, **kwargs: Any) -> str:
        key = kwargs.pop("key", None)
        return self.sign(self.claims(roles, **kwargs), key)

    # -- a person signing in to a single-page application --------------------------------------

    def sign_in_as(self, user: str, roles: list[str]) -> None:
        """Who the next `/authorize` signs in (as if they had typed their password)."""
        self.person = (user, roles)

    def spki_sha256(self) -> str:
        """The server certificate's public key hash (base64 SHA-256), as Chromium's
        --ignore-certificate-errors-spki-list takes it: trust in exactly this fake."""
        certificate = x509.load_pem_x509_certificate(self.server_certificate)
        spki = certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(hashlib.sha256(spki).digest()).decode()

    def authorize(self, request: Request) -> Reply:
        def param(name: str) -> str:
            return request.param(name) or ""

        redirect_uri = param("redirect_uri")
        if param("client_id") != self.client_id or redirect_uri not in self.redirect_uris:
            # Entra ID shows an error page here: it never redirects to an unregistered URI.
            return error(400, "invalid_request", "unknown client or redirect URI not registered")
        if param("response_type") != "code" or param("code_challenge_method") != "S256":
            return error(400, "invalid_request", "authorization code with PKCE (S256) only")
        user, roles = self.person
        code = "fake-code-" + uuid.uuid4().hex
        with self._lock:
            self._codes[code] = _Grant(
                self.client_id,
                redirect_uri,
                param("scope"),
                param("nonce"),
                param("code_challenge"),
                user,
                list(roles),
            )
        answer = {"code": code, "state": param("state"), "client_info": self._client_info(user)}
        separator = "?" if param("response_mode") == "query" else "#"
        return Reply(302, b"", {"Location": redirect_uri + separator + urlencode(answer)})

    def redeem(self, request: Request) -> Reply:
        origin = request.headers.get("origin")
        if request.method == "OPTIONS":  # the browser's preflight for MSAL's headers
            return Reply(
                204,
                b"",
                {
                    "Access-Control-Allow-Origin": origin or "*",
                    "Access-Control-Allow-Methods": "POST",
                    "Access-Control-Allow-Headers": request.headers.get(
                        "access-control-request-headers", ""
                    ),
                },
            )
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if not origin:
            return _oauth_error("invalid_request", "single-page tokens need an Origin", None)
        with self._lock:
            if form.get("grant_type") == "authorization_code":
                grant = self._codes.pop(form.get("code", ""), None)  # a code is good once
                if grant is None or form.get("redirect_uri") != grant.redirect_uri:
                    return _oauth_error("invalid_grant", "unknown or used code", origin)
                verifier = form.get("code_verifier", "").encode()
                if _b64(hashlib.sha256(verifier).digest()) != grant.challenge:
                    return _oauth_error("invalid_grant", "code_verifier does not match", origin)
            elif form.get("grant_type") == "refresh_token":
                grant = self._refresh.get(form.get("refresh_token", ""))
                if grant is None:
                    return _oauth_error("invalid_grant", "unknown refresh token", origin)
            else:
                return _oauth_error("unsupported_grant_type", "code or refresh_token", origin)
            if form.get("client_id") != grant.client_id:
                return _oauth_error("invalid_client", "not the client the code was for", origin)
            refresh_token = "fake-rt-" + uuid.uuid4().hex
            self._refresh[refresh_token] = grant
        api_scopes = " ".join(s for s in grant.scopes.split() if s.startswith("api://"))
        id_claims = self.claims(None, user=grant.user, aud=grant.client_id, nonce=grant.nonce)
        for claim in ("scp", "azp", "uti"):
            id_claims.pop(claim, None)
        body = {
            "token_type": "Bearer",
            "scope": api_scopes,
            "expires_in": 3600,
            "ext_expires_in": 3600,
            "access_token": self.token(grant.roles, user=grant.user, azp=grant.client_id),
            "refresh_token": refresh_token,
            "id_token": self.sign(id_claims),
            "client_info": self._client_info(grant.user),
        }
        headers = {"Access-Control-Allow-Origin": origin, "Cache-Control": "no-store"}
        return Reply(200, body, headers)

    def _client_info(self, user: str) -> str:
        object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, user))
        return _b64_json({"uid": object_id, "utid": self.tenant_id})

    def counts(self, *labels: str) -> dict[str, int]:
        """Requests per endpoint: by default the two a token validator reads ("openid",
        "jwks"); a sign-in adds "authorize" and "token"."""
        with self.stats.lock:
            return {
                label: self.stats.counts.get(label, 0) for label in labels or ("openid", "jwks")
            }

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> FakeEntra:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
