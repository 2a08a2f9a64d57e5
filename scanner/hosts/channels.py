"""How many session channels one SSH connection keeps open at once, learned from the server.

SSH servers limit the sessions of one connection: OpenSSH refuses a channel past `MaxSessions`
(10 by default), and Dropbear (routers, NAS boxes, appliances) refuses or closes at once a
channel opened while another one is starting. A connection starts with a small number of
parallel channels and queues the rest; when the server refuses a channel, or closes one
before its command ran, the limit drops to the number of channels that were open at that
moment (at least one), and the command tries again after a pause, keeping its slot (a
server frees a closed session a moment late: OpenSSH refuses the session that follows one
just closed when `MaxSessions` is 1); commands that hold slots beyond a lowered limit finish,
new ones wait until the slots held fit it. A server that drops the whole connection while
several channels are open is taught one at a time. What a server taught us is kept per
endpoint, so a fresh connection to it starts at the learned limit.
"""

from __future__ import annotations

import threading
import time

INITIAL_LIMIT = 4


class ChannelGate:
    """Slots for the commands of one connection: at most `limit` hold a channel at once."""

    def __init__(self, limit: int = INITIAL_LIMIT) -> None:
        self.limit = max(1, limit)
        self.learned = False
        self._held = 0
        self._open = 0  # accepted by the server, or being opened
        self._changed = threading.Condition()

    def acquire(self, deadline: float) -> bool:
        """Wait for a free slot until `deadline` (time.monotonic); False when none came."""
        with self._changed:
            while self._held >= self.limit:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            self._held += 1
            return True

    def release(self) -> None:
        with self._changed:
            self._held -= 1
            self._changed.notify_all()

    def opening(self) -> None:
        """A channel is being opened (counted from the request on: the server may have
        accepted it before its opener hears so)."""
        with self._changed:
            self._open += 1

    def closed(self) -> None:
        """A channel is closed, or its opening failed."""
        with self._changed:
            self._open -= 1
            self._changed.notify_all()

    def refused(self) -> int:
        """The server refused a channel (or closed it at once): it allows no more than the
        others open or opening now (fewer, should it refuse again). Returns the new limit."""
        with self._changed:
            self.limit = max(1, min(self.limit, self._open))
            self.learned = True
            return self.limit

    def dropped(self) -> int:
        """The server dropped the whole connection (Dropbear does when channels race): one
        channel at a time from now. Returns the new limit."""
        with self._changed:
            self.limit = 1
            self.learned = True
            return self.limit


class LearnedLimits:
    """The channel limit each server taught us, by endpoint (this process's memory)."""

    def __init__(self, initial: int = INITIAL_LIMIT) -> None:
        self.initial = initial
        self._limits: dict[str, int] = {}
        self._lock = threading.Lock()

    def gate(self, endpoint: str) -> ChannelGate:
        """A gate for a new connection to `endpoint`, at what it taught us so far."""
        with self._lock:
            known = self._limits.get(endpoint)
        gate = ChannelGate(known or self.initial)
        gate.learned = known is not None
        return gate

    def learn(self, endpoint: str, limit: int) -> None:
        with self._lock:
            self._limits[endpoint] = min(limit, self._limits.get(endpoint, limit))

    def known(self, endpoint: str) -> int | None:
        with self._lock:
            return self._limits.get(endpoint)


# The process's memory of what servers allow.
LIMITS = LearnedLimits()
