"""The host-key policy as pure decisions (the Table-backed store is tested end to end)."""

from __future__ import annotations

import pytest

from scanner.hosts.failures import Failure, HostScanError
from scanner.hosts.host_keys import (
    HostKeyPolicy,
    HostKeyVerifier,
    KnownHostKey,
    decide,
    preferred_algorithms,
)

ED = KnownHostKey("ssh-ed25519", "SHA256:" + "A" * 43)
ED_OTHER = KnownHostKey("ssh-ed25519", "SHA256:" + "B" * 43)
RSA = KnownHostKey("ssh-rsa", "SHA256:" + "C" * 43)
ACCEPT_NEW = HostKeyPolicy.ACCEPT_NEW
STRICT = HostKeyPolicy.STRICT


@pytest.mark.parametrize("policy", [ACCEPT_NEW, STRICT])
def test_a_known_matching_key_is_trusted(policy: HostKeyPolicy) -> None:
    assert decide(policy, [RSA, ED], ED, "h", 22) is True


@pytest.mark.parametrize("policy", [ACCEPT_NEW, STRICT])
def test_a_changed_key_is_refused_under_both_policies(policy: HostKeyPolicy) -> None:
    with pytest.raises(HostScanError) as caught:
        decide(policy, [ED], ED_OTHER, "web", 2222)
    assert caught.value.failure is Failure.HOST_KEY_CHANGED
    message = str(caught.value)
    assert message.startswith("host key changed: web:2222 presented ssh-ed25519 SHA256:BBB")
    assert ED.fingerprint in message
    assert "DELETE /api/v1/hosts/web-2222/host-key" in message


def test_a_key_of_a_type_no_longer_offered_counts_as_changed() -> None:
    with pytest.raises(HostScanError) as caught:
        decide(ACCEPT_NEW, [RSA], ED, "web", 22)
    assert caught.value.failure is Failure.HOST_KEY_CHANGED


def test_an_unknown_host_is_new_under_accept_new_and_refused_under_strict() -> None:
    assert decide(ACCEPT_NEW, [], ED, "web", 22) is False
    with pytest.raises(HostScanError) as caught:
        decide(STRICT, [], ED, "::1", 22)
    assert caught.value.failure is Failure.HOST_KEY_UNKNOWN
    assert str(caught.value).startswith("host key unknown: [::1]:22 presented ssh-ed25519")
    assert "PUT /api/v1/hosts/::1-22/host-key" in str(caught.value)


class Store:
    """A dict-backed KnownHostKeys; `racer` simulates another worker recording first."""

    def __init__(self, racer: KnownHostKey | None = None) -> None:
        self.keys: dict[tuple[str, int], list[KnownHostKey]] = {}
        self.racer = racer

    def lookup(self, host: str, port: int) -> list[KnownHostKey]:
        return list(self.keys.get((host, port), []))

    def remember(self, host: str, port: int, key: KnownHostKey) -> bool:
        if self.racer is not None:
            self.keys[(host, port)] = [self.racer]
            return False
        self.keys.setdefault((host, port), []).append(key)
        return True


def test_accept_new_records_at_first_contact_then_holds_to_it() -> None:
    store = Store()
    verifier = HostKeyVerifier(store, ACCEPT_NEW)
    verifier.verify("web", 22, ED, verifier.known("web", 22))
    assert store.lookup("web", 22) == [ED]
    verifier.verify("web", 22, ED, verifier.known("web", 22))
    with pytest.raises(HostScanError, match="host key changed"):
        verifier.verify("web", 22, ED_OTHER, verifier.known("web", 22))


def test_a_race_at_first_contact_is_judged_against_the_winner() -> None:
    same = HostKeyVerifier(Store(racer=ED), ACCEPT_NEW)
    same.verify("web", 22, ED, [])  # the other worker saw the same key: fine
    other = HostKeyVerifier(Store(racer=ED_OTHER), ACCEPT_NEW)
    with pytest.raises(HostScanError, match="host key changed"):
        other.verify("web", 22, ED, [])


def test_known_key_types_are_preferred_in_the_key_exchange() -> None:
    available = ("ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")
    assert preferred_algorithms([], available) == available
    assert preferred_algorithms([RSA], available) == (
        "rsa-sha2-512",
        "rsa-sha2-256",
        "ssh-rsa",
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
    )
    assert preferred_algorithms([KnownHostKey("ecdsa-sha2-nistp256", "x")], available)[0] == (
        "ecdsa-sha2-nistp256"
    )
