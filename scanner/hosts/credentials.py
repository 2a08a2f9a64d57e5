"""Which private key logs in to a host: the service-wide key, or the host's own.

A host, or a jump host on the way to it, may name a credentials reference: the name of an app
setting or Key Vault secret holding a private key (OpenSSH or PEM text), and optionally a
passphrase reference of the same kind. References are names, stored with the target; the key
material is read when connecting, kept in memory only (parsed once, read again after a while
so a rotated key is picked up) and never stored, logged or returned.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from scanner.engine import ScanError, TransientScanError
from scanner.hosts.failures import NO_KEY, Failure, HostScanError
from scanner.hosts.ssh import PrivateKeySource

# Reads a reference: the value of the app setting or secret it names (None: nothing there).
SecretReader = Callable[[str], str | None]


class KeyRing:
    """The keys host scans log in with, by credentials reference (None: the service's key)."""

    def __init__(
        self,
        default: PrivateKeySource | None,
        read_secret: SecretReader | None = None,
        ttl_s: float = 900.0,
    ) -> None:
        self.default = default
        self._read_secret = read_secret
        self._ttl_s = ttl_s
        self._sources: dict[tuple[str, str | None], PrivateKeySource] = {}
        self._lock = threading.Lock()

    def key(
        self, credentials_ref: str | None, passphrase_ref: str | None = None
    ) -> PrivateKeySource:
        if not credentials_ref:
            if self.default is None:
                raise HostScanError(Failure.CONFIGURATION, NO_KEY)
            return self.default
        with self._lock:
            source = self._sources.get((credentials_ref, passphrase_ref))
            if source is None:
                source = PrivateKeySource(
                    lambda: self._read(credentials_ref, "credentialsRef"),
                    (lambda: self._read(passphrase_ref, "passphraseRef"))
                    if passphrase_ref
                    else None,
                    self._ttl_s,
                )
                self._sources[(credentials_ref, passphrase_ref)] = source
            return source

    def _read(self, ref: str, field: str) -> str:
        if self._read_secret is None:
            raise HostScanError(
                Failure.CONFIGURATION, f"{field} {ref!r} cannot be read: no secret store is set up"
            )
        try:
            value = self._read_secret(ref)
        except TransientScanError:
            raise
        except ScanError as exc:
            raise HostScanError(Failure.CONFIGURATION, f"{field} {ref!r}: {exc}") from exc
        if not value:
            raise HostScanError(Failure.CONFIGURATION, f"{field} {ref!r} is empty")
        return value
