"""The command-line client against the loop people write without it, and its start-up time.

Starts Azurite, the service (function_app.py on the standalone host) and N (default 20) real
OpenSSH servers on 127.0.0.1, then measures, in alternating rounds:
1. `scanctl scan host h1 ... hN --wait -q -o json`: wall time of the whole command, all hosts
   quick-scanned;
2. the same N scans the way a script does it with curl: for each host, `curl -X POST` the
   scan, then `curl` its status every POLL_S until it has ended; the sum of those times.
3. start-up: from spawning `scanctl scans list` to its first request reaching a local HTTP
   listener (the listener answers an empty page at once), against `curl` doing the same;
   and the CPU time of that whole run, which the machine's load does not inflate.

Prints JSON. Targets: scanctl's N-host wall time below the curl loop's sum; start-up to the
first request under 0.3 s (median).
Run: `.venv/bin/python bench/cli.py [--hosts 20] [--rounds 2] [--startups 15]`.
Needs root (creates the SSH login user) and openssh-server (`make sshd`), and curl.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.host_scan import load, summary  # noqa: E402
from standalone.azurite import Azurite  # noqa: E402
from tests.support.host_process import HostProcess  # noqa: E402
from tests.support.scan_api import API_KEY, scan_api_env  # noqa: E402
from tests.support.sshd import LOGIN_USER, Sshd, make_key, public_key  # noqa: E402

SCANCTL = Path(sys.executable).with_name("scanctl")
POLL_S = 0.25  # the curl loop polls as often as scanctl's first polls
ENDED = ("completed", "failed", "cancelled")
TARGET_STARTUP_S = 0.3


def curl(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        ["curl", "-sS", "--fail-with-body", *args], capture_output=True, check=True
    )
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def curl_loop(base: str, key: str, ports: list[int]) -> tuple[float, list[float]]:
    """Each host in turn: POST, poll until ended. (sum of the scans' times, each time)."""
    times = []
    for port in ports:
        began = time.perf_counter()
        body = json.dumps({"targetType": "host", "hostname": "127.0.0.1", "port": port})
        started = curl(
            "-X",
            "POST",
            f"{base}/api/v1/scans",
            "-H",
            f"X-API-Key: {key}",
            "-H",
            "Content-Type: application/json",
            "-d",
            body,
        )
        while True:
            status = curl(f"{base}/api/v1/scans/{started['scanId']}", "-H", f"X-API-Key: {key}")
            if status["status"] in ENDED:
                break
            time.sleep(POLL_S)
        if status["status"] != "completed":
            raise SystemExit(f"curl loop: scan of port {port} {status['status']}")
        times.append(time.perf_counter() - began)
    return sum(times), times


def scanctl_fleet(env: dict[str, str], ports: list[int]) -> tuple[float, float]:
    """(wall time of the command, first scan created to last completed as the service saw it)."""
    hosts = [f"127.0.0.1:{port}" for port in ports]
    began = time.perf_counter()
    done = subprocess.run(
        [str(SCANCTL), "scan", "host", *hosts, "--wait", "-q", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"scanctl exited {done.returncode}: {done.stderr}")
    scans = json.loads(done.stdout)["scans"]
    if {s["status"] for s in scans} != {"completed"}:
        raise SystemExit(f"scanctl: scans ended {[s['status'] for s in scans]}")
    created = min(datetime.fromisoformat(s["createdAt"]) for s in scans)
    completed = max(datetime.fromisoformat(s["completedAt"]) for s in scans)
    return wall, (completed - created).total_seconds()


class FirstRequest(BaseHTTPRequestHandler):
    """Notes when a request arrives and answers an empty page of scans."""

    arrived: float = 0.0
    event = threading.Event()

    def do_GET(self) -> None:
        type(self).arrived = time.perf_counter()
        type(self).event.set()
        body = b'{"items": [], "continuationToken": null}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def startup(command: list[str], runs: int) -> tuple[list[float], list[float]]:
    """(seconds from spawning `command` to its first request reaching the listener, CPU
    seconds of the whole run). CPU time is what the machine's load does not inflate."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FirstRequest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    env = {**os.environ, "SCAN_API_KEY": "bench-key"}
    times, cpu = [], []
    try:
        for _ in range(runs):
            FirstRequest.event.clear()
            began = time.perf_counter()
            process = subprocess.Popen(
                [part.replace("{url}", url) for part in command],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if not FirstRequest.event.wait(10):
                raise SystemExit(f"no request from {command[0]}")
            times.append(FirstRequest.arrived - began)
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            cpu.append(usage.ru_utime + usage.ru_stime)
    finally:
        server.shutdown()
    return times, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of 1 and 2")
    parser.add_argument("--startups", type=int, default=15)
    args = parser.parse_args()
    if shutil.which("curl") is None:
        raise SystemExit("curl is missing (apt-get install curl)")

    before = load()
    # 3 first: it needs no service, so the service's start-up does not load the machine.
    startup_cli, cpu_cli = startup(
        [str(SCANCTL), "scans", "list", "--url", "{url}", "-o", "json"], args.startups
    )
    startup_curl, _ = startup(["curl", "-s", "{url}/api/v1/scans"], args.startups)
    with tempfile.TemporaryDirectory() as temp, ExitStack() as stack:
        work = Path(temp)
        key = make_key(work / "id_ed25519")
        azurite = Azurite(work / "azurite")
        connection = azurite.start()
        stack.callback(azurite.stop)
        env = scan_api_env(
            connection,
            SSH_PRIVATE_KEY_PATH=str(key),
            SSH_DEFAULT_USERNAME=LOGIN_USER,
            STANDALONE_LOG_LEVEL=os.environ.get("STANDALONE_LOG_LEVEL", "WARNING"),
        )
        host = HostProcess(ROOT, work / "host", env).start()
        stack.callback(host.stop)
        cli_env = {**os.environ, "SCAN_API_URL": host.base_url, "SCAN_API_KEY": API_KEY}
        ports = []
        for _ in range(args.hosts):
            server = Sshd([public_key(key)]).start()
            stack.callback(server.remove)
            ports.append(server.port)
        curl_loop(host.base_url, API_KEY, ports[:1])  # warm-up: worker imports, first keys
        cli_walls, service_spans, curl_sums, curl_each = [], [], [], []
        for _ in range(args.rounds):  # alternating, so the machine's load weighs on both
            wall, span = scanctl_fleet(cli_env, ports)
            cli_walls.append(wall)
            service_spans.append(span)
            total, each = curl_loop(host.base_url, API_KEY, ports)
            curl_sums.append(total)
            curl_each += each

    cli_wall = statistics.median(cli_walls)
    curl_sum = statistics.median(curl_sums)
    checks = {
        "scanctl_below_curl_sum": cli_wall < curl_sum,
        "startup_under_0_3_s": statistics.median(startup_cli) < TARGET_STARTUP_S,
    }
    result = {
        "measured": f"{args.hosts} quick host scans: `scanctl scan host ... --wait` wall time "
        f"vs the sum of the same scans each POSTed with curl and polled every {POLL_S} s; "
        "start-up: spawn to first request at a local listener",
        "hosts": args.hosts,
        "rounds": args.rounds,
        "scanctl_wait_wall_s": {**summary(cli_walls), "runs": cli_walls},
        "service_first_created_to_last_completed_s": summary(service_spans),
        "curl_loop_sum_s": {**summary(curl_sums), "runs": curl_sums},
        "curl_loop_one_scan_s": summary(curl_each),
        "speedup": round(curl_sum / cli_wall, 2),
        "startup_to_first_request_s": {
            "scanctl": summary(startup_cli),
            "scanctl_cpu_whole_run": summary(cpu_cli),
            "curl": summary(startup_curl),
            "runs": args.startups,
        },
        "targets": {"scanctl_below_curl_sum": True, "startup_s": TARGET_STARTUP_S},
        "checks": checks,
        "met": all(checks.values()),
        "machine": {"before": before, "after": load()},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
