"""Repository (GxP traceability) scans at scale, end to end through the API, against Doorstop
validating an equivalent tree in the same run.

The service runs on the standalone host with an Azurite started here; every case registers a
local repository, POSTs /api/v1/repositories/{id}/scan and polls until the scan completed:
- single commit: 10,000 artifacts (1,000 REQ / 4,000 US / 3,000 SPEC / 2,000 TC Markdown
  documents with YAML front matter, one parent link each), written and committed as a user
  would (git add, git commit); a first scan with a cold mirror cache, then later scans; plus
  the engine alone in this process (fetch, discover, parse, history, every rule);
- long history: the same 10,000 artifacts, then 20,000 commits each editing one document
  picked at random; a first scan (and, for scale, `git log --name-only` over the same history),
  then one new commit and a rescan (incremental: only the changed document is parsed, only the
  new commit diffed), and for scale the rescan of a four-document repository (what any scan
  costs on this service and machine);
- 100,000 artifacts in one commit: one scan, and the peak memory of all the service's
  processes (the host, its engine and activity workers, Azurite, git) while it runs: sampled
  every 50 ms (sum of resident sets) and, as an upper bound, the sum of every process's
  resident high-water mark;
- doorstop 3.2 (PyPI, in its own venv `.venv-doorstop`, created here when missing) on the same
  10,000 items and links (REQ0001.. / US0001.. / SPEC0001.. / TC0001.., one parent link each,
  every item reviewed and its links cleared beforehand, committed): `doorstop -F` (validate
  without reformatting the files: what a user validating a reviewed tree runs; plain
  `doorstop` also rewrites and git-adds every item: `--doorstop-plain` times it too).
The long-history and 100,000-artifact repositories are built with `git fast-import` once and
kept in bench/.fixtures/ (each run scans a linked copy). The machine is shared: the JSON has
the load average at the start and the end, and every scan the CPU seconds the service (host,
engine, workers, git, helpers) and Azurite used while it ran (polling included), a measure
that other load inflates far less than the seconds on the clock.
Targets: single commit end to end <= 1.9 s and >= 10x faster than Doorstop; long history first
scan <= 5 s, rescan after one new commit <= 0.5 s; 100,000 artifacts <= 8 s with peak memory
of all processes < 1 GB.
Run: `.venv/bin/python bench/repo_scan.py [--cases single,history,large] [--skip-doorstop]
[--doorstop-plain] [--history-commits 20000] [--large-artifacts 100000]`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scanner.repository.engine import (  # noqa: E402
    EngineOptions,
    evaluate_all,
    index_repository,
)
from scanner.repository.git_source import Source  # noqa: E402
from standalone.azurite import Azurite  # noqa: E402
from tests.support.git_repos import (  # noqa: E402
    GitRepo,
    clean_tree,
    fast_commit,
    fast_import,
    generated_tree,
    requirement,
)
from tests.support.host_process import HostProcess  # noqa: E402
from tests.support.scan_api import API_KEY, scan_api_env, start_api  # noqa: E402

DOORSTOP_VERSION = "3.2"
DOORSTOP_VENV = ROOT / ".venv-doorstop"
FIXTURES = ROOT / "bench" / ".fixtures"
# The status is polled every 20 ms, then every 2% of the time elapsed (at most every 200 ms):
# a long scan is timed within 2% without a stream of requests taking CPU from it.
POLL_S = 0.02
POLL_SHARE = 0.02
POLL_MAX_S = 0.2
TEN_THOUSAND = {"REQ": 1000, "US": 4000, "SPEC": 3000, "TC": 2000}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def scaled(total: int) -> dict[str, int]:
    return {kind: count * total // 10_000 for kind, count in TEN_THOUSAND.items()}


def tree_of(sizes: dict[str, int]) -> dict[str, str]:
    return generated_tree(
        requirements=sizes["REQ"], stories=sizes["US"], specs=sizes["SPEC"], tests=sizes["TC"]
    )


# -- repositories -----------------------------------------------------------------------------


def build_repository(path: Path, sizes: dict[str, int]) -> tuple[GitRepo, float]:
    began = time.perf_counter()
    files = tree_of(sizes)
    repo = GitRepo(path)
    for relative, text in files.items():
        repo.write(relative, text)
    repo.commit("generated GxP documents")
    return repo, time.perf_counter() - began


def fixture(name: str, sizes: dict[str, int], edits: int) -> tuple[Path, float]:
    """A bare repository built by fast-import once, kept in bench/.fixtures: (path, seconds it
    took to build now; 0 when it was there)."""
    folder = FIXTURES / name
    built = folder / "repo.git"
    if (folder / "complete").exists():
        return built, 0.0
    log(f"building {name} (once; kept in {FIXTURES})")
    began = time.perf_counter()
    shutil.rmtree(folder, ignore_errors=True)
    fast_import(built, tree_of(sizes), edits=edits)
    (folder / "complete").write_text("built by bench/repo_scan.py\n", encoding="utf-8")
    return built, time.perf_counter() - began


def linked_copy(source: Path, target: Path) -> Path:
    """A bare clone sharing the fixture's object files: new commits land in the copy only."""
    subprocess.run(
        ["git", "clone", "-q", "--bare", "--local", str(source), str(target)],
        check=True,
        env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"},
    )
    return target


def engine_runs(repo: GitRepo, runs: int) -> dict[str, Any]:
    options = EngineOptions(allow_local_paths=True)
    parse: list[float] = []
    evaluate: list[float] = []
    findings = 0
    artifacts = 0
    index_bytes = 0
    for _ in range(runs):
        began = time.perf_counter()
        index = index_repository(Source(str(repo.path)), None, options)
        parsed = time.perf_counter()
        results = evaluate_all(index)
        done = time.perf_counter()
        parse.append(parsed - began)
        evaluate.append(done - parsed)
        artifacts = len(index.artifacts)
        findings = sum(len(f) for f in results.values())
        index_bytes = len(json.dumps(index.to_json()))
    totals = [p + e for p, e in zip(parse, evaluate, strict=True)]
    return {
        "artifacts": artifacts,
        "findings": findings,
        "index_json_bytes": index_bytes,
        "fetch_discover_parse_history_s": round(min(parse), 3),
        "evaluate_all_rules_s": round(min(evaluate), 3),
        "seconds_best": round(min(totals), 3),
        "seconds_median": round(statistics.median(totals), 3),
        "runs": [round(t, 3) for t in totals],
    }


# -- the service --------------------------------------------------------------------------------


class Service:
    """Azurite and the standalone host, and a client that scans registered repositories."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.azurite = Azurite(data / "azurite")
        self.host: HostProcess | None = None
        self.session = requests.Session()
        self.session.headers["X-API-Key"] = API_KEY

    def start(self) -> Service:
        connection = self.azurite.start()
        env = scan_api_env(connection, REPO_WORK_DIR=str(self.data / "work"))
        (self.data / "work").mkdir()
        self.host = start_api(self.data / "host", env)
        return self

    def stop(self) -> None:
        if self.host is not None:
            self.host.stop()
        self.azurite.stop()

    @property
    def base(self) -> str:
        assert self.host is not None
        return self.host.base_url

    def processes(self) -> list[psutil.Process]:
        assert self.host is not None and self.host.process is not None
        assert self.azurite.process is not None
        found = []
        for pid in (self.host.process.pid, self.azurite.process.pid):
            root = psutil.Process(pid)
            found += [root, *root.children(recursive=True)]
        return found

    def register(self, name: str, path: Path) -> str:
        created = self.session.post(
            f"{self.base}/api/v1/repositories",
            json={"name": name, "url": str(path), "defaultBranch": "main"},
            timeout=30,
        )
        created.raise_for_status()
        return str(created.json()["id"])

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by the service (host, engine, workers and what they started)
        and by Azurite: a measure the machine's other load does not inflate much."""
        assert self.host is not None and self.host.process is not None
        assert self.azurite.process is not None
        used = {}
        for name, pid in (
            ("service", self.host.process.pid),
            ("azurite", self.azurite.process.pid),
        ):
            root = psutil.Process(pid)
            total = 0.0
            for process in [root, *root.children(recursive=True)]:
                try:
                    times = process.cpu_times()
                except psutil.Error:
                    continue
                total += times.user + times.system + times.children_user + times.children_system
            used[name] = total
        return used

    def scan(self, repository_id: str) -> tuple[float, dict[str, Any]]:
        """(seconds from the trigger until the scan is seen completed, its status with the CPU
        seconds the service and Azurite used meanwhile under "cpuSeconds")."""
        cpu_before = self.cpu_seconds()
        began = time.perf_counter()
        answer = self.session.post(
            f"{self.base}/api/v1/repositories/{repository_id}/scan", json={}, timeout=30
        )
        answer.raise_for_status()
        scan_id = answer.json()["scanId"]
        while True:
            status = self.session.get(f"{self.base}/api/v1/scans/{scan_id}", timeout=30).json()
            if status["status"] in ("completed", "failed", "cancelled"):
                break
            if time.perf_counter() - began > 600:
                raise SystemExit(f"scan {scan_id} did not end in 600 s")
            elapsed = time.perf_counter() - began
            time.sleep(min(POLL_MAX_S, max(POLL_S, elapsed * POLL_SHARE)))
        seconds = time.perf_counter() - began
        if status["status"] != "completed":
            raise SystemExit(f"scan failed: {status.get('errorMessage')}")
        cpu_after = self.cpu_seconds()
        status["cpuSeconds"] = {k: round(cpu_after[k] - cpu_before[k], 2) for k in cpu_after}
        return seconds, status


def summary(seconds: float, status: dict[str, Any]) -> dict[str, Any]:
    results = status["results"]
    return {
        "seconds": round(seconds, 3),
        "artifacts": results["artifacts"]["total"],
        "findings": results["findings"]["total"],
        "incremental": results["incremental"],
        "documents_parsed": results["reparsed"],
        "cpu_seconds": status["cpuSeconds"],
    }


@contextmanager
def peak_memory(service: Service) -> Iterator[dict[str, Any]]:
    """Peak memory of the service's processes while the block runs (see the docstring)."""
    seen: dict[str, Any] = {"sampled_peak_mb": 0.0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            total = 0
            for process in service.processes():
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    continue
            seen["sampled_peak_mb"] = max(seen["sampled_peak_mb"], total / 2**20)
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield seen
    finally:
        stop.set()
        sampler.join()
        seen["sampled_peak_mb"] = round(seen["sampled_peak_mb"], 1)
        marks = {}
        for process in service.processes():
            try:
                status = Path(f"/proc/{process.pid}/status").read_text()
                name = " ".join(process.cmdline()[:3])[-60:]
            except (OSError, psutil.Error):
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    marks[f"{process.pid} {name}"] = round(int(line.split()[1]) / 1024, 1)
        seen["high_water_marks_sum_mb"] = round(sum(marks.values()), 1)
        seen["high_water_marks_mb"] = marks


def single_commit_case(service: Service, work: Path, scans: int, runs: int) -> dict[str, Any]:
    log("single commit: generating 10,000 documents")
    repo, built = build_repository(work / "single", TEN_THOUSAND)
    log("single commit: engine runs")
    out: dict[str, Any] = {"generate_and_commit_seconds": round(built, 2)}
    out["engine"] = engine_runs(repo, runs)
    log("single commit: scans through the API")
    repository_id = service.register("bench-single", repo.path)
    timings = [service.scan(repository_id) for _ in range(scans)]
    out["first_scan"] = summary(*timings[0])
    out["later_scans"] = [summary(*t) for t in timings[1:]]
    report_began = time.perf_counter()
    html = service.session.get(
        f"{service.base}/api/v1/scans/{timings[-1][1]['scanId']}/report",
        params={"format": "html"},
        timeout=120,
    )
    html.raise_for_status()
    out["html_report_seconds"] = round(time.perf_counter() - report_began, 3)
    out["html_report_bytes"] = len(html.content)
    return out


def git_log_name_only(repo: Path) -> dict[str, float]:
    """What `git log --name-only` (every commit's changed paths) costs on the same repository:
    the scale the history walk of a first scan is measured against."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run(
        ["git", "--git-dir", str(repo), "log", "--name-only", "--format=%H", "main"],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"},
    )
    seconds = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"seconds": round(seconds, 3), "cpu_seconds": round(cpu, 2)}


def history_case(service: Service, work: Path, commits: int) -> dict[str, Any]:
    source, built = fixture(f"history-10000-{commits}", TEN_THOUSAND, commits)
    repo = linked_copy(source, work / "history.git")
    log(f"long history ({commits} commits): first scan")
    repository_id = service.register("bench-history", repo)
    first = summary(*service.scan(repository_id))
    reference = git_log_name_only(repo)
    edited = requirement("REQ-0001", title="Requirement reworded")
    fast_commit(repo, {"reqs/REQ-0001.md": edited}, commits + 1)
    log("long history: rescan after one new commit")
    rescan = summary(*service.scan(repository_id))
    unchanged = summary(*service.scan(repository_id))
    # What any scan costs here, whatever its size: a four-document repository, scanned twice.
    tiny = GitRepo(work / "tiny")
    tiny.write_artifacts(clean_tree())
    tiny.commit("four documents")
    tiny_id = service.register("bench-tiny", tiny.path)
    service.scan(tiny_id)
    floor, floor_status = service.scan(tiny_id)
    return {
        "commits": commits + 1,
        "fixture_build_seconds": round(built, 1),
        "first_scan": first,
        "git_log_name_only": reference,
        "rescan_after_one_commit": rescan,
        "rescan_unchanged": unchanged,
        "four_document_rescan_seconds": round(floor, 3),
        "four_document_rescan_cpu_seconds": floor_status["cpuSeconds"],
    }


def large_case(service: Service, work: Path, artifacts: int) -> dict[str, Any]:
    source, built = fixture(f"single-{artifacts}", scaled(artifacts), 0)
    repo = linked_copy(source, work / "large.git")
    log(f"{artifacts} artifacts: scan")
    repository_id = service.register("bench-large", repo)
    with peak_memory(service) as memory:
        seconds, status = service.scan(repository_id)
    return {
        "fixture_build_seconds": round(built, 1),
        "scan": summary(seconds, status),
        "memory": memory,
    }


# -- doorstop ---------------------------------------------------------------------------------


def doorstop_executable() -> Path:
    executable = DOORSTOP_VENV / "bin" / "doorstop"
    stamp = DOORSTOP_VENV / f".installed-{DOORSTOP_VERSION}"
    if not stamp.exists():
        log(f"installing doorstop=={DOORSTOP_VERSION} into {DOORSTOP_VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(DOORSTOP_VENV)], check=True)
        subprocess.run(
            [str(DOORSTOP_VENV / "bin" / "pip"), "install", "-q", f"doorstop=={DOORSTOP_VERSION}"],
            check=True,
        )
        stamp.touch()
    return executable


def build_doorstop_tree(path: Path, sizes: dict[str, int]) -> None:
    """The same items and links as the generated repository, as Doorstop YAML items (written
    directly: `doorstop add` is one process per item)."""
    documents = {"REQ": None, "US": "REQ", "SPEC": "US", "TC": "SPEC"}
    folders = {"REQ": "reqs", "US": "stories", "SPEC": "specs", "TC": "tests"}
    # the generated tree's parent of item i (1-based) is item ((i - 1) % parent_count) + 1
    for prefix, parent in documents.items():
        folder = path / folders[prefix]
        folder.mkdir(parents=True)
        settings = f"settings:\n  digits: 4\n  itemformat: yaml\n  prefix: {prefix}\n  sep: ''\n"
        if parent:
            settings += f"  parent: {parent}\n"
        (folder / ".doorstop.yml").write_text(settings, encoding="utf-8")
        for number in range(1, sizes[prefix] + 1):
            if parent:
                target = (number - 1) % sizes[parent] + 1
                links = f"links:\n- {parent}{target:04d}: null\n"
            else:
                links = "links: []\n"
            (folder / f"{prefix}{number:04d}.yml").write_text(
                "active: true\nderived: false\nheader: ''\n"
                f"level: {number}\n{links}normative: true\nref: ''\nreviewed: null\n"
                f"text: |\n  {prefix} item {number}: the system shall do it.\n",
                encoding="utf-8",
            )


_REVIEW_AND_CLEAR = """
import doorstop
from doorstop import settings
settings.ADDREMOVE_FILES = False
tree = doorstop.build()
for document in tree:
    for item in document:
        item.review()
for document in tree:
    for item in document:
        item.clear()
"""


def run_doorstop(
    executable: Path, tree: Path, flags: list[str], log_name: str
) -> tuple[float, int, int]:
    """(seconds, exit code, warning lines) of one doorstop command in `tree`."""
    began = time.perf_counter()
    with (tree.parent / log_name).open("wb") as out:
        done = subprocess.run(
            [str(executable), *flags], cwd=tree, stdout=out, stderr=subprocess.STDOUT, check=False
        )
    seconds = time.perf_counter() - began
    text = (tree.parent / log_name).read_text(errors="replace")
    return seconds, done.returncode, text.count("WARNING")


def doorstop_runs(sizes: dict[str, int], plain: bool) -> dict[str, Any]:
    executable = doorstop_executable()
    work = Path(tempfile.mkdtemp(prefix="bench-doorstop-"))
    try:
        tree = work / "tree"
        tree.mkdir()
        repo = GitRepo(tree)
        build_doorstop_tree(tree, sizes)
        repo.commit("doorstop items")
        setup_began = time.perf_counter()
        # `doorstop review all` + `doorstop clear all`, in one process through Doorstop's own API
        # and without its `git add` per saved item (the commit below adds them all at once)
        done = subprocess.run(
            [str(executable.with_name("python")), "-c", _REVIEW_AND_CLEAR],
            cwd=tree,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"doorstop review/clear failed: {done.stderr[-2000:]}")
        repo.commit("reviewed and cleared")
        setup = time.perf_counter() - setup_began
        log(f"doorstop setup (review + clear every item): {setup:.1f} s")
        seconds, code, warnings = run_doorstop(executable, tree, ["-F"], "validate.log")
        result: dict[str, Any] = {
            "version": DOORSTOP_VERSION,
            "command": "doorstop -F",
            "meaning": "validate the whole tree (links, child links, levels, references) "
            "without reformatting item files",
            "seconds": round(seconds, 3),
            "exit_code": code,
            "warnings": warnings,
            "setup_seconds_not_timed": round(setup, 1),
        }
        if plain:
            seconds, code, warnings = run_doorstop(executable, tree, [], "plain.log")
            result["plain"] = {
                "command": "doorstop",
                "meaning": "validate, re-save and git-add every item",
                "seconds": round(seconds, 3),
                "exit_code": code,
                "warnings": warnings,
            }
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default="single,history,large")
    parser.add_argument("--engine-runs", type=int, default=3)
    parser.add_argument("--scans", type=int, default=3, help="single-commit scans (first cold)")
    parser.add_argument("--history-commits", type=int, default=20_000)
    parser.add_argument("--large-artifacts", type=int, default=100_000)
    parser.add_argument("--doorstop-plain", action="store_true", help="also time plain doorstop")
    parser.add_argument("--skip-doorstop", action="store_true")
    args = parser.parse_args()
    cases = set(args.cases.split(","))
    out: dict[str, Any] = {
        "benchmark": "repo_scan",
        "machine": {"cpus": os.cpu_count(), "loadavg_at_start": loadavg()},
    }
    work = Path(tempfile.mkdtemp(prefix="bench-repo-"))
    service = Service(work / "service")
    try:
        service.start()
        if "single" in cases:
            out["single_commit"] = single_commit_case(service, work, args.scans, args.engine_runs)
        if "history" in cases:
            out["long_history"] = history_case(service, work, args.history_commits)
        if "large" in cases:
            out["large"] = large_case(service, work, args.large_artifacts)
    finally:
        service.stop()
        shutil.rmtree(work, ignore_errors=True)
    if not args.skip_doorstop and "single" in cases:
        log("doorstop")
        out["doorstop"] = doorstop_runs(TEN_THOUSAND, args.doorstop_plain)
    out["machine"]["loadavg_at_end"] = loadavg()
    targets: dict[str, bool] = {}
    if "single_commit" in out:
        single = out["single_commit"]["first_scan"]["seconds"]
        targets["single_commit_first_scan_le_1_9s"] = single <= 1.9
        if "doorstop" in out:
            doorstop_s = out["doorstop"]["seconds"]
            out["speedup_vs_doorstop"] = {
                "engine": round(doorstop_s / out["single_commit"]["engine"]["seconds_best"], 1),
                "end_to_end": round(doorstop_s / single, 1),
            }
            targets["single_commit_ge_10x_faster_than_doorstop"] = doorstop_s / single >= 10
    if "long_history" in out:
        history = out["long_history"]
        targets["long_history_first_scan_le_5s"] = history["first_scan"]["seconds"] <= 5.0
        rescan = history["rescan_after_one_commit"]
        targets["long_history_rescan_le_0_5s"] = rescan["seconds"] <= 0.5
        targets["long_history_rescan_is_incremental"] = (
            rescan["incremental"] and rescan["documents_parsed"] == 1
        )
    if "large" in out:
        large = out["large"]
        targets["large_scan_le_8s"] = large["scan"]["seconds"] <= 8.0
        targets["large_peak_memory_lt_1gb"] = large["memory"]["high_water_marks_sum_mb"] < 1024
    out["targets"] = targets
    out["met"] = bool(targets) and all(targets.values())
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
