"""`python -m standalone`: run function_app.py on http://127.0.0.1:7071, all state in an embedded
database in the data folder unless a storage connection is configured."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from standalone.host import HostOptions

log = logging.getLogger("standalone")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m standalone",
        description="Run the Azure Functions app in this folder on one machine, without Azure.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=7071, help="port to listen on (7071; 0: any)")
    parser.add_argument(
        "--app-dir",
        type=Path,
        default=Path.cwd(),
        help="folder holding function_app.py and host.json (the current folder)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder for the embedded database and the host keys (APP_DIR/.standalone)",
    )
    parser.add_argument(
        "--dashboard-dir",
        type=Path,
        default=None,
        help="folder of the dashboard served at / (APP_DIR/dashboard)",
    )
    parser.add_argument(
        "--log-level", default=os.environ.get("STANDALONE_LOG_LEVEL", "INFO"), help="INFO"
    )
    return parser.parse_args(argv)


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # The Azure SDKs log every HTTP request at INFO.
    logging.getLogger("azure").setLevel(logging.WARNING)


async def serve(options: HostOptions) -> int:
    # Imported here, not at the top: the engine and worker processes (spawned) import this
    # module again, and they need none of the host's HTTP side.
    from standalone.app_loader import AppLoadError
    from standalone.azurite import AzuriteError
    from standalone.durable.engine_process import EngineStartError
    from standalone.host import StandaloneHost
    from standalone.host_config import HostConfigError
    from standalone.settings import SettingsError

    host = StandaloneHost(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await host.start()
        await stop.wait()
        log.info("stopping")
        return 0
    except (
        AppLoadError,
        AzuriteError,
        EngineStartError,
        HostConfigError,
        SettingsError,
        OSError,
    ) as exc:
        log.error("cannot start: %s", exc)
        return 1
    finally:
        await host.stop()


def main(argv: list[str] | None = None) -> None:
    from standalone.host import HostOptions

    args = parse_args(argv)
    configure_logging(args.log_level)
    options = HostOptions(
        app_dir=args.app_dir,
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        dashboard_dir=args.dashboard_dir,
    )
    code = asyncio.run(serve(options))
    logging.shutdown()
    # Activities still running in worker threads must not hold the process open; they are
    # at-least-once and run again after the next start.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
