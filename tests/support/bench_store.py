"""The storage a benchmark runs the standalone host on, chosen with `--store`: the embedded
database (the host's default) or an Azurite of its own (the Azure Storage adapter, the host's
default before the embedded database), so that one script measures both."""

from __future__ import annotations

import argparse
from pathlib import Path

from standalone.azurite import Azurite

STORES = ("embedded", "azurite")


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        choices=STORES,
        default="embedded",
        help="embedded: the host's default database in its data folder; azurite: Azure "
        "Storage on an Azurite of its own",
    )


class BenchStore:
    """Start before the host, stop after it."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind = kind
        self.azurite = Azurite(folder / "azurite") if kind == "azurite" else None

    def start(self) -> str:
        """The host's `AzureWebJobsStorage` ("": the embedded database in its data folder)."""
        return self.azurite.start() if self.azurite is not None else ""

    @property
    def pid(self) -> int | None:
        """The storage's own process, when it has one (the embedded database runs inside the
        host's processes)."""
        process = self.azurite.process if self.azurite is not None else None
        return None if process is None else process.pid

    def stop(self) -> None:
        if self.azurite is not None:
            self.azurite.stop()

    def kill(self) -> None:
        """SIGKILL the storage's own process, if any (no chance to save anything)."""
        process = self.azurite.process if self.azurite is not None else None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)
