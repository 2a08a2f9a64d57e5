"""Subscription scan of a generated tenant, end to end through the HTTP API.

Starts Azurite, the fake Entra ID / ARM + Resource Graph / Microsoft Graph / OSV TLS servers
(tests/support/azure_fakes) and the standalone host running function_app.py, then for each
tenant size triggers `POST /api/scans/trigger`, polls `GET /api/v1/scans/{id}` until the scan
ends, and counts the HTTP requests each fake service received (retries included).

Prints JSON: {"runs": [{"resources", "users", "seconds", "requests", ...}], "growth", "rules",
"cisCoverage", "met"}. `rules` is the number of rules in the catalogue; `cisCoverage` how much of
the CIS Azure Foundations v3.0.0 benchmark they check (controls with at least one rule out of
all, and among the automated ones). Each run also times the scan's compliance view
(`/report?framework=cis-azure`) and gives its totals.
Each run also reports the peak resident memory of every process (the host with its engine and
workers, Azurite, this process with the fakes), sampled every 0.2 s.
Targets: the 10,000-resource / 5,000-user tenant in at most 60 s end to end; when measured, the
100,000-resource / 50,000-user tenant in at most 40 s, at most 12 times the 10,000 one, with
the peak memory of all processes under 2 GB; requests grow with
pages (1000 Resource Graph rows; Graph: 120 users with sign-in activity, 999 other objects a
page), not with resources or users: the
smaller tenant that runs first shows it. The OSV cache is off (OSV_CACHE_TTL_HOURS=0) so that
OSV requests are counted in every run.
Run: `.venv/bin/python bench/subscription_scan.py [--sizes 10000:5000 30000:15000 100000:50000]`.
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

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.usage import measured  # noqa: E402
from scanner.subscription.compliance import coverage  # noqa: E402
from scanner.subscription.frameworks import cis_azure  # noqa: E402
from scanner.subscription.rules import all_rules  # noqa: E402
from standalone.azurite import Azurite  # noqa: E402
from tests.support.azure_fakes import FakeAzure, generated_tenant  # noqa: E402
from tests.support.host_process import HostProcess  # noqa: E402

TARGET_SECONDS = 60.0
TARGET_100K_SECONDS = 40.0
TARGET_GROWTH_100K_VS_10K = 12.0
TARGET_PEAK_MB = 2048
MEMORY_SAMPLE_S = 0.2
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


def compliance_view(host: HostProcess, scan_id: str) -> dict[str, Any]:
    """The scan's CIS Azure view: how long it took to answer, and its totals."""
    began = time.perf_counter()
    response = requests.get(
        f"{host.base_url}/api/v1/scans/{scan_id}/report",
        params={"format": "json", "framework": "cis-azure"},
        headers={"X-API-Key": KEY},
        timeout=120,
    )
    seconds = time.perf_counter() - began
    if response.status_code != 200:
        return {"status": response.status_code, "error": response.text[:500]}
    return {"seconds": round(seconds, 3), "totals": response.json()["totals"]}


def cis_coverage() -> dict[str, Any]:
    covered = coverage(cis_azure(), all_rules().values())
    return {
        **covered,
        "controlsRatio": round(covered["controlsCovered"] / covered["controls"], 3),
        "automatedRatio": round(covered["automatedCovered"] / covered["automatedControls"], 3),
    }


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
                assert host.process is not None and azurite.process is not None
                groups = {
                    "service": [psutil.Process(host.process.pid)],
                    "azurite": [psutil.Process(azurite.process.pid)],
                    "bench_and_fakes": [psutil.Process()],
                }
                with measured(groups, MEMORY_SAMPLE_S, frozenset({"bench_and_fakes"})) as usage:
                    seconds, status = scan(host, tenant.subscription_id)
                counts = fake.counts()
                runs.append(
                    {
                        "resources": resources,
                        "users": users,
                        "seconds": round(seconds, 2),
                        **usage.report(),
                        "status": status["status"],
                        "error": status.get("errorMessage"),
                        "totalRules": status["counters"].get("totalRules"),
                        "resourcesCollected": status["counters"].get("resourcesCollected"),
                        "usersCollected": status["counters"].get("usersCollected"),
                        "findings": status["counters"].get("findings"),
                        "complianceView": compliance_view(host, status["scanId"]),
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
        "rules": len(all_rules()),
        "cisCoverage": cis_coverage(),
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
    checks = {
        "completed": all(r["status"] == "completed" for r in runs),
        "10k_le_60s": bool(big) and big[0]["seconds"] <= TARGET_SECONDS,
    }
    by_size = {r["resources"]: r for r in runs}
    if 100_000 in by_size:
        largest = by_size[100_000]
        checks["100k_le_40s"] = largest["seconds"] <= TARGET_100K_SECONDS
        checks["100k_peak_memory_lt_2gb"] = largest["peak_rss_mb"]["all"] < TARGET_PEAK_MB
        if 10_000 in by_size:
            growth = largest["seconds"] / by_size[10_000]["seconds"]
            report["time_100k_vs_10k"] = round(growth, 2)
            checks["100k_vs_10k_le_12"] = growth <= TARGET_GROWTH_100K_VS_10K
    report["targets"].update(
        {
            "seconds_max_100000_resources_50000_users": TARGET_100K_SECONDS,
            "time_100k_vs_10k_max": TARGET_GROWTH_100K_VS_10K,
            "peak_memory_mb_below": TARGET_PEAK_MB,
        }
    )
    report["checks"] = checks
    report["met"] = all(checks.values())
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
