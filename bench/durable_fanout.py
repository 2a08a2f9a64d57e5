"""Fan-out/fan-in of N no-op activities on the standalone host, end to end through HTTP.

Prints JSON: {"results": [{"n", "seconds", "activities_per_s"}, ...], "ratio", "targets", "met"}.
Targets (2 cores): 1000 activities in at most 10 s, time(1000)/time(100) at most 12.
Run: `.venv/bin/python bench/durable_fanout.py [--sizes 100 1000] [--repeat 1]
[--store embedded|azurite]` (the host's default database, or Azure Storage on Azurite).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.bench_store import BenchStore, add_store_argument  # noqa: E402
from tests.support.host_process import HostProcess  # noqa: E402

DEMO_APP = ROOT / "tests" / "apps" / "durable_demo"


def run_fan_out(host: HostProcess, n: int) -> float:
    began = time.perf_counter()
    started = host.post("/api/start/fan_out", json={"n": n})
    started.raise_for_status()
    status_url = started.json()["statusQueryGetUri"]
    while True:
        response = requests.get(status_url, timeout=30)
        if response.status_code != 202:
            break
        time.sleep(0.01)
    seconds = time.perf_counter() - began
    body = response.json()
    if body["runtimeStatus"] != "Completed" or body["output"]["sum"] != sum(
        i * i for i in range(n)
    ):
        raise SystemExit(f"fan-out of {n} did not complete correctly: {body['runtimeStatus']}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; the best is kept")
    add_store_argument(parser)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        store = BenchStore(args.store, work)
        connection = store.start()
        env = {
            "AzureWebJobsStorage": connection,
            "TASKHUB_NAME": "BenchHub",
            "DEMO_SCRATCH_DIR": str(work / "scratch"),
            "TICK_SCHEDULE": "0 0 0 1 1 *",  # keep the demo's timer out of the measurement
            "STANDALONE_LOG_LEVEL": os.environ.get("STANDALONE_LOG_LEVEL", "WARNING"),
        }
        host = HostProcess(DEMO_APP, work / "host", env).start()
        try:
            run_fan_out(host, 10)  # warm-up: imports, tables, connections
            results = []
            for n in args.sizes:
                seconds = min(run_fan_out(host, n) for _ in range(args.repeat))
                results.append(
                    {
                        "n": n,
                        "seconds": round(seconds, 3),
                        "activities_per_s": round(n / seconds, 1),
                    }
                )
        finally:
            host.stop()
            store.stop()

    by_n = {r["n"]: r["seconds"] for r in results}
    report: dict[str, object] = {
        "benchmark": "durable_fanout",
        "cpus": os.cpu_count(),
        "store": args.store,
        "results": results,
    }
    if 100 in by_n and 1000 in by_n:
        ratio = by_n[1000] / by_n[100]
        report["ratio_1000_to_100"] = round(ratio, 2)
        report["targets"] = {"seconds_1000_max": 10, "ratio_max": 12}
        report["met"] = by_n[1000] <= 10 and ratio <= 12
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
