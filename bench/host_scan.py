"""Host scans end to end through the API, against Ansible fact gathering, on loopback sshd.

Starts the service (function_app.py on the standalone host, on its default embedded database
or, with `--store azurite`, on Azure Storage in an Azurite) and real OpenSSH servers
on 127.0.0.1 (own host keys, ports, authorized key; non-root login user), then measures:
1. one quick scan, POST /api/v1/scans until the scan reads `completed` (polling every 20 ms),
   several times on one host, against `ansible -m setup` (ansible-core, installed by this
   script in its own venv, .venv-ansible) on the same sshd in the same run;
2. a fleet of N (default 50) sshd instances, all quick-scanned at once through the API (N
   concurrent POSTs; the scan list watched as a dashboard would): from the first POST until
   the last scan's completedAt.

Prints JSON. Targets: one quick scan <= 1.0 s end to end and <= half of Ansible's
time; the fleet of 50 <= 15 s.
Run: `.venv/bin/python bench/host_scan.py [--runs 10] [--fleet 50] [--ansible-runs 3]`.
Needs root (creates the login user) and openssh-server (`make host-scan-tools`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.bench_store import BenchStore, add_store_argument  # noqa: E402
from tests.support.host_process import HostProcess  # noqa: E402
from tests.support.sshd import LOGIN_USER, Sshd, make_key, public_key  # noqa: E402

ANSIBLE_CORE = "ansible-core==2.19.14"  # the last series whose controller runs on Python 3.11
ANSIBLE_VENV = ROOT / ".venv-ansible"
POLL_S = 0.02  # one scan: poll often, the figure is the scan's latency
# The fleet is watched like a dashboard does: one client polling the scan list (not 50 clients
# polling every 20 ms, which would be the load measured); its end is read from the scans'
# completedAt, so the polling interval does not blur it.
FLEET_POLL_S = 0.5
TERMINAL = ("completed", "failed", "cancelled")
TARGET_SINGLE_S = 1.0
TARGET_FLEET_S = 15.0


def load() -> dict[str, Any]:
    one, five, fifteen = (float(x) for x in Path("/proc/loadavg").read_text().split()[:3])
    return {"cpus": os.cpu_count(), "loadavg_1m": one, "loadavg_5m": five, "loadavg_15m": fifteen}


class Client:
    def __init__(self, base: str, key: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["X-API-Key"] = key

    def trigger(self, port: int) -> str:
        answer = self.session.post(
            f"{self.base}/api/v1/scans",
            json={"targetType": "host", "hostname": "127.0.0.1", "port": port, "scanType": "quick"},
            timeout=60,
        )
        if answer.status_code != 202:
            raise SystemExit(f"trigger failed: {answer.status_code} {answer.text}")
        return str(answer.json()["scanId"])

    def quick_scan(self, port: int) -> tuple[float, dict[str, Any]]:
        """Seconds from POST to a `completed` status (polling the scan), and that status."""
        began = time.perf_counter()
        url = f"{self.base}/api/v1/scans/{self.trigger(port)}"
        while True:
            status = self.session.get(url, timeout=30).json()
            if status["status"] in TERMINAL:
                break
            if time.perf_counter() - began > 120:
                raise SystemExit(f"scan of port {port} did not end: {status}")
            time.sleep(POLL_S)
        seconds = time.perf_counter() - began
        check(status)
        return seconds, status

    def watch(self, scan_ids: set[str], timeout_s: float = 300) -> list[dict[str, Any]]:
        """Poll the scan list, as a fleet dashboard would, until every scan has ended."""
        began = time.perf_counter()
        while True:
            page = self.session.get(
                f"{self.base}/api/v1/scans",
                params={"targetType": "host", "limit": 100},
                timeout=30,
            ).json()
            mine = [s for s in page["items"] if s["scanId"] in scan_ids]
            if len(mine) == len(scan_ids) and all(s["status"] in TERMINAL for s in mine):
                for status in mine:
                    check(status)
                return mine
            if time.perf_counter() - began > timeout_s:
                raise SystemExit(f"the fleet did not finish in {timeout_s} s")
            time.sleep(FLEET_POLL_S)


def check(status: dict[str, Any]) -> None:
    if status["status"] != "completed" or status["results"]["errors"]:
        raise SystemExit(f"scan {status['scanId']} did not complete cleanly: {status}")


def ensure_ansible() -> Path:
    ansible = ANSIBLE_VENV / "bin" / "ansible"
    stamp = ANSIBLE_VENV / f".installed-{ANSIBLE_CORE}"
    if not stamp.exists():
        print(f"installing {ANSIBLE_CORE} into {ANSIBLE_VENV} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(ANSIBLE_VENV)], check=True)
        subprocess.run(
            [str(ANSIBLE_VENV / "bin" / "pip"), "install", "-q", ANSIBLE_CORE], check=True
        )
        stamp.touch()
    return ansible


def run_ansible(
    ansible: Path, servers: list[Sshd], key: Path, work: Path, subset: str | None = None
) -> float:
    """`ansible all -m setup` over the servers (host keys checked against a known_hosts file,
    no pty, as RUNTIME-FACTS.md notes a non-root sshd needs); wall seconds."""
    inventory = work / "inventory.ini"
    inventory.write_text(
        "[hosts]\n"
        + "".join(f"h{s.port} ansible_host=127.0.0.1 ansible_port={s.port}\n" for s in servers)
    )
    known_hosts = work / "known_hosts"
    known_hosts.write_text(
        "".join(
            f"[127.0.0.1]:{s.port} {' '.join(s.host_public_key.split()[:2])}\n" for s in servers
        )
    )
    env = {
        **os.environ,
        "ANSIBLE_SSH_USETTY": "False",
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_SSH_ARGS": f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes",
        "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
        "ANSIBLE_LOCAL_TEMP": str(work / "ansible-local"),
        "ANSIBLE_NOCOLOR": "1",
    }
    command = [
        str(ansible),
        "all",
        "-i",
        str(inventory),
        "-u",
        LOGIN_USER,
        "--private-key",
        str(key),
        "-f",
        str(max(5, len(servers))),
        "-m",
        "setup",
    ]
    if subset:
        command += ["-a", f"gather_subset={subset}"]
    began = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if result.returncode != 0 or result.stdout.count("SUCCESS") != len(servers):
        output = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        raise SystemExit(f"ansible failed ({result.returncode}):\n{output}")
    return seconds


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 3),
        "min": round(ordered[0], 3),
        "max": round(ordered[-1], 3),
        "p90": round(ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10, help="quick scans of the single host")
    parser.add_argument("--ansible-runs", type=int, default=3)
    parser.add_argument("--fleet", type=int, default=50)
    parser.add_argument("--no-ansible", action="store_true", help="skip the Ansible comparison")
    parser.add_argument(
        "--ansible-fleet",
        action="store_true",
        help="also time `ansible -f N -m setup` on the fleet",
    )
    add_store_argument(parser)
    args = parser.parse_args()

    ansible = None if args.no_ansible else ensure_ansible()
    before = load()
    servers: list[Sshd] = []
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        key = make_key(work / "id_ed25519")
        store = BenchStore(args.store, work)
        connection = store.start()
        api_key = "bench-" + uuid.uuid4().hex
        env = {
            "AzureWebJobsStorage": connection,
            "TASKHUB_NAME": "HostBench",
            "SCAN_STORAGE_PREFIX": "hostbench",
            "SCAN_API_KEYS": f"bench:admin:{api_key}",
            "SCAN_SCHEDULER_CRON": "0 0 0 1 1 *",
            "HISTORY_PURGE_CRON": "0 0 0 1 1 *",
            "SSH_PRIVATE_KEY_PATH": str(key),
            "SSH_DEFAULT_USERNAME": LOGIN_USER,
            "STANDALONE_LOG_LEVEL": os.environ.get("STANDALONE_LOG_LEVEL", "WARNING"),
        }
        host = HostProcess(ROOT, work / "host", env).start()
        try:
            client = Client(host.base_url, api_key)
            single = Sshd([public_key(key)]).start()
            servers.append(single)

            # 1. One host: the first scan (cold worker: imports, key load, first contact), then
            # warm runs; Ansible on the same sshd.
            first, status = client.quick_scan(single.port)
            runs = [client.quick_scan(single.port)[0] for _ in range(args.runs)]
            ansible_runs: list[float] = []
            ansible_min_runs: list[float] = []
            if ansible is not None:
                run_ansible(ansible, [single], key, work)  # warm-up (file caches, pyc)
                for _ in range(args.ansible_runs):
                    ansible_runs.append(run_ansible(ansible, [single], key, work))
                    ansible_min_runs.append(run_ansible(ansible, [single], key, work, "min"))

            # 2. The fleet: every host scanned at once.
            fleet = [Sshd([public_key(key)]).start() for _ in range(args.fleet)]
            servers += fleet
            before_fleet = load()
            with ThreadPoolExecutor(len(fleet)) as pool:
                began = time.perf_counter()
                began_at = time.time()
                scan_ids = set(pool.map(lambda s: client.trigger(s.port), fleet))
                triggered = time.perf_counter() - began
            done = client.watch(scan_ids)
            observed = time.perf_counter() - began
            ends = [datetime.fromisoformat(s["completedAt"]).timestamp() - began_at for s in done]
            fleet_seconds = max(ends)
            ansible_fleet = (
                run_ansible(ansible, fleet, key, work)
                if ansible is not None and args.ansible_fleet
                else None
            )
        except BaseException:
            print(host.log()[-6000:], file=sys.stderr)
            raise
        finally:
            host.stop()
            for server in servers:
                server.remove()
            store.stop()

    single_median = statistics.median(runs)
    result: dict[str, Any] = {
        "store": args.store,
        "measured": "single: POST /api/v1/scans until GET /api/v1/scans/{id} reads completed "
        f"(polled every {POLL_S} s); fleet: {args.fleet} concurrent POSTs until the last "
        f"scan's completedAt (watched through GET /api/v1/scans every {FLEET_POLL_S} s)",
        "single_quick_scan_s": {"first": round(first, 3), **summary(runs), "runs": len(runs)},
        "commands_per_scan": status["totalCommands"],
        "fleet": {
            "hosts": args.fleet,
            "wall_s": round(fleet_seconds, 3),
            "all_triggered_after_s": round(triggered, 3),
            "first_completed_after_s": round(min(ends), 3),
            "wall_observed_by_polling_s": round(observed, 3),
        },
    }
    met = {
        "single_le_1s": single_median <= TARGET_SINGLE_S,
        "fleet_le_15s": fleet_seconds <= TARGET_FLEET_S,
    }
    if ansible_fleet is not None:
        result["fleet"]["ansible_setup_wall_s"] = round(ansible_fleet, 3)
    if ansible_runs:
        ansible_median = statistics.median(ansible_runs)
        result["ansible_setup_s"] = {**summary(ansible_runs), "runs": len(ansible_runs)}
        result["ansible_setup_min_subset_s"] = summary(ansible_min_runs)
        result["ratio_single_vs_ansible"] = round(single_median / ansible_median, 3)
        met["single_le_half_ansible"] = single_median <= ansible_median / 2
    result["targets"] = {
        "single_quick_scan_s": TARGET_SINGLE_S,
        "single_vs_ansible_ratio": 0.5,
        "fleet_50_s": TARGET_FLEET_S,
    }
    result["checks"] = met
    result["met"] = all(met.values())
    result["machine"] = {"before": before, "before_fleet": before_fleet, "after": load()}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
