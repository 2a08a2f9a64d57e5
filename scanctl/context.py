"""What every command gets: the client, the output format and how the terminal looks."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import Any

from scanctl.client import ApiClient
from scanctl.errors import UsageError


@dataclass
class Context:
    client: ApiClient
    output: str  # table | json | sarif
    quiet: bool
    # The live view needs a terminal on stderr (where progress goes).
    interactive: bool = field(default_factory=lambda: sys.stderr.isatty())
    # Options to repeat in a command we suggest (e.g. --url when it was given).
    follow_options: str = ""

    def suggest(self, command: str) -> str:
        return f"scanctl{self.follow_options} {command}"

    def print_json(self, document: Any) -> None:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")

    def refuse_sarif(self, what: str) -> None:
        if self.output == "sarif":
            raise UsageError(f"-o sarif is for scan results; {what} prints table or json")


@dataclass(frozen=True)
class Parents:
    """Options every subcommand takes: `connection` (--url, credentials, -q) and `all`
    (those plus -o FORMAT)."""

    connection: list[argparse.ArgumentParser]
    all: list[argparse.ArgumentParser]
