"""The scan service as the command-line client meets it: the real app (function_app.py) on
the standalone host, with real targets of all three kinds, and a way to run `scanctl` itself as
a child process (the console script `make setup` installs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.azure_fakes import FakeAzure, planted_tenant, with_more_subscriptions
from tests.support.git_repos import GitRepo, clean_tree, example_story, specification
from tests.support.host_process import ROOT, HostProcess
from tests.support.scan_api import API_KEY, scan_api_env
from tests.support.sshd import LOGIN_USER, Sshd, make_key, public_key

SCANCTL = Path(sys.executable).with_name("scanctl")
# Host scans the service runs at once; more wait their turn.
HOST_SCANS_AT_ONCE = 2

# A host whose commands wait their turn and take a moment each: a scan long enough to watch
# its progress advance command by command (and to interrupt).
SLOW_FORCE_COMMAND = r"""#!/bin/sh
exec flock "$(dirname "$0")/turn" sh -c 'sleep 0.4; exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"'
"""


@dataclass
class Service:
    host: HostProcess
    linux: Sshd
    slow: Sshd
    fake: FakeAzure
    repo: GitRepo
    subscription_id: str
    work: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.host.base_url

    def env(self, **overrides: str) -> dict[str, str]:
        """The CLI's environment: this service and its key (unless overridden; '' removes)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCAN_API")}
        env.update({"SCAN_API_URL": self.url, "SCAN_API_KEY": API_KEY, "COLUMNS": "200"})
        env.update(overrides)
        return {k: v for k, v in env.items() if v != ""}

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120, stdin: str = ""
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCANCTL), *args],
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin,
        )

    def json(self, *args: str) -> dict[str, Any]:
        done = self.run(*args, "-o", "json")
        assert done.returncode == 0, done.stderr
        document: dict[str, Any] = json.loads(done.stdout)
        return document

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        import requests

        answer = requests.request(
            method, self.url + path, headers={"X-API-Key": API_KEY}, timeout=30, **kwargs
        )
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def wait_status(
        self, scan_id: str, statuses: tuple[str, ...], timeout: float = 60
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            scan: dict[str, Any] = self.api("GET", f"/api/v1/scans/{scan_id}")
            if scan["status"] in statuses:
                return scan
            assert time.monotonic() < deadline, f"{scan_id} still {scan['status']}"
            time.sleep(0.05)


def gxp_repository(path: Path) -> GitRepo:
    """A GxP documentation repository: a clean trace, then the example story (breaking rules)."""
    repo = GitRepo(path)
    repo.write_artifacts(clean_tree())
    repo.commit("clean traceability")
    repo.write("stories/US-006-001.md", example_story())
    repo.write("specs/SPEC-006-001.md", specification("SPEC-006-001", "US-006-001"))
    repo.commit("example story")
    return repo


@contextmanager
def cli_service(work: Path, azurite: str) -> Iterator[Service]:
    with ExitStack() as stack:
        key = make_key(work / "id_ed25519")
        linux = stack.enter_context(Sshd([public_key(key)]))
        slow = stack.enter_context(Sshd([public_key(key)], force_command=SLOW_FORCE_COMMAND))
        fake = stack.enter_context(
            FakeAzure(with_more_subscriptions(planted_tenant()), work / "fake-azure")
        )
        env = scan_api_env(
            azurite,
            **fake.env(),
            SSH_PRIVATE_KEY_PATH=str(key),
            SSH_DEFAULT_USERNAME=LOGIN_USER,
            SSH_CONNECT_TIMEOUT_S="3",
            SSH_COMMAND_TIMEOUT_S="10",
            SCAN_MAX_RUNNING=f"host={HOST_SCANS_AT_ONCE}",
        )
        # The service's own app, as `make run` starts it.
        host = HostProcess(ROOT, work / "service", env).start()
        stack.callback(host.stop)
        yield Service(
            host=host,
            linux=linux,
            slow=slow,
            fake=fake,
            repo=gxp_repository(work / "gxp-docs"),
            subscription_id=planted_tenant().subscription_id,
            work=work,
        )
