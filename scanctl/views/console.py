"""The two consoles: results on stdout, progress and notes on stderr."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

# Off a terminal (CI logs, files), lines are not cut at 80 columns.
PLAIN_WIDTH = 160


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    terminal = stream.isatty()
    width = None if terminal else int(os.environ.get("COLUMNS") or PLAIN_WIDTH)
    return Console(file=stream, width=width, highlight=False, soft_wrap=not terminal)


def note(text: str) -> None:
    """One line for the person at the terminal (or the CI log): on stderr, never on stdout."""
    print(text, file=sys.stderr, flush=True)  # noqa: T201
