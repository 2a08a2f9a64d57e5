"""Run the standalone host as a real child process, as a user would start it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from standalone.azurite import free_port

ROOT = Path(__file__).resolve().parents[2]


def live_group_members(group: int) -> list[int]:
    """Processes of a process group that still run (zombies waiting to be reaped are dead)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":  # state, ppid, pgrp
            members.append(int(entry.name))
    return members


class HostProcess:
    """`python -m standalone` for one app folder, on its own port and data folder."""

    def __init__(
        self,
        app_dir: Path,
        data_dir: Path,
        env: dict[str, str],
        port: int | None = None,
        ready_path: str = "/api/health",
        extra_args: list[str] | None = None,
    ) -> None:
        self.app_dir = app_dir
        self.data_dir = data_dir
        self.env = env
        self.port = port or free_port()
        self.ready_path = ready_path
        self.extra_args = extra_args or []
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / f"host-{self.port}.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def keys(self) -> dict[str, str]:
        return json.loads((self.data_dir / "host-keys.json").read_text())

    def start(self, timeout: float = 60.0) -> HostProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        command = [
            sys.executable,
            "-m",
            "standalone",
            "--app-dir",
            str(self.app_dir),
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            *self.extra_args,
        ]
        log = self.log_path.open("ab")
        # A process group of its own: kill() reaches every process of the host at once.
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"host exited early:\n{self.log()}")
            try:
                if requests.get(self.base_url + self.ready_path, timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"host not ready in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def processes(self) -> list[int]:
        """The live processes of the host's group: the host, its Durable engine, activity
        workers and whatever else they started."""
        return [] if self.process is None else live_group_members(self.process.pid)

    def kill(self) -> None:
        """SIGKILL every process of the host at once (the host, its engine and worker
        processes, any storage process): no clean-up of any kind, like a crashed machine."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        deadline = time.monotonic() + 10
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20.0) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return int(self.process.returncode)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.base_url + path, timeout=30, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.post(self.base_url + path, timeout=30, **kwargs)
