"""Host scans end to end through the API, against Ansible fact gathering, on loopback sshd.

Starts the service (function_app.py on the standalone host, on its default embedded database
or, with `--store azurite`, on Azure Storage in an Azurite) and real OpenSSH servers
on 127.0.0.1 (own host keys, ports, authorized key; non-root login user), then measures:
1. one quick scan, POST /api/v1/scans until the scan reads `completed` (polling every 20 ms),
   several times on one host, against `ansible -m setup` (ansible-core, installed by this
   script in its own venv, .venv-ansible) on the same sshd in the same run;
2. fleets of N sshd instances (`--fleet 50 100 200 500`), each size on a fresh service and
   storage, all hosts quick-scanned at once through the API (N concurrent POSTs; the active
   scans watched as a dashboard would): from the first POST until the last scan's
   completedAt; how long the first scans took from their trigger to their completedAt while
   the rest of the fleet ran or waited its turn (on a started service: one host is scanned
   before each fleet); and the CPU seconds every process spent per scan (the service's
   front, engine and workers, Azurite, the sshd servers, this client).

Prints JSON. Targets: one quick scan <= 1.0 s end to end and <= half of Ansible's time; the
fleet of 50 <= 15 s; 500 hosts <= 30 s and at most 11 times the time of 50; the first scan
completed within 2 s of its trigger while its fleet runs.
Run: `.venv/bin/python bench/host_scan.py [--runs 10] [--fleet 50 100 200 500] [--ansible-runs 3]`.
Needs root (creates the login user) and openssh-server (`make host-scan-tools`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.usage import load_average, measured, wait_for_quiet  # noqa: E402
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
ACTIVE = ("queued", "pending", "running")
TARGET_SINGLE_S = 1.0
TARGET_FLEET_S = 15.0
TARGET_FLEET_500_S = 30.0
TARGET_GROWTH_500_VS_50 = 11.0
TARGET_FIRST_SCAN_S = 2.0


def load() -> dict[str, Any]:
    one, five, fifteen = (float(x) for x in Path("/proc/loadavg").read_text().split()[:3])
    return {"cpus": os.cpu_count(), "loadavg_1m": one, "loadavg_5m": five, "loadavg_15m": fifteen}


class Client:
    def __init__(self, base: str, key: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["X-API-Key"] = key
        # One connection per concurrent trigger: the fleet's POSTs go out all at once.
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=1000)
        self.session.mount("http://", adapter)

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

    def active(self) -> int:
        """How many host scans are queued, pending or running: what a fleet dashboard shows."""
        count = 0
        for status in ACTIVE:
            page = self.session.get(
                f"{self.base}/api/v1/scans",
                params={"targetType": "host", "status": status, "limit": 100},
                timeout=60,
            )
            if page.status_code == 400:
                continue  # a service that does not know this status yet (a run before it)
            count += len(page.json()["items"])
        return count

    def scans(self) -> list[dict[str, Any]]:
        """Every host scan, newest first (all pages)."""
        found: list[dict[str, Any]] = []
        token = None
        while True:
            params: dict[str, Any] = {"targetType": "host", "limit": 100}
            if token:
                params["continuationToken"] = token
            page = self.session.get(f"{self.base}/api/v1/scans", params=params, timeout=60)
            body = page.json()
            found += body["items"]
            token = body.get("continuationToken")
            if not token:
                return found

    def watch(self, scan_ids: set[str], timeout_s: float = 600) -> list[dict[str, Any]]:
        """Poll the active scans, as a fleet dashboard would, until none is left; then the
        final state of every scan of the fleet."""
        began = time.perf_counter()
        while self.active():
            if time.perf_counter() - began > timeout_s:
                raise SystemExit(f"the fleet did not finish in {timeout_s} s")
            time.sleep(FLEET_POLL_S)
        mine = [s for s in self.scans() if s["scanId"] in scan_ids]
        if len(mine) != len(scan_ids):
            raise SystemExit(f"{len(scan_ids) - len(mine)} scan(s) of the fleet are missing")
        for status in mine:
            check(status)
        return mine


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


def service_env(connection: str, key: Path, api_key: str, extra: list[str]) -> dict[str, str]:
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
    env.update(item.split("=", 1) for item in extra)  # type: ignore[arg-type]
    return env


def moment(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def run_fleet(
    client: Client, servers: list[Sshd], groups: dict[str, list[psutil.Process]]
) -> dict[str, Any]:
    """Every server quick-scanned at once; wall time, latencies and CPU per scan."""
    load_before = load_average()
    with (
        measured(groups, alone=frozenset({"bench_client"})) as usage,
        ThreadPoolExecutor(len(servers)) as pool,
    ):
        began = time.perf_counter()
        began_at = time.time()
        scan_ids = set(pool.map(lambda s: client.trigger(s.port), servers))
        triggered = time.perf_counter() - began
        done = client.watch(scan_ids)
        observed = time.perf_counter() - began
    ends = [moment(s["completedAt"]) - began_at for s in done]
    # Each scan's own wait: from its trigger (the record's createdAt) to its completedAt.
    by_trigger = sorted(done, key=lambda s: moment(s["createdAt"]))
    latency = [moment(s["completedAt"]) - moment(s["createdAt"]) for s in by_trigger]
    first_ten = latency[: max(1, len(latency) // 10)]
    cpu = usage.report()["cpu_seconds"]
    return {
        "hosts": len(servers),
        "wall_s": round(max(ends), 3),
        "all_triggered_after_s": round(triggered, 3),
        "first_completed_after_s": round(min(ends), 3),
        "first_triggered_scan_s": round(latency[0], 3),
        "scan_trigger_to_completed_s": {
            "first_tenth_max": round(max(first_ten), 3),
            **summary(latency),
        },
        "wall_observed_by_polling_s": round(observed, 3),
        "cpu_seconds_per_scan": {k: round(v / len(servers), 4) for k, v in cpu.items()},
        "cpu_seconds": cpu,
        "load_before": load_before,
        "load_after": load_average(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--runs", type=int, default=10, help="quick scans of the single host (0: skip)"
    )
    parser.add_argument("--ansible-runs", type=int, default=3)
    parser.add_argument("--fleet", type=int, nargs="+", default=[50], help="fleet sizes")
    parser.add_argument("--no-ansible", action="store_true", help="skip the Ansible comparison")
    parser.add_argument(
        "--ansible-fleet",
        action="store_true",
        help="also time `ansible -f N -m setup` on the first fleet",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a service setting"
    )
    parser.add_argument(
        "--max-load",
        type=float,
        default=None,
        help="before each fleet, wait (up to 10 minutes) for this 1-minute load average",
    )
    add_store_argument(parser)
    args = parser.parse_args()
    # A file descriptor per connection: hundreds of servers, POSTs and SSH sessions at once.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    ansible = None if args.no_ansible or args.runs == 0 else ensure_ansible()
    before = load()
    servers: list[Sshd] = []
    result: dict[str, Any] = {}
    checks: dict[str, bool] = {}
    fleets: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        key = make_key(work / "id_ed25519")
        api_key = "bench-" + uuid.uuid4().hex
        try:
            fleet = [Sshd([public_key(key)]).start() for _ in range(max(args.fleet))]
            servers += fleet
            # One host scanned before each fleet: the fleet meets a service that has started
            # (its worker has imported the engines), as a running service's users do.
            warm = Sshd([public_key(key)]).start()
            servers.append(warm)
            for index, size in enumerate([0, *args.fleet] if args.runs else args.fleet):
                store = BenchStore(args.store, work / f"store-{index}")
                env = service_env(store.start(), key, api_key, args.set)
                host = HostProcess(ROOT, work / f"host-{index}", env).start()
                try:
                    client = Client(host.base_url, api_key)
                    if size == 0:
                        single = Sshd([public_key(key)]).start()
                        servers.append(single)
                        result.update(single_host(client, single, args, ansible, key, work))
                        continue
                    client.quick_scan(warm.port)
                    if args.max_load is not None:
                        wait_for_quiet(args.max_load, 600)
                    assert host.process is not None
                    groups = {
                        "service": [psutil.Process(host.process.pid)],
                        **({"azurite": [psutil.Process(store.pid)]} if store.pid else {}),
                        "sshd": [psutil.Process(s.process.pid) for s in fleet[:size] if s.process],
                        "bench_client": [psutil.Process()],
                    }
                    fleets.append(run_fleet(client, fleet[:size], groups))
                    if args.ansible_fleet and ansible is not None and len(fleets) == 1:
                        fleets[0]["ansible_setup_wall_s"] = round(
                            run_ansible(ansible, fleet[:size], key, work), 3
                        )
                except BaseException:
                    print(host.log()[-6000:], file=sys.stderr)
                    raise
                finally:
                    host.stop()
                    store.stop()
        finally:
            for server in servers:
                server.remove()

    if "single_quick_scan_s" in result:
        checks["single_le_1s"] = result["single_quick_scan_s"]["median"] <= TARGET_SINGLE_S
    if "ratio_single_vs_ansible" in result:
        checks["single_le_half_ansible"] = result["ratio_single_vs_ansible"] <= 0.5
    by_size = {f["hosts"]: f for f in fleets}
    if 50 in by_size:
        checks["fleet_50_le_15s"] = by_size[50]["wall_s"] <= TARGET_FLEET_S
    if 500 in by_size:
        checks["fleet_500_le_30s"] = by_size[500]["wall_s"] <= TARGET_FLEET_500_S
    if 50 in by_size and 500 in by_size:
        growth = by_size[500]["wall_s"] / by_size[50]["wall_s"]
        result["growth_500_vs_50"] = round(growth, 2)
        checks["growth_500_vs_50_le_11"] = growth <= TARGET_GROWTH_500_VS_50
    for each in fleets:
        checks[f"fleet_{each['hosts']}_first_scan_le_2s"] = (
            each["first_triggered_scan_s"] <= TARGET_FIRST_SCAN_S
        )
    result["fleets"] = fleets
    result["measured"] = (
        f"single: POST /api/v1/scans until GET /api/v1/scans/{{id}} reads completed (polled "
        f"every {POLL_S} s); fleet: N concurrent POSTs until the last scan's completedAt (the "
        f"active scans watched through GET /api/v1/scans every {FLEET_POLL_S} s), each size on "
        "a fresh service and store; a scan's own time is its createdAt to its completedAt"
    )
    result["targets"] = {
        "single_quick_scan_s": TARGET_SINGLE_S,
        "single_vs_ansible_ratio": 0.5,
        "fleet_50_s": TARGET_FLEET_S,
        "fleet_500_s": TARGET_FLEET_500_S,
        "growth_500_vs_50": TARGET_GROWTH_500_VS_50,
        "first_scan_s": TARGET_FIRST_SCAN_S,
    }
    result["store"] = args.store
    result["checks"] = checks
    result["met"] = all(checks.values())
    result["machine"] = {"before": before, "after": load()}
    print(json.dumps(result, indent=2))


def single_host(
    client: Client,
    single: Sshd,
    args: argparse.Namespace,
    ansible: Path | None,
    key: Path,
    work: Path,
) -> dict[str, Any]:
    """One host: the first scan (cold worker: imports, key load, first contact), then warm
    runs; Ansible on the same sshd."""
    first, status = client.quick_scan(single.port)
    runs = [client.quick_scan(single.port)[0] for _ in range(args.runs)]
    result: dict[str, Any] = {
        "single_quick_scan_s": {"first": round(first, 3), **summary(runs), "runs": len(runs)},
        "commands_per_scan": status["totalCommands"],
    }
    if ansible is not None:
        run_ansible(ansible, [single], key, work)  # warm-up (file caches, pyc)
        ansible_runs: list[float] = []
        ansible_min_runs: list[float] = []
        for _ in range(args.ansible_runs):
            ansible_runs.append(run_ansible(ansible, [single], key, work))
            ansible_min_runs.append(run_ansible(ansible, [single], key, work, "min"))
        result["ansible_setup_s"] = {**summary(ansible_runs), "runs": len(ansible_runs)}
        result["ansible_setup_min_subset_s"] = summary(ansible_min_runs)
        result["ratio_single_vs_ansible"] = round(
            statistics.median(runs) / statistics.median(ansible_runs), 3
        )
    return result


if __name__ == "__main__":
    main()
