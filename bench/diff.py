"""Scan-to-scan comparison at size, end to end: GET /api/v1/scans/{id}/diff on the service.

Starts Azurite and the service (function_app.py on the standalone host), then makes two pairs
of real scans through the API:
- host: an sshd on loopback whose package database (a fake dpkg-query behind a ForceCommand
  wrapper) lists 5,000 packages, full-scanned twice; between the scans 100 packages go, 100 come
  and 250 change version;
- repository: a generated Git repository of 10,000 GxP documents (1,000 REQ / 4,000 US /
  3,000 SPEC / 2,000 TC), scanned twice; in the commit between, 200 stories change their
  validation status, 50 requirements are added and 50 tests removed.
Measured: the diff of the second scan against the previous one, from sending the request to
having read the whole JSON answer: the first request (the service process loads the comparison
code then), the median of warm runs (judged against the target), and the SARIF form; and the
CPU the service and the storage emulator spent per warm request (the machine is shared, so wall
times move with its load).
Target: each comparison under 1 s end to end. Prints one JSON document with "met".
Run: `.venv/bin/python bench/diff.py [--runs 5]`. Needs root (sshd login user) and sshd.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api_latency import cpu_seconds  # noqa: E402
from standalone.azurite import Azurite  # noqa: E402
from tests.support.changing_host import BOOKWORM, changing_host, report  # noqa: E402
from tests.support.git_repos import GitRepo, generated_tree, requirement  # noqa: E402
from tests.support.host_process import HostProcess  # noqa: E402
from tests.support.scan_api import API_KEY, scan_api_env  # noqa: E402
from tests.support.sshd import LOGIN_USER, make_key, public_key  # noqa: E402

TARGET_S = 1.0
PACKAGES = 5_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class Client:
    def __init__(self, base: str, key: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["X-API-Key"] = key

    def scan(self, path: str, body: dict[str, Any], timeout_s: float = 600) -> dict[str, Any]:
        answer = self.session.post(self.base + path, json=body, timeout=60)
        answer.raise_for_status()
        scan_id = answer.json()["scanId"]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status: dict[str, Any] = self.session.get(
                f"{self.base}/api/v1/scans/{scan_id}", timeout=60
            ).json()
            if status["status"] in ("completed", "failed", "cancelled"):
                if status["status"] != "completed":
                    raise RuntimeError(f"scan {scan_id} {status['status']}: {status}")
                return status
            time.sleep(0.2)
        raise RuntimeError(f"scan {scan_id} did not finish in {timeout_s} s")

    def timed_diff(self, scan_id: str, fmt: str = "json") -> tuple[float, int, Any]:
        began = time.perf_counter()
        answer = self.session.get(
            f"{self.base}/api/v1/scans/{scan_id}/diff", params={"format": fmt}, timeout=60
        )
        body = answer.content
        elapsed = time.perf_counter() - began
        answer.raise_for_status()
        return elapsed, len(body), answer.json() if fmt in ("json", "sarif") else None


def packages(count: int, changed: int = 0) -> dict[str, str]:
    """`count` packages; with `changed`, the second scan's database (see the docstring)."""
    listed = {f"pkg-{n:05d}": f"1.{n % 7}.{n % 11}-{1 + n % 3}" for n in range(count)}
    if changed:
        for n in range(100):
            del listed[f"pkg-{n:05d}"]
        for n in range(100):
            listed[f"new-{n:05d}"] = "0.1-1"
        for n in range(1000, 1000 + 250):
            listed[f"pkg-{n:05d}"] += "+deb12u1"
    return listed


def measure(
    client: Client, scan_id: str, runs: int, processes: dict[str, psutil.Process]
) -> dict[str, Any]:
    first, size, document = client.timed_diff(scan_id)
    before = {name: cpu_seconds(process) for name, process in processes.items()}
    warm = [client.timed_diff(scan_id)[0] for _ in range(runs)]
    cpu = {name: cpu_seconds(p) - before[name] for name, p in processes.items()}
    sarif, sarif_size, _ = client.timed_diff(scan_id, "sarif")
    return {
        "first_s": round(first, 3),
        "median_s": round(statistics.median(warm), 3),
        "max_s": round(max(warm), 3),
        "runs": runs,
        # CPU per warm request: what the wall time would be on an idle machine, roughly.
        "cpu_s_per_request": {name: round(value / runs, 3) for name, value in cpu.items()},
        "sarif_s": round(sarif, 3),
        "answer_bytes": size,
        "sarif_bytes": sarif_size,
        "findings": document["findings"]["counts"],
        "_document": document,
    }


def host_pair(
    client: Client, key: Path, runs: int, processes: dict[str, psutil.Process]
) -> dict[str, Any]:
    server = changing_host([public_key(key)]).start()
    try:
        body = {"targetType": "host", "hostname": "127.0.0.1", "port": server.port}
        body["scanType"] = "full"
        report(server, BOOKWORM, packages(PACKAGES))
        log("host: first full scan (5,000 packages)")
        client.scan("/api/v1/scans", body)
        report(server, BOOKWORM, packages(PACKAGES, changed=1))
        log("host: second full scan")
        second = client.scan("/api/v1/scans", body)
    finally:
        server.remove()
    result = measure(client, second["scanId"], runs, processes)
    delta = result.pop("_document")["facts"]["packages"]["counts"]
    result["packages"] = delta
    result["correct"] = (delta["added"], delta["removed"], delta["upgraded"]) == (100, 100, 250)
    return result


def repository_pair(
    client: Client, work: Path, runs: int, processes: dict[str, psutil.Process]
) -> dict[str, Any]:
    log("repository: generating 10,000 documents")
    files = generated_tree()
    repo = GitRepo(work / "gxp")
    # 10,000 loose objects would start a background `git gc` that packs them while a scan reads.
    repo.git("config", "gc.auto", "0")
    for relative, text in files.items():
        repo.write(relative, text)
    repo.commit("generated GxP documents")
    registered = client.session.post(
        client.base + "/api/v1/repositories",
        json={"name": "bench-diff", "url": str(repo.path), "defaultBranch": "main"},
        timeout=60,
    )
    registered.raise_for_status()
    path = f"/api/v1/repositories/{registered.json()['id']}/scan"
    log("repository: first scan")
    client.scan(path, {})
    stories = sorted(p for p in files if p.startswith("stories/"))[:200]
    for relative in stories:
        repo.write(relative, files[relative].replace("VALIDATED", "IN_REVIEW"))
    for n in range(50):
        repo.write(f"reqs/REQ-9{n:03d}.md", requirement(f"REQ-9{n:03d}"))
    for relative in sorted(p for p in files if p.startswith("tests/"))[:50]:
        repo.remove(relative)
    repo.commit("200 stories back in review, 50 new requirements, 50 tests retired")
    log("repository: second scan")
    second = client.scan(path, {})
    result = measure(client, second["scanId"], runs, processes)
    facts = result.pop("_document")["facts"]
    counts = facts["artifacts"]["counts"]
    result["artifacts"] = counts
    result["commits_between"] = facts["commits"]["count"]
    result["correct"] = (counts["added"], counts["removed"], counts["changed"]) == (50, 50, 200)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="warm diff requests per pair")
    args = parser.parse_args()
    out: dict[str, Any] = {
        "benchmark": "diff",
        "measured": "GET /api/v1/scans/{id}/diff?against=previous: request sent until the "
        "whole answer is read, on the standalone host with Azurite",
        "machine": {"cpus": os.cpu_count(), "loadavg_at_start": loadavg()},
    }
    with tempfile.TemporaryDirectory(prefix="bench-diff-") as temp:
        work = Path(temp)
        key = make_key(work / "id_ed25519")
        azurite = Azurite(work / "azurite")
        connection = azurite.start()
        env = scan_api_env(
            connection,
            SSH_PRIVATE_KEY_PATH=str(key),
            SSH_DEFAULT_USERNAME=LOGIN_USER,
            OSV_ENRICHMENT="false",
            STANDALONE_LOG_LEVEL=os.environ.get("STANDALONE_LOG_LEVEL", "WARNING"),
        )
        host = HostProcess(ROOT, work / "host", env).start()
        try:
            client = Client(host.base_url, API_KEY)
            assert host.process is not None and azurite.process is not None
            processes = {
                "service": psutil.Process(host.process.pid),
                "storage": psutil.Process(azurite.process.pid),
            }
            out["host_5000_packages"] = host_pair(client, key, args.runs, processes)
            out["repository_10000_artifacts"] = repository_pair(client, work, args.runs, processes)
        except BaseException:
            print(host.log()[-6000:], file=sys.stderr)
            raise
        finally:
            host.stop()
            azurite.stop()
    checks = {
        f"{name}_median_le_{TARGET_S:g}s": out[name]["median_s"] <= TARGET_S
        for name in ("host_5000_packages", "repository_10000_artifacts")
    }
    checks["deltas_exact"] = all(
        out[name]["correct"] for name in ("host_5000_packages", "repository_10000_artifacts")
    )
    out["target_s"] = TARGET_S
    out["checks"] = checks
    out["met"] = all(checks.values())
    out["machine"]["loadavg_at_end"] = loadavg()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
