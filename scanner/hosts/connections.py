"""One SSH connection per scan per process, shared by that scan's commands.

A scan's commands fan out to activities; those running in this process reuse the scan's
connection (opened by the plan step, or by the first command to need it). The scan's
summarize step closes it; a connection left idle (a scan that crashed or ran its last command
in another process) is closed by a reaper after `idle_timeout_s`. A failed connect is
remembered for the scan, so its other commands fail at once instead of each waiting out the
connect timeout again.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from scanner.hosts.failures import HostScanError
from scanner.hosts.ssh import SshConnection

log = logging.getLogger(__name__)

IDLE_TIMEOUT_S = 60.0


@dataclass
class _Entry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    connection: SshConnection | None = None
    error: HostScanError | None = None
    touched: float = field(default_factory=time.monotonic)


class ConnectionCache:
    """Connections by scan (session) key, for this process."""

    def __init__(self, idle_timeout_s: float = IDLE_TIMEOUT_S) -> None:
        self.idle_timeout_s = idle_timeout_s
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._reaper: threading.Thread | None = None

    def get(self, key: str, open_connection: Callable[[], SshConnection]) -> SshConnection:
        """The scan's connection, opened (once, whatever the number of threads asking) when
        there is none or it died. Raises the HostScanError of a failed connect."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry()
            self._start_reaper()
        with entry.lock:
            entry.touched = time.monotonic()
            if entry.error is not None:
                raise entry.error
            if entry.connection is None or not entry.connection.alive:
                if entry.connection is not None:
                    log.info("ssh %s: connection lost; reconnecting", entry.connection.endpoint)
                    entry.connection.close()
                try:
                    entry.connection = open_connection()
                except HostScanError as exc:
                    entry.error = exc
                    raise
            return entry.connection

    def peek(self, key: str) -> SshConnection | None:
        with self._lock:
            entry = self._entries.get(key)
        return entry.connection if entry is not None else None

    def close(self, key: str) -> bool:
        """Close and forget the scan's connection; False when this process had none."""
        with self._lock:
            entry = self._entries.pop(key, None)
        if entry is None:
            return False
        with entry.lock:
            if entry.connection is not None:
                entry.connection.close()
                return True
        return False

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def sweep(self, now: float | None = None) -> int:
        """Close connections idle for longer than the idle timeout; how many were closed."""
        now = time.monotonic() if now is None else now
        stale: list[_Entry] = []
        with self._lock:
            for key, entry in list(self._entries.items()):
                connection = entry.connection
                last = max(entry.touched, connection.last_used if connection else 0.0)
                if now - last > self.idle_timeout_s and not (connection and connection.busy):
                    stale.append(self._entries.pop(key))
        for entry in stale:
            if entry.connection is not None:
                log.info("ssh %s: closing idle connection", entry.connection.endpoint)
                with contextlib.suppress(Exception):
                    entry.connection.close()
        return len(stale)

    def _start_reaper(self) -> None:
        # Holding self._lock.
        if self._reaper is None or not self._reaper.is_alive():
            self._reaper = threading.Thread(target=self._reap, name="ssh-reaper", daemon=True)
            self._reaper.start()

    def _reap(self) -> None:
        interval = max(0.05, min(self.idle_timeout_s / 4, 15.0))
        while True:
            time.sleep(interval)
            self.sweep()
            with self._lock:
                if not self._entries:
                    self._reaper = None
                    return


# The process's cache: activities of one scan in this worker process share its connection.
CONNECTIONS = ConnectionCache()
