"""Start and stop an embedded Azurite (blob, queue, table) on free loopback ports."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from standalone.settings import azurite_connection_string

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
AZURITE_SCRIPT = Path("node_modules", "azurite", "dist", "src", "azurite.js")
READY_TIMEOUT_S = 30.0
_PR_SET_PDEATHSIG = 1


class AzuriteError(Exception):
    """Azurite could not be found or did not start."""


def find_azurite_script() -> Path:
    """Azurite's entry script: $AZURITE_SCRIPT, else node_modules of this project."""
    override = os.environ.get("AZURITE_SCRIPT")
    candidates = [Path(override)] if override else []
    candidates += [PROJECT_ROOT / AZURITE_SCRIPT, Path.cwd() / AZURITE_SCRIPT]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise AzuriteError(
        "Azurite is not installed: run `make setup` (npm ci) or set AZURITE_SCRIPT to azurite.js"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the caller retries if someone takes it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM Azurite when the host dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Azurite:
    """One Azurite process storing its data under `location`."""

    def __init__(self, location: Path) -> None:
        self.location = location
        self.process: subprocess.Popen[bytes] | None = None
        self.ports: tuple[int, int, int] = (0, 0, 0)

    @property
    def connection_string(self) -> str:
        return azurite_connection_string(*self.ports)

    def start(self, attempts: int = 3) -> str:
        """Start Azurite and wait until all three services accept connections."""
        node = shutil.which("node")
        if node is None:
            raise AzuriteError("Node.js is required for the embedded Azurite (`node` not on PATH)")
        script = find_azurite_script()
        self.location.mkdir(parents=True, exist_ok=True)
        last_error = ""
        for _ in range(attempts):
            self.ports = (free_port(), free_port(), free_port())
            blob, queue, table = self.ports
            command = [
                node,
                str(script),
                "--silent",
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--location",
                str(self.location),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(blob),
                "--queueHost",
                "127.0.0.1",
                "--queuePort",
                str(queue),
                "--tableHost",
                "127.0.0.1",
                "--tablePort",
                str(table),
            ]
            log_path = self.location / "azurite.log"
            with log_path.open("ab") as log_file:
                self.process = subprocess.Popen(
                    command,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    preexec_fn=_die_with_parent,
                )
            if self._wait_ready():
                log.info("Azurite started (blob %d, queue %d, table %d)", blob, queue, table)
                return self.connection_string
            last_error = log_path.read_text(errors="replace")[-2000:]
            self.stop()
        raise AzuriteError(f"Azurite did not start: {last_error.strip() or 'no output'}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            if all(_port_open(port) for port in self.ports):
                return True
            time.sleep(0.05)
        return False

    def stop(self, timeout: float = 10.0) -> None:
        """Stop Azurite gracefully (it saves its data on SIGTERM), then kill if it hangs."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
        log.info("Azurite stopped")
