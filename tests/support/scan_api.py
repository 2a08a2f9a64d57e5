"""Start the scan API (the service's blueprints + the synthetic kind) on the standalone host."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.support.host_process import ROOT, HostProcess

SCAN_API_APP = ROOT / "tests" / "apps" / "scan_api"
# One API key per role (`name:role:key`); API_KEY is the admin's, which most tests use.
ROLE_KEYS = {role: f"test-{role}-{uuid.uuid4().hex}" for role in ("reader", "operator", "admin")}
API_KEY = ROLE_KEYS["admin"]
API_KEYS_SETTING = ",".join(f"tests-{role}:{role}:{key}" for role, key in ROLE_KEYS.items())


def scan_api_env(azurite: str, **overrides: str) -> dict[str, str]:
    unique = uuid.uuid4().hex[:10]
    env = {
        "AzureWebJobsStorage": azurite,
        "TASKHUB_NAME": f"Api{unique}",
        "SCAN_STORAGE_PREFIX": f"t{unique}",
        "SCAN_API_KEYS": API_KEYS_SETTING,
        "SCAN_SCHEDULER_CRON": "0 0 0 1 1 *",
        "HISTORY_PURGE_CRON": "0 0 0 1 1 *",
        "PYTHON_THREADPOOL_THREAD_COUNT": "16",
        "REPO_ALLOW_LOCAL_PATHS": "true",
    }
    env.update(overrides)
    return env


def start_api(data_dir: Path, env: dict[str, str], port: int | None = None) -> HostProcess:
    return HostProcess(SCAN_API_APP, data_dir, env, port=port).start()


@contextmanager
def running_api(data_dir: Path, env: dict[str, str], port: int | None = None) -> Iterator[Api]:
    """The scan API on a host of its own, stopped at the end."""
    host = start_api(data_dir, env, port)
    try:
        yield Api(host)
    finally:
        host.stop()


class Api:
    """A small client that sends the API key."""

    def __init__(self, host: HostProcess, key: str = API_KEY) -> None:
        self.host = host
        self.headers = {"X-API-Key": key}

    def post(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return requests.post(
            self.host.base_url + path, json=json, headers=self.headers, timeout=30, **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.host.base_url + path, headers=self.headers, timeout=30, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(
            method, self.host.base_url + path, headers=self.headers, timeout=30, **kwargs
        )

    def scan(self, **body: Any) -> requests.Response:
        return self.post("/api/v1/scans", {"targetType": "synthetic", **body})

    def wait(
        self,
        scan_id: str,
        done: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 60.0,
        seen: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Poll the scan until `done` (default: it has ended); every answer goes to `seen`."""
        finished = done or (lambda s: s["status"] in ("completed", "failed", "cancelled"))
        deadline = time.monotonic() + timeout
        while True:
            response = self.get(f"/api/v1/scans/{scan_id}")
            assert response.status_code == 200, response.text
            status = response.json()
            if seen is not None:
                seen.append(status)
            if finished(status):
                if status["status"] in ("completed", "failed", "cancelled"):
                    detailed = self.get(f"/api/v1/scans/{scan_id}", params={"include": "items"})
                    return dict(detailed.json())
                return status
            if time.monotonic() > deadline:
                raise AssertionError(f"scan {scan_id} still {status['status']} after {timeout}s")
            time.sleep(0.03)
