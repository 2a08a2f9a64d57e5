"""Scoped API keys for machines: each has a name and a role.

Keys are written `name:role:key`, comma-separated, in the `SCAN_API_KEYS` setting and/or in the
secret `SCAN_API_KEYS_SECRET` names (an app setting of that name, else a Key Vault secret). The
secret is read again every few minutes, so a key is rotated without a restart or downtime: add
the new key under the same name (both are valid), move the callers over, remove the old one.

Only SHA-256 digests of the keys are kept; a presented key is compared with every one of them in
constant time. Key values are never logged: a malformed entry is reported by its position.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from orchestrations.identity.roles import Principal, Role

log = logging.getLogger(__name__)

MIN_KEY_LENGTH = 12
REFRESH_SECONDS = 300
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class ApiKey:
    name: str
    role: Role
    digest: bytes

    @property
    def principal(self) -> Principal:
        return Principal("key", self.name, self.role)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def parse_api_keys(text: str, source: str) -> tuple[list[ApiKey], list[str]]:
    """The keys in `text` and what is wrong with the entries left out (never their values)."""
    keys: list[ApiKey] = []
    problems: list[str] = []
    roles: dict[str, Role] = {}
    digests: set[bytes] = set()
    entries = [e.strip() for e in text.split(",") if e.strip()]
    for number, entry in enumerate(entries, start=1):
        where = f"{source} entry {number} of {len(entries)}"
        name, _, rest = entry.partition(":")
        role_text, _, key = rest.partition(":")
        name, key = name.strip(), key.strip()
        if not key:
            problems.append(f"{where} is not name:role:key")
            continue
        if not _NAME.match(name):
            problems.append(f"{where}: a key name is 1-64 letters, digits, '.', '_' or '-'")
            continue
        try:
            role = Role.parse(role_text)
        except ValueError:
            problems.append(f"{where} ({name}): the role must be reader, operator or admin")
            continue
        if len(key) < MIN_KEY_LENGTH:
            problems.append(f"{where} ({name}): a key has at least {MIN_KEY_LENGTH} characters")
            continue
        if roles.setdefault(name, role) != role:
            problems.append(f"{where} ({name}): the name already has the role {roles[name].label}")
            continue
        digest = _digest(key)
        if digest in digests:
            problems.append(f"{where} ({name}): the same key is listed before")
            continue
        digests.add(digest)
        keys.append(ApiKey(name, role, digest))
    return keys, problems


class ApiKeyRing:
    """The valid keys: the literal setting's, plus the secret's (re-read every few minutes)."""

    def __init__(
        self,
        literal: str,
        secret_name: str = "",
        read_secret: Callable[[str], str | None] | None = None,
        refresh_seconds: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._literal, problems = parse_api_keys(literal, "SCAN_API_KEYS")
        for problem in problems:
            log.error("API key ignored: %s", problem)
        self._secret_name = secret_name
        self._read_secret = read_secret
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._from_secret: list[ApiKey] = []
        self._read_at: float | None = None

    def _secret_keys(self) -> list[ApiKey]:
        if not self._secret_name or self._read_secret is None:
            return []
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self._refresh_seconds:
                self._read_at = now
                self._reload()
            return self._from_secret

    def _reload(self) -> None:
        assert self._read_secret is not None
        source = f"secret {self._secret_name}"
        try:
            text = self._read_secret(self._secret_name) or ""
        except Exception as exc:  # any failure keeps the keys we had; never the secret's text
            log.error("API keys not read from %s (%s); keeping the previous ones", source, exc)
            return
        keys, problems = parse_api_keys(text, source)
        for problem in problems:
            log.error("API key ignored: %s", problem)
        if [k.digest for k in keys] != [k.digest for k in self._from_secret]:
            log.info("API keys read from %s: %s", source, ", ".join(sorted({k.name for k in keys})))
        self._from_secret = keys

    def keys(self) -> list[ApiKey]:
        return [*self._literal, *self._secret_keys()]

    def match(self, presented: str) -> ApiKey | None:
        """The key `presented` is, compared with every key (no early exit) in constant time."""
        digest = _digest(presented)
        found: ApiKey | None = None
        for key in self.keys():
            if hmac.compare_digest(digest, key.digest) and found is None:
                found = key
        return found
