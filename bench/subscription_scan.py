"""Subscription scan of a generated tenant, end to end through the HTTP API.

Starts Azurite, the fake Entra ID / ARM + Resource Graph / Microsoft Graph / OSV TLS servers
(tests/support/azure_fakes) and the standalone host running function_app.py, then for each
tenant size triggers `POST /api/scans/trigger`, polls `GET /api/v1/scans/{id}` until the scan
ends, and counts the HTTP requests each fake service received (retries included).

Prints JSON: {"runs": [{"resources", "users", "seconds", "requests", ...}], "growth", "met"}.
Targets: the 10,000-resource / 5,000-user tenant in at most 60 s end to end; requests grow with
pages (1000 Resource Graph rows; Graph: 120 users with sign-in activity, 999 other objects a
page), not with resources or users: the
smaller tenant that runs first shows it. The OSV cache is off (OSV_CACHE_TTL_HOURS=0) so that
OSV requests are counted in every run.
Run: `.venv/bin/python bench/subscription_scan.py [--sizes 1000:500 10000:5000]`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from standalone.azurite import Azurite  # noqa: E402
from tests.support.azure_fakes import FakeAzure, generated_tenant  # noqa: E402
from tests.support.host_process import HostProcess  # noqa: E402

TARGET_SECONDS = 60.0
KEY = "bench-" + uuid.uuid4().hex


def scan(
    host: HostProcess, subscription: str, timeout: float = 600.0
) -> tuple[float, dict[str, Any]]:
    headers = {"X-API-Key": KEY}
    began = time.perf_counter()
    response = requests.post(
        host.base_url + "/api/scans/trigger",
        json={"subscriptionId": subscription},
        headers=headers,
        timeout=60,
    )
    if response.status_code != 202:
        raise SystemExit(f"trigger failed: {response.status_code} {response.text}")
    url = response.json()["statusUrl"]
    while True:
        status = requests.get(url, headers=headers, timeout=60).json()
        if status["status"] in ("completed", "failed", "cancelled"):
            return time.perf_counter() - began, status
        if time.perf_counter() - began > timeout:
            raise SystemExit(f"scan still {status['status']} after {timeout}s")
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--sizes", nargs="+", default=["1000:500", "10000:5000"], help="resources:users, in order"
    )
    args = parser.parse_args()
    sizes = [tuple(int(x) for x in s.split(":")) for s in args.sizes]
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        first = generated_tenant(*sizes[0])
        fake = FakeAzure(first, work / "fake")
        azurite = Azurite(work / "azurite")
        connection = azurite.start()
        env = {
            "AzureWebJobsStorage": connection,
            "TASKHUB_NAME": "BenchSub",
            "SCAN_API_KEYS": f"bench:admin:{KEY}",
            "SCAN_SCHEDULER_CRON": "0 0 0 1 1 *",
            "HISTORY_PURGE_CRON": "0 0 0 1 1 *",
            "STANDALONE_LOG_LEVEL": os.environ.get("STANDALONE_LOG_LEVEL", "WARNING"),
            "OSV_CACHE_TTL_HOURS": "0",
            **fake.env(),
        }
        host = HostProcess(ROOT, work / "host", env).start()
        runs = []
        try:
            for index, (resources, users) in enumerate(sizes):
                tenant = first if index == 0 else generated_tenant(resources, users)
                fake.use(tenant)
                fake.reset_counts()
                seconds, status = scan(host, tenant.subscription_id)
                counts = fake.counts()
                runs.append(
                    {
                        "resources": resources,
                        "users": users,
                        "seconds": round(seconds, 2),
                        "status": status["status"],
                        "error": status.get("errorMessage"),
                        "totalRules": status["counters"].get("totalRules"),
                        "resourcesCollected": status["counters"].get("resourcesCollected"),
                        "usersCollected": status["counters"].get("usersCollected"),
                        "findings": status["counters"].get("findings"),
                        "requests": counts,
                        "requestsTotal": sum(counts.values()),
                        "pagesOfData": {
                            "resourceGraphRows/1000": math.ceil(resources / 1000),
                            "users/120": math.ceil(users / 120),
                            "registrationDetails/999": math.ceil(users / 999),
                        },
                    }
                )
        finally:
            host.stop()
            fake.stop()
            azurite.stop()

    report: dict[str, Any] = {
        "benchmark": "subscription_scan",
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "note": "runs are sequential on one host; the first also pays the worker's imports",
        "runs": runs,
        "targets": {"seconds_max_10000_resources_5000_users": TARGET_SECONDS},
    }
    if len(runs) >= 2:
        small, large = runs[0], runs[-1]
        report["growth"] = {
            "resources_x": round(large["resources"] / small["resources"], 1),
            "users_x": round(large["users"] / small["users"], 1),
            "requests_x": {
                k: round(large["requests"][k] / small["requests"][k], 2)
                for k in large["requests"]
                if small["requests"].get(k)
            },
        }
    big = [r for r in runs if r["resources"] >= 10_000 and r["users"] >= 5_000]
    report["met"] = bool(big) and all(
        r["status"] == "completed" and r["seconds"] <= TARGET_SECONDS for r in big
    )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
