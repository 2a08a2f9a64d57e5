"""Full host scans of servers that limit sessions, end to end through the API, against a stock
OpenSSH in the same run.

Starts Azurite, the service (function_app.py on the standalone host) and four SSH servers on
127.0.0.1, all serving this machine: a stock OpenSSH (`MaxSessions` 10), OpenSSH with
`MaxSessions 2` and with `MaxSessions 1`, and Dropbear whose sessions see only BusyBox (what
routers, NAS boxes and appliances run). Each gets N (default 20) full scans one after the
other (POST /api/v1/scans, polled until it ends); then N scans of the Dropbear two at a time,
through two names of it (`localhost` and `127.0.0.1`: two targets, two connections).

Counts, per server: scans that did not complete, commands lost (planned but not `passed`),
scans whose facts are not this machine's (hostname, kernel, uptime, disk, memory, packages,
processes, interfaces, held against what this process reads locally), the channels the
server refused and the scans took again (`sessionRefusals`, the first scan's apart: it
learns the limit); and the full scan's wall time.

Prints JSON. Targets: no command lost and every fact true in every scan; a full scan of a
session-limited server (median) within 2x the stock OpenSSH's.
Run: `.venv/bin/python bench/small_devices.py [--runs 20]`.
Needs root (creates the login user, Dropbear's mount namespace) and openssh-server,
dropbear-bin, busybox (`make host-scan-tools`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.host_scan import load, summary  # noqa: E402
from standalone.azurite import Azurite  # noqa: E402
from tests.support.dropbear import Dropbear  # noqa: E402
from tests.support.machine_facts import check_full_facts  # noqa: E402
from tests.support.scan_api import API_KEY, scan_api_env, start_api  # noqa: E402
from tests.support.sshd import LOGIN_USER, Sshd, make_key, public_key  # noqa: E402

TERMINAL = ("completed", "failed", "cancelled")
POLL_S = 0.02
TARGET_RATIO = 2.0


def full_scan(base: str, hostname: str, port: int) -> tuple[float, dict[str, Any]]:
    """Seconds from POST to an ended scan, and the scan with its items."""
    headers = {"X-API-Key": API_KEY}
    began = time.perf_counter()
    answer = requests.post(
        f"{base}/api/v1/scans",
        json={"targetType": "host", "hostname": hostname, "port": port, "scanType": "full"},
        headers=headers,
        timeout=60,
    )
    if answer.status_code != 202:
        raise SystemExit(f"trigger failed: {answer.status_code} {answer.text}")
    url = f"{base}/api/v1/scans/{answer.json()['scanId']}"
    while True:
        status = requests.get(url, headers=headers, timeout=30).json()
        if status["status"] in TERMINAL:
            break
        if time.perf_counter() - began > 180:
            raise SystemExit(f"scan of {hostname}:{port} did not end: {status}")
        time.sleep(POLL_S)
    seconds = time.perf_counter() - began
    detailed = requests.get(url, params={"include": "items"}, headers=headers, timeout=30)
    return seconds, detailed.json()


def facts_true(scan: dict[str, Any]) -> bool:
    try:
        check_full_facts(scan["results"])
    except (AssertionError, KeyError, TypeError):
        return False
    return True


def tally(scans: list[tuple[float, dict[str, Any]]]) -> dict[str, Any]:
    planned = sum(int(s["totalCommands"] or 0) for _, s in scans)
    passed = sum(sum(i["status"] == "passed" for i in s.get("items") or []) for _, s in scans)
    refusals = [int(s["counters"].get("sessionRefusals") or 0) for _, s in scans]
    return {
        "scans": len(scans),
        "not_completed": sum(s["status"] != "completed" for _, s in scans),
        "commands_planned": planned,
        "commands_lost": planned - passed,
        "facts_wrong": sum(not facts_true(s) for _, s in scans),
        "session_refusals_first_scan": refusals[0],
        "session_refusals_later_scans": sum(refusals[1:]),
        "full_scan_s": summary([seconds for seconds, _ in scans]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20, help="full scans per server")
    args = parser.parse_args()

    before = load()
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
            OSV_ENRICHMENT="false",  # the sessions are measured, not the CVE look-up
        )
        host = start_api(work / "host", env)
        stack.callback(host.stop)
        authorized = public_key(key)
        servers = {
            "openssh": stack.enter_context(Sshd([authorized])).port,
            "openssh_max_sessions_2": stack.enter_context(
                Sshd([authorized], extra_config=("MaxSessions 2",))
            ).port,
            "openssh_max_sessions_1": stack.enter_context(
                Sshd([authorized], extra_config=("MaxSessions 1",))
            ).port,
            "dropbear_busybox": stack.enter_context(Dropbear(authorized)).port,
        }
        results: dict[str, Any] = {}
        try:
            for name, port in servers.items():
                scans = [full_scan(host.base_url, "127.0.0.1", port) for _ in range(args.runs)]
                results[name] = tally(scans)
            port = servers["dropbear_busybox"]
            with ThreadPoolExecutor(2) as pool:
                began = time.perf_counter()
                halves = pool.map(
                    lambda name: [
                        full_scan(host.base_url, name, port) for _ in range(args.runs // 2)
                    ],
                    ["localhost", "127.0.0.1"],
                )
                together = [scan for half in halves for scan in half]
                wall = time.perf_counter() - began
            results["dropbear_busybox_two_targets_at_once"] = {
                **tally(together),
                "wall_s": round(wall, 3),
            }
        except BaseException:
            print(host.log()[-6000:], file=sys.stderr)
            raise

    stock = results["openssh"]["full_scan_s"]["median"]
    limited = ("openssh_max_sessions_2", "openssh_max_sessions_1", "dropbear_busybox")
    ratios = {name: round(results[name]["full_scan_s"]["median"] / stock, 3) for name in limited}
    every = list(results.values())
    checks = {
        "no_command_lost": all(r["commands_lost"] == 0 and r["not_completed"] == 0 for r in every),
        "every_fact_true": all(r["facts_wrong"] == 0 for r in every),
        "limited_within_2x_stock": all(ratio <= TARGET_RATIO for ratio in ratios.values()),
    }
    print(
        json.dumps(
            {
                "measured": "full scans, POST /api/v1/scans until the scan ended (polled every "
                f"{POLL_S} s), {args.runs} per server one after the other, then {args.runs} "
                "of the Dropbear two at a time under two names",
                "servers": results,
                "median_vs_stock_openssh": ratios,
                "targets": {"commands_lost": 0, "facts_wrong": 0, "ratio": TARGET_RATIO},
                "checks": checks,
                "met": all(checks.values()),
                "machine": {"before": before, "after": load()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
