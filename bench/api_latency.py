"""API latency under load: 200 scan triggers on 200 distinct targets from 20 concurrent
clients; each client triggers a scan, polls its status until it ends, then takes the next.

Runs the service's blueprints (plus the tests' synthetic target kind, one no-op item per scan)
on the standalone host, on its default embedded database or (`--store azurite`) on Azure
Storage in an Azurite, all on this machine. Prints JSON with p50/p99 per endpoint, then the
latency of one burst of simultaneous triggers on a quiet service, and where the CPU went while
measuring (service, Azurite when used, clients; all share this machine's cores).
Targets: POST p99 <= 150 ms, GET p99 <= 50 ms.
Run: `.venv/bin/python bench/api_latency.py [--targets 200] [--clients 20] [--store azurite]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.bench_store import BenchStore, add_store_argument  # noqa: E402
from tests.support.scan_api import API_KEY, scan_api_env, start_api  # noqa: E402

# A dashboard polls every second or two; poll five times faster to load the service more.
POLL_INTERVAL_S = 0.2


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def trigger(base: str, target: str) -> float:
    """One trigger on its own: its latency in seconds."""
    began = time.perf_counter()
    answer = requests.post(
        f"{base}/api/v1/scans",
        json={"targetType": "synthetic", "name": target, "items": 1, "itemDelayMs": 0},
        headers={"X-API-Key": API_KEY},
        timeout=30,
    )
    if answer.status_code != 202:
        raise SystemExit(f"trigger failed: {answer.status_code} {answer.text}")
    return time.perf_counter() - began


def client(base: str, targets: list[str]) -> tuple[list[float], list[float], int]:
    """One dashboard user: trigger a scan, poll it until it ends, then the next target."""
    session = requests.Session()
    session.headers["X-API-Key"] = API_KEY
    posts: list[float] = []
    gets: list[float] = []
    completed = 0
    for target in targets:
        began = time.perf_counter()
        answer = session.post(
            f"{base}/api/v1/scans",
            json={"targetType": "synthetic", "name": target, "items": 1, "itemDelayMs": 0},
            timeout=30,
        )
        posts.append(time.perf_counter() - began)
        if answer.status_code != 202:
            raise SystemExit(f"trigger failed: {answer.status_code} {answer.text}")
        scan_id = answer.json()["scanId"]
        while True:
            time.sleep(POLL_INTERVAL_S)
            began = time.perf_counter()
            answer = session.get(f"{base}/api/v1/scans/{scan_id}", timeout=30)
            gets.append(time.perf_counter() - began)
            status = answer.json()["status"]
            if status in ("completed", "failed", "cancelled"):
                completed += status == "completed"
                break
    return posts, gets, completed


def cpu_seconds(process: psutil.Process | None, with_children: bool = True) -> float:
    """CPU time of a process (and its living descendants) so far."""
    if process is None:
        return 0.0
    processes = [process, *(process.children(recursive=True) if with_children else [])]
    total = 0.0
    for each in processes:
        try:
            times = each.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def summary(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {
        "count": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p90_ms": round(percentile(ms, 0.90), 1),
        "p99_ms": round(percentile(ms, 0.99), 1),
        "max_ms": round(max(ms), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    add_store_argument(parser)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        store = BenchStore(args.store, work)
        env = scan_api_env(store.start(), STANDALONE_LOG_LEVEL="WARNING")
        host = start_api(work / "host", env)
        try:
            run = uuid.uuid4().hex[:6]
            # Warm-up (not measured): first calls create tables, clients and worker imports.
            warm = [f"warm-{run}-{i}" for i in range(args.clients)]
            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(lambda name: client(host.base_url, [name]), warm))
            names = [f"bench-{run}-{i}" for i in range(args.targets)]
            shares = [names[i :: args.clients] for i in range(args.clients)]
            # Where the CPU goes while measuring: the service (front, engine, workers),
            # Azurite when used and these clients all share this machine's cores.
            assert host.process is not None
            service = psutil.Process(host.process.pid)
            storage = None if store.pid is None else psutil.Process(store.pid)
            me = psutil.Process()
            before = (cpu_seconds(service), cpu_seconds(storage), cpu_seconds(me, False))
            began = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                outcomes = list(pool.map(lambda share: client(host.base_url, share), shares))
            wall = time.perf_counter() - began
            after = (cpu_seconds(service), cpu_seconds(storage), cpu_seconds(me, False))
            time.sleep(2)  # let the last scans finish: the burst below meets a quiet service
            burst = [f"burst-{run}-{i}" for i in range(args.clients)]
            with ThreadPoolExecutor(args.clients) as pool:
                burst_posts = list(pool.map(lambda name: trigger(host.base_url, name), burst))
        finally:
            host.stop()
            store.stop()

    posts = [v for o in outcomes for v in o[0]]
    gets = [v for o in outcomes for v in o[1]]
    post_stats, get_stats = summary(posts), summary(gets)
    report = {
        "benchmark": "api_latency",
        "cpus": os.cpu_count(),
        "store": args.store,
        "targets": args.targets,
        "clients": args.clients,
        "scans_completed": sum(o[2] for o in outcomes),
        "wall_seconds": round(wall, 2),
        "POST /api/v1/scans": post_stats,
        "GET /api/v1/scans/{scanId}": get_stats,
        # Every client triggering at the same moment on a quiet service (as at the start of
        # the run): how long the last of them waits.
        "burst_of_concurrent_posts": summary(burst_posts),
        "cpu_seconds": {
            "service": round(after[0] - before[0], 2),
            "azurite": round(after[1] - before[1], 2) if storage is not None else None,
            "clients": round(after[2] - before[2], 2),
            "busy_fraction_of_all_cores": round(
                (sum(after) - sum(before)) / (wall * (os.cpu_count() or 1)), 2
            ),
        },
        "targets_ms": {"post_p99_max": 150, "get_p99_max": 50},
        "met": post_stats["p99_ms"] <= 150 and get_stats["p99_ms"] <= 50,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
