"""Cold start: seconds to `import function_app` in a fresh Python process.

Each run starts a new interpreter (the repo's .venv Python, cwd = repo root) and times the import
inside it, so interpreter start-up is excluded; `process_seconds` adds it for reference.
Prints JSON: {"benchmark", "runs", "median_seconds", "target_seconds", "met", ...}.
Target: median of 5 runs at most 1.5 s.

`--telemetry` sets APPLICATIONINSIGHTS_CONNECTION_STRING (pointing at a closed loopback port,
with statsbeat and the control plane off) so the import pays for configure_telemetry() as it does
in Azure, once function_app calls it.
Run: `.venv/bin/python bench/cold_start.py [--runs 5] [--telemetry]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 1.5
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"

TIMED_IMPORT = (
    "import time\n"
    "began = time.perf_counter()\n"
    "import function_app\n"
    "print(time.perf_counter() - began)\n"
)

TELEMETRY_ENV = {
    "APPLICATIONINSIGHTS_CONNECTION_STRING": (
        "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
        "IngestionEndpoint=https://127.0.0.1:9/"
    ),
    "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
    "APPLICATIONINSIGHTS_SDKSTATS_DISABLED": "true",
    "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
    "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "azure_app_service",
}


def child_env(telemetry: bool) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("APPLICATIONINSIGHTS_", "PYTHONPROFILEIMPORTTIME"))
    }
    if telemetry:
        env.update(TELEMETRY_ENV)
    return env


def run_python(
    python: Path, args: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`python args...` in the repository root; its output captured as text."""
    command = [str(python), *args]
    return subprocess.run(command, cwd=ROOT, env=env, timeout=120, capture_output=True, text=True)


def one_run(python: Path, env: dict[str, str]) -> tuple[float, float]:
    began = time.perf_counter()
    result = run_python(python, ["-c", TIMED_IMPORT], env)
    process_seconds = time.perf_counter() - began
    if result.returncode != 0:
        raise SystemExit(f"import function_app failed:\n{result.stderr[-2000:]}")
    return float(result.stdout.strip().splitlines()[-1]), process_seconds


def slowest_imports(python: Path, env: dict[str, str], top: int) -> list[dict[str, object]]:
    """What function_app's own imports cost (`-X importtime`, one extra run): its direct
    imports ranked by cumulative time, so a heavy SDK loaded at import time shows at the top."""
    result = run_python(python, ["-X", "importtime", "-c", "import function_app"], env)
    direct: list[tuple[str, int]] = []
    pending: list[tuple[str, int]] = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        _, cumulative, name_column = line[len("import time:") :].split("|")
        if not cumulative.strip().isdigit():
            continue
        # Nesting shows as two spaces per level; a module is printed after its own imports.
        depth = (len(name_column) - len(name_column.lstrip(" ")) - 1) // 2
        if depth == 1:
            pending.append((name_column.strip(), int(cumulative)))
        elif depth == 0:
            if name_column.strip() == "function_app":
                direct = pending
            pending = []
    ranked = sorted(direct, key=lambda item: item[1], reverse=True)[:top]
    return [{"module": name, "seconds": round(us / 1e6, 3)} for name, us in ranked]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--telemetry", action="store_true", help="set a connection string")
    parser.add_argument("--python", type=Path, default=VENV_PYTHON)
    args = parser.parse_args()
    python = args.python if args.python.exists() else Path(sys.executable)

    env = child_env(args.telemetry)
    one_run(python, env)  # warm the OS file cache and write .pyc files; not counted
    runs, process_runs = [], []
    for _ in range(args.runs):
        import_seconds, process_seconds = one_run(python, env)
        runs.append(round(import_seconds, 4))
        process_runs.append(round(process_seconds, 4))
    median = statistics.median(runs)
    print(
        json.dumps(
            {
                "benchmark": "cold_start",
                "what": "seconds to `import function_app` in a fresh process",
                "python": str(python),
                "telemetry": args.telemetry,
                "runs": runs,
                "median_seconds": round(median, 4),
                "process_seconds_median": round(statistics.median(process_runs), 4),
                "target_seconds": TARGET_SECONDS,
                "met": median <= TARGET_SECONDS,
                "slowest_imports": slowest_imports(python, env, top=8),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
