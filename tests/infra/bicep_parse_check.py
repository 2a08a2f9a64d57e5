"""Fail when a Bicep file under the given folder does not parse with checkov's Bicep parser.

checkov skips a file it cannot parse and, with --quiet, says nothing about it: the Makefile's
infra-check runs this first (with the checkov venv's Python, where pycep lives) so a Bicep
construct the parser does not know cannot hide a file from the security checks.
Usage: .venv-checkov/bin/python tests/infra/bicep_parse_check.py infra
"""

from __future__ import annotations

import sys
from pathlib import Path

from pycep import BicepParser  # type: ignore[import-not-found]


def main(folder: str) -> int:
    files = sorted(Path(folder).rglob("*.bicep"))
    failures = 0
    for path in files:
        try:
            BicepParser().parse(text=path.read_text(encoding="utf-8"))
        except Exception as exc:
            failures += 1
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            print(f"{path}: not parseable by checkov's Bicep parser: {first_line}", file=sys.stderr)
    print(f"bicep parse: {len(files) - failures} of {len(files)} files parsed")
    return 1 if failures or not files else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "infra"))
