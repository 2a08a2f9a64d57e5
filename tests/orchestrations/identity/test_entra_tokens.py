"""Entra ID access tokens against a fake tenant served over TLS on loopback."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from orchestrations.identity.entra_tokens import (
    CLOCK_SKEW_SECONDS,
    EntraConfig,
    EntraTokenValidator,
    IdentityProviderUnavailable,
    TokenRejected,
)
from orchestrations.identity.roles import Role
from tests.support.entra import ADMIN, OPERATOR, READER, FakeEntra


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def entra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeEntra]:
    """A tenant of its own: these tests roll and add keys."""
    with FakeEntra(tmp_path_factory.mktemp("entra-keys")) as fake:
        yield fake


@pytest.fixture
def clock() -> Clock:
    return Clock()


def validator_for(entra: FakeEntra, clock: Clock, **kwargs: float) -> EntraTokenValidator:
    config = EntraConfig(
        entra.tenant_id, (entra.audience, f"api://{entra.audience}"), entra.authority
    )
    return EntraTokenValidator(config, ssl_context=entra.client_context(), clock=clock, **kwargs)


@pytest.fixture
def validator(entra: FakeEntra, clock: Clock) -> EntraTokenValidator:
    return validator_for(entra, clock)


def rejected(validator: EntraTokenValidator, token: str) -> str:
    with pytest.raises(TokenRejected) as caught:
        validator.validate(token)
    return caught.value.reason


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.parametrize(
    ("app_roles", "role"),
    [(READER, Role.READER), (OPERATOR, Role.OPERATOR), (ADMIN, Role.ADMIN), (None, None)],
)
def test_a_valid_token_names_the_user_and_the_role_its_app_roles_grant(
    validator: EntraTokenValidator, entra: FakeEntra, app_roles: list[str] | None, role: Role | None
) -> None:
    principal = validator.validate(entra.token(app_roles, user="qa.lead@contoso.example"))
    assert (principal.kind, principal.name, principal.role) == (
        "user",
        "qa.lead@contoso.example",
        role,
    )
    assert principal.object_id


def test_the_highest_app_role_wins_and_unknown_ones_grant_nothing(
    validator: EntraTokenValidator, entra: FakeEntra
) -> None:
    assert (
        validator.validate(entra.token(["Scans.Read", "Scans.Run", "Other"])).role is Role.OPERATOR
    )
    assert validator.validate(entra.token(["Scans.Owner", "scans.admin"])).role is None


def test_an_application_token_names_the_client_application(
    validator: EntraTokenValidator, entra: FakeEntra
) -> None:
    principal = validator.validate(entra.token(OPERATOR, user=None, azp="pipeline-app-id"))
    assert (principal.kind, principal.name, principal.role) == (
        "application",
        "pipeline-app-id",
        Role.OPERATOR,
    )


def test_the_app_id_uri_is_an_accepted_audience(
    validator: EntraTokenValidator, entra: FakeEntra
) -> None:
    assert (
        validator.validate(entra.token(READER, aud=f"api://{entra.audience}")).role is Role.READER
    )


def test_expired_and_not_yet_valid_tokens_are_refused_beyond_the_clock_skew(
    validator: EntraTokenValidator, entra: FakeEntra
) -> None:
    assert rejected(validator, entra.token(ADMIN, lifetime_s=-CLOCK_SKEW_SECONDS - 60)) == "expired"
    assert (
        rejected(validator, entra.token(ADMIN, not_before_s=CLOCK_SKEW_SECONDS + 60))
        == "not_yet_valid"
    )
    # Within the skew a token is still (or already) good: clocks differ by a little.
    assert validator.validate(entra.token(ADMIN, lifetime_s=-60)).role is Role.ADMIN


def test_a_token_for_another_api_or_from_another_tenant_is_refused(
    validator: EntraTokenValidator, entra: FakeEntra
) -> None:
    assert (
        rejected(validator, entra.token(ADMIN, aud="00000003-0000-0000-c000-000000000000"))
        == "audience"
    )
    other = f"{entra.authority}/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"
    assert rejected(validator, entra.token(ADMIN, iss=other)) == "issuer"


def test_a_v1_token_is_refused_with_a_hint_at_the_token_version(
    validator: EntraTokenValidator, entra: FakeEntra
) -> None:
    token = entra.token(ADMIN, iss=f"https://sts.windows.net/{entra.tenant_id}/", ver="1.0")
    with pytest.raises(TokenRejected, match="requestedAccessTokenVersion 2"):
        validator.validate(token)


@pytest.mark.parametrize("claim", ["exp", "nbf", "aud", "iss"])
def test_a_token_without_a_required_claim_is_refused(
    validator: EntraTokenValidator, entra: FakeEntra, claim: str
) -> None:
    assert rejected(validator, entra.token(ADMIN, **{claim: None})) == "missing_claim"


def test_a_tampered_token_fails_its_signature(
    validator: EntraTokenValidator, entra: FakeEntra
) -> None:
    header, payload, signature = entra.token(READER).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ADMIN
    forged = ".".join([header, b64(json.dumps(claims).encode()), signature])
    assert rejected(validator, forged) == "signature"
    # Signed by a key that is not the one its key id names.
    other = entra.new_key(publish=False)
    header_of_real_key = entra.token(ADMIN).split(".")[0]
    _, body, foreign_signature = entra.token(ADMIN, key=other).split(".")
    assert (
        rejected(validator, ".".join([header_of_real_key, body, foreign_signature])) == "signature"
    )


def test_alg_none_is_refused(validator: EntraTokenValidator, entra: FakeEntra) -> None:
    unsigned = entra.unsigned(entra.claims(ADMIN))
    assert rejected(validator, unsigned) == "algorithm"
    kid = entra.signing.kid
    by_pyjwt = jwt.encode(entra.claims(ADMIN), None, algorithm="none", headers={"kid": kid})
    assert rejected(validator, by_pyjwt) == "algorithm"


def test_hs256_signed_with_the_public_key_as_secret_is_refused(
    validator: EntraTokenValidator, entra: FakeEntra
) -> None:
    assert rejected(validator, entra.forged_hs256(entra.claims(ADMIN))) == "algorithm"


def test_garbage_is_a_malformed_token(validator: EntraTokenValidator) -> None:
    assert rejected(validator, "not-a-jwt") == "malformed"
    assert rejected(validator, "a.b.c") == "malformed"


def test_an_unknown_key_id_refreshes_the_keys_once_then_is_refused(
    entra: FakeEntra, clock: Clock
) -> None:
    validator = validator_for(entra, clock, refresh_interval=60)
    assert validator.validate(entra.token(READER, key=entra.keys[0])).role is Role.READER
    before = entra.counts()["jwks"]
    unpublished = entra.new_key(publish=False)
    clock.now += 61
    assert rejected(validator, entra.token(READER, key=unpublished)) == "unknown_key"
    assert entra.counts()["jwks"] == before + 1
    # More tokens with unknown key ids right after: refused without asking the tenant again.
    for _ in range(5):
        assert (
            rejected(validator, entra.token(READER, key=entra.new_key(publish=False)))
            == "unknown_key"
        )
    assert entra.counts()["jwks"] == before + 1


def test_a_key_the_tenant_rolls_in_is_picked_up_on_first_sight(
    entra: FakeEntra, clock: Clock
) -> None:
    validator = validator_for(entra, clock, refresh_interval=60)
    assert validator.validate(entra.token(READER, key=entra.keys[0])).role is Role.READER
    rolled = entra.rotate()
    clock.now += 61
    assert validator.validate(entra.token(ADMIN, key=rolled)).role is Role.ADMIN
    # Both keys stay good: tokens signed before the roll are still valid.
    assert validator.validate(entra.token(READER, key=entra.keys[0])).role is Role.READER


def test_keys_are_fetched_once_and_again_after_a_day(entra: FakeEntra, clock: Clock) -> None:
    validator = validator_for(entra, clock)
    before = entra.counts()
    for _ in range(20):
        validator.validate(entra.token(READER, key=entra.keys[0]))
    assert entra.counts() == {"openid": before["openid"] + 1, "jwks": before["jwks"] + 1}
    clock.now += 24 * 3600
    validator.validate(entra.token(READER, key=entra.keys[0]))
    assert entra.counts()["jwks"] == before["jwks"] + 2


def test_simultaneous_first_requests_fetch_the_keys_once(entra: FakeEntra, clock: Clock) -> None:
    validator = validator_for(entra, clock)
    before = entra.counts()["jwks"]
    token = entra.token(OPERATOR, key=entra.keys[0])
    roles: list[Role | None] = []
    threads = [
        threading.Thread(target=lambda: roles.append(validator.validate(token).role))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert roles == [Role.OPERATOR] * 8
    assert entra.counts()["jwks"] == before + 1


def test_an_unreachable_tenant_is_unavailable_until_keys_are_known(
    entra: FakeEntra, tmp_path: Path, clock: Clock
) -> None:
    with FakeEntra(tmp_path) as down:
        validator = validator_for(down, clock, refresh_interval=60)
        token = down.token(READER)
        down.stop()
        started = time.monotonic()
        with pytest.raises(IdentityProviderUnavailable):
            validator.validate(token)
        # Not asked again at once: a burst of requests does not become a burst of fetches.
        with pytest.raises(IdentityProviderUnavailable):
            validator.validate(token)
        assert time.monotonic() - started < 5


def test_known_keys_stay_in_use_when_the_tenant_cannot_be_reached(
    tmp_path: Path, clock: Clock
) -> None:
    fake = FakeEntra(tmp_path)
    validator = validator_for(fake, clock)
    token = fake.token(ADMIN)
    assert validator.validate(token).role is Role.ADMIN
    fake.stop()
    clock.now += 24 * 3600  # due for the daily refresh, which fails
    assert validator.validate(token).role is Role.ADMIN


def test_the_authority_must_be_https() -> None:
    with pytest.raises(ValueError, match="https"):
        EntraTokenValidator(EntraConfig("tenant", ("aud",), "http://127.0.0.1:1"))
