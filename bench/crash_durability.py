"""What survives when every process of the standalone host dies at once (SIGKILL of the host,
its Durable engine and workers, and Azurite when used), at several delays after the writes.

For each store and delay: a fresh data folder, the scan API on the standalone host, two
registrations (both answered 201), a pause of `delay` seconds, SIGKILL of everything, a restart
on the same data folder, and a count of the registrations still listed.
Prints JSON: per store, {delay: "kept/2"}; "met" is true when the embedded database (the
host's default) kept every acknowledged registration at every delay.
Run: `.venv/bin/python bench/crash_durability.py [--delays 0.5 1 2 3 4] [--store both]`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.bench_store import STORES, BenchStore  # noqa: E402
from tests.support.scan_api import Api, scan_api_env, start_api  # noqa: E402

REGISTRATIONS = 2


def kept_after_kill(kind: str, work: Path, delay: float) -> int:
    """How many of the acknowledged registrations a restart finds."""
    store = BenchStore(kind, work)
    env = scan_api_env(store.start(), STANDALONE_LOG_LEVEL="WARNING")
    host = start_api(work / "host", env)
    try:
        api = Api(host)
        for n in range(REGISTRATIONS):
            answer = api.post("/api/v1/synthetics", {"name": f"kept-{n}", "items": 1})
            if answer.status_code != 201:
                raise SystemExit(f"registration failed: {answer.status_code} {answer.text}")
        time.sleep(delay)
    finally:
        host.kill()  # the host's whole process group
        store.kill()
    store = BenchStore(kind, work)  # the same folder, as after a reboot
    env["AzureWebJobsStorage"] = store.start()
    host = start_api(work / "host", env, port=host.port)
    try:
        listed = Api(host).get("/api/v1/synthetics", params={"limit": 100})
        listed.raise_for_status()
        names = {target["id"] for target in listed.json()["items"]}
        return len(names & {f"kept-{n}" for n in range(REGISTRATIONS)})
    finally:
        host.stop()
        store.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delays", type=float, nargs="+", default=[0.5, 1, 2, 3, 4])
    parser.add_argument("--store", choices=[*STORES, "both"], default="both")
    args = parser.parse_args()
    stores = STORES if args.store == "both" else (args.store,)

    kept: dict[str, dict[str, str]] = {}
    for kind in stores:
        kept[kind] = {}
        for delay in args.delays:
            with tempfile.TemporaryDirectory() as temp:
                count = kept_after_kill(kind, Path(temp), delay)
            kept[kind][f"{delay:g}s"] = f"{count}/{REGISTRATIONS}"
    embedded = kept.get("embedded")
    report: dict[str, object] = {
        "benchmark": "crash_durability",
        "cpus": os.cpu_count(),
        "measured": "acknowledged registrations listed after SIGKILL of every process of the "
        "host `delay` seconds after the 201s and a restart on the same data folder",
        "kept": kept,
        "target": "the embedded database keeps every acknowledged registration at every delay",
        "met": embedded is not None
        and all(v == f"{REGISTRATIONS}/{REGISTRATIONS}" for v in embedded.values()),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
