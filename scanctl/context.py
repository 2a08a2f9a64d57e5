"""What every command gets: the client, the output format and how the terminal looks."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, NamedTuple

from scanctl.client import ApiClient
from scanctl.errors import UsageError


class Context:
    def __init__(
        self, client: ApiClient, output: str, quiet: bool, follow_options: str = ""
    ) -> None:
        self.client = client
        self.output = output  # table | json | sarif
        self.quiet = quiet
        # The live view needs a terminal on stderr (where progress goes).
        self.interactive = sys.stderr.isatty()
        # Options to repeat in a command we suggest (e.g. --url when it was given).
        self.follow_options = follow_options

    def suggest(self, command: str) -> str:
        return f"scanctl{self.follow_options} {command}"

    def print_json(self, document: Any) -> None:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")

    def refuse_sarif(self, what: str) -> None:
        if self.output == "sarif":
            raise UsageError(f"-o sarif is for scan results; {what} prints table or json")


class Parents(NamedTuple):
    """Options every subcommand takes: `connection` (--url, credentials, -q) and `all`
    (those plus -o FORMAT)."""

    connection: list[argparse.ArgumentParser]
    all: list[argparse.ArgumentParser]
