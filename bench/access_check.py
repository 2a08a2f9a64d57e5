"""What checking the caller costs on every request: a scoped API key against a ring of keys,
and an Entra ID access token (RS256 signature against the tenant's cached keys, issuer,
audience, lifetime, roles), in process, through the same Authenticator the HTTP layer uses.
Also the first token's cost, when the OpenID configuration and signing keys are fetched from a
fake tenant over TLS on loopback (once per process, then cached).

Targets: a key check < 0.2 ms and a token check < 1 ms (median), so the access check stays a
small part of the API's 50 ms GET budget; the first token < 500 ms.
Run: `.venv/bin/python bench/access_check.py [--calls 2000] [--keys 50]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrations.identity.api_keys import ApiKeyRing  # noqa: E402
from orchestrations.identity.authentication import Authenticator  # noqa: E402
from orchestrations.identity.entra_tokens import EntraConfig, EntraTokenValidator  # noqa: E402
from orchestrations.identity.roles import Role  # noqa: E402
from tests.support.entra import OPERATOR, FakeEntra  # noqa: E402


def timed(check: object, headers: dict[str, str], calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        check(headers)  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered), 4),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1], 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--keys", type=int, default=50)
    args = parser.parse_args()
    keys = [f"bench-key-{n:04d}-{'x' * 32}" for n in range(args.keys)]
    literal = ",".join(f"client{n}:operator:{key}" for n, key in enumerate(keys))
    with (
        tempfile.TemporaryDirectory(prefix="bench-access-") as work,
        FakeEntra(Path(work)) as entra,
    ):
        config = EntraConfig(
            entra.tenant_id, (entra.audience, f"api://{entra.audience}"), entra.authority
        )
        validator = EntraTokenValidator(config, ssl_context=entra.client_context())
        checker = Authenticator(ApiKeyRing(literal), validator)
        token = {"Authorization": f"Bearer {entra.token(OPERATOR)}"}
        started = time.perf_counter()
        first = checker.authenticate(token)
        first_token_ms = (time.perf_counter() - started) * 1000
        assert first.role is Role.OPERATOR
        # The last key of the ring: every key is compared anyway (constant time).
        key = {"X-API-Key": keys[-1]}
        assert checker.authenticate(key).role is Role.OPERATOR
        key_check = summary(timed(checker.authenticate, key, args.calls))
        token_check = summary(timed(checker.authenticate, token, args.calls))
        fetched = entra.counts()
    result = {
        "calls": args.calls,
        "keys_in_ring": args.keys,
        "api_key_check": key_check,
        "entra_token_check": token_check,
        "first_token_ms": round(first_token_ms, 2),
        "tenant_requests": fetched,
        "targets": {"api_key_check_ms": 0.2, "entra_token_check_ms": 1.0, "first_token_ms": 500},
    }
    result["met"] = (
        key_check["median_ms"] < 0.2
        and token_check["median_ms"] < 1.0
        and first_token_ms < 500
        and fetched == {"openid": 1, "jwks": 1}
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
