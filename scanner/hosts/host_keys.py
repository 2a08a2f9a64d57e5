"""Known host keys and the policy that decides whether a presented host key is trusted.

Never blind trust: `accept-new` records a host's key at first contact and rejects a different
key later (like OpenSSH's StrictHostKeyChecking=accept-new); `strict` accepts only keys that
are already known (recorded earlier, or pinned by an operator). Where the keys live is not
this module's business: the wiring implements `KnownHostKeys` (Table Storage in the service).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from scanner.hosts.failures import Failure, HostScanError


class HostKeyPolicy(StrEnum):
    ACCEPT_NEW = "accept-new"
    STRICT = "strict"


@dataclass(frozen=True)
class KnownHostKey:
    """A host key by type and SHA-256 fingerprint (OpenSSH's `SHA256:<base64>` form)."""

    key_type: str
    fingerprint: str


class KnownHostKeys(Protocol):
    """Where known host keys are kept, per (host, port)."""

    def lookup(self, host: str, port: int) -> list[KnownHostKey]: ...

    def remember(self, host: str, port: int, key: KnownHostKey) -> bool:
        """Record a key seen at first contact; False when a key of that type was recorded
        meanwhile (another worker got there first): the caller looks again."""
        ...


# Host-key algorithms that produce each key type: a known type is preferred in the key
# exchange, so a server with several host keys presents the one we know (as OpenSSH does).
_ALGORITHMS = {
    "ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"),
}


def preferred_algorithms(known: list[KnownHostKey], available: tuple[str, ...]) -> tuple[str, ...]:
    """`available` reordered: the algorithms of known key types first."""
    first: list[str] = []
    for key in known:
        for algorithm in _ALGORITHMS.get(key.key_type, (key.key_type,)):
            if algorithm in available and algorithm not in first:
                first.append(algorithm)
    return (*first, *(a for a in available if a not in first))


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def decide(
    policy: HostKeyPolicy,
    known: list[KnownHostKey],
    presented: KnownHostKey,
    host: str,
    port: int,
    label: str | None = None,
) -> bool:
    """True: the presented key is known and matches. False: it is new and may be recorded
    (accept-new only). Raises HostScanError (host key changed / unknown) otherwise; its
    message names the host as `label` (e.g. `jump host 10.0.0.1:22`) when given."""
    where = label or _where(host, port)
    same_type = [k for k in known if k.key_type == presented.key_type]
    if any(k.fingerprint == presented.fingerprint for k in same_type):
        return True
    hint = (
        "; if the change is expected, forget the old key "
        f"(DELETE /api/v1/hosts/{host}-{port}/host-key)"
    )
    if same_type:
        raise HostScanError(
            Failure.HOST_KEY_CHANGED,
            f"{where} presented {presented.key_type} {presented.fingerprint}, "
            f"but {same_type[0].fingerprint} is recorded{hint}",
        )
    if known:
        # The server no longer offers any key type we know: as suspicious as a changed key.
        recorded = ", ".join(f"{k.key_type} {k.fingerprint}" for k in known)
        raise HostScanError(
            Failure.HOST_KEY_CHANGED,
            f"{where} presented {presented.key_type} {presented.fingerprint}, "
            f"but only {recorded} is recorded{hint}",
        )
    if policy is HostKeyPolicy.STRICT:
        raise HostScanError(
            Failure.HOST_KEY_UNKNOWN,
            f"{where} presented {presented.key_type} {presented.fingerprint}, "
            "which is not known and the policy is strict; pin it first "
            f"(PUT /api/v1/hosts/{host}-{port}/host-key)",
        )
    return False


class HostKeyVerifier:
    """Applies the policy with a store: looks keys up, records new ones under accept-new."""

    def __init__(self, store: KnownHostKeys, policy: HostKeyPolicy) -> None:
        self.store = store
        self.policy = policy

    def known(self, host: str, port: int) -> list[KnownHostKey]:
        return self.store.lookup(host, port)

    def verify(
        self,
        host: str,
        port: int,
        presented: KnownHostKey,
        known: list[KnownHostKey],
        label: str | None = None,
    ) -> None:
        """Raises HostScanError unless the presented key is trusted (recording it if new)."""
        if decide(self.policy, known, presented, host, port, label):
            return
        if self.store.remember(host, port, presented):
            return
        # Recorded by someone else in the meantime: judge against what is there now.
        if not decide(self.policy, self.store.lookup(host, port), presented, host, port, label):
            raise HostScanError(
                Failure.HOST_KEY_CHANGED,
                f"{label or _where(host, port)}: the recorded key changed while connecting",
            )
