"""Repository (GxP traceability) scan of a generated repository of 10,000 artifacts, against
Doorstop validating an equivalent tree in the same run.

The repository: 1,000 REQ / 4,000 US / 3,000 SPEC / 2,000 TC Markdown documents with YAML front
matter, one parent link each (US -> REQ, SPEC -> US, TC -> SPEC), written directly, one commit.
Measured:
- engine: fetch (temporary bare clone) + discover + parse + history walk, then every rule over
  the artifact index, in this process (the engine's pure functions; best and median of runs);
- end to end: the service on the standalone host with an Azurite started here: register the
  repository, POST /api/v1/repositories/{id}/scan, poll until completed (a cold first scan and
  a warm second one);
- doorstop 3.2 (PyPI, in its own venv `.venv-doorstop`, created here when missing) on the same
  items and links (REQ0001.. / US0001.. / SPEC0001.. / TC0001.., one parent link each, every item
  reviewed and its links cleared beforehand, committed): `doorstop -F` (validate without
  reformatting the files: what a user validating a reviewed tree runs; plain `doorstop` also
  rewrites and git-adds every item: `--doorstop-plain` times it too).
Targets: end to end <= 30 s, engine <= 5 s, >= 10x faster than Doorstop.
Run: `.venv/bin/python bench/repo_scan.py [--requirements 1000 --stories 4000 --specs 3000
--tests 2000] [--doorstop-plain] [--skip-doorstop]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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
from tests.support.git_repos import GitRepo, generated_tree  # noqa: E402
from tests.support.scan_api import API_KEY, scan_api_env, start_api  # noqa: E402

DOORSTOP_VERSION = "3.2"
DOORSTOP_VENV = ROOT / ".venv-doorstop"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# -- our repository -------------------------------------------------------------------------


def build_repository(path: Path, sizes: dict[str, int]) -> tuple[GitRepo, float]:
    began = time.perf_counter()
    files = generated_tree(
        requirements=sizes["REQ"], stories=sizes["US"], specs=sizes["SPEC"], tests=sizes["TC"]
    )
    repo = GitRepo(path)
    for relative, text in files.items():
        repo.write(relative, text)
    repo.commit("generated GxP documents")
    return repo, time.perf_counter() - began


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


def end_to_end(repo: GitRepo, scans: int) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="bench-repo-api-"))
    azurite = Azurite(data / "azurite")
    host = None
    try:
        connection = azurite.start()
        host = start_api(data / "host", scan_api_env(connection))
        session = requests.Session()
        session.headers["X-API-Key"] = API_KEY
        base = host.base_url
        created = session.post(
            f"{base}/api/v1/repositories",
            json={"name": "bench-gxp", "url": str(repo.path), "defaultBranch": "main"},
            timeout=30,
        )
        created.raise_for_status()
        repository_id = created.json()["id"]
        timings: list[float] = []
        final: dict[str, Any] = {}
        for _ in range(scans):
            began = time.perf_counter()
            answer = session.post(f"{base}/api/v1/repositories/{repository_id}/scan", json={})
            answer.raise_for_status()
            scan_id = answer.json()["scanId"]
            while True:
                status = session.get(f"{base}/api/v1/scans/{scan_id}", timeout=30).json()
                if status["status"] in ("completed", "failed", "cancelled"):
                    break
                if time.perf_counter() - began > 600:
                    raise SystemExit(f"scan {scan_id} did not end in 600 s")
                time.sleep(0.1)
            timings.append(time.perf_counter() - began)
            final = status
            if status["status"] != "completed":
                raise SystemExit(f"scan failed: {status.get('errorMessage')}")
        report_began = time.perf_counter()
        html = session.get(
            f"{base}/api/v1/scans/{final['scanId']}/report", params={"format": "html"}, timeout=120
        )
        html.raise_for_status()
        report_seconds = time.perf_counter() - report_began
        results = final["results"]
        return {
            "seconds_first_scan": round(timings[0], 3),
            "seconds_later_scans": [round(t, 3) for t in timings[1:]],
            "artifacts": results["artifacts"]["total"],
            "findings": results["findings"]["total"],
            "rules": results["rules"]["total"],
            "html_report_seconds": round(report_seconds, 3),
            "html_report_bytes": len(html.content),
        }
    finally:
        if host is not None:
            host.stop()
        azurite.stop()
        shutil.rmtree(data, ignore_errors=True)


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
    parser.add_argument("--requirements", type=int, default=1000)
    parser.add_argument("--stories", type=int, default=4000)
    parser.add_argument("--specs", type=int, default=3000)
    parser.add_argument("--tests", type=int, default=2000)
    parser.add_argument("--engine-runs", type=int, default=3)
    parser.add_argument("--scans", type=int, default=2, help="end-to-end scans (first is cold)")
    parser.add_argument("--doorstop-plain", action="store_true", help="also time plain doorstop")
    parser.add_argument("--skip-doorstop", action="store_true")
    args = parser.parse_args()
    sizes = {"REQ": args.requirements, "US": args.stories, "SPEC": args.specs, "TC": args.tests}
    out: dict[str, Any] = {
        "benchmark": "repo_scan",
        "artifacts": sum(sizes.values()),
        "sizes": sizes,
        "machine": {"cpus": os.cpu_count(), "loadavg_at_start": loadavg()},
    }
    work = Path(tempfile.mkdtemp(prefix="bench-repo-"))
    try:
        log(f"generating {sum(sizes.values())} documents")
        repo, built = build_repository(work / "gxp", sizes)
        out["generate_and_commit_seconds"] = round(built, 2)
        log("engine runs")
        out["engine"] = engine_runs(repo, args.engine_runs)
        log("end-to-end scans through the API")
        out["end_to_end"] = end_to_end(repo, args.scans)
        if not args.skip_doorstop:
            log("doorstop")
            out["doorstop"] = doorstop_runs(sizes, args.doorstop_plain)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    engine_s = out["engine"]["seconds_best"]
    e2e_s = out["end_to_end"]["seconds_first_scan"]
    targets: dict[str, Any] = {
        "engine_le_5s": engine_s <= 5.0,
        "end_to_end_le_30s": e2e_s <= 30.0,
    }
    if "doorstop" in out:
        doorstop_s = out["doorstop"]["seconds"]
        out["speedup_vs_doorstop"] = {
            "engine": round(doorstop_s / engine_s, 1),
            "end_to_end": round(doorstop_s / e2e_s, 1),
        }
        targets["end_to_end_ge_10x_faster_than_doorstop"] = doorstop_s / e2e_s >= 10
    out["targets_met"] = targets
    out["machine"]["loadavg_at_end"] = loadavg()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
