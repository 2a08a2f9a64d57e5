"""The Durable engine in a process of its own, beside the host's HTTP front.

The front answers client calls (start, raise, terminate, status) from storage and tells the
engine what it stored; the engine runs the episodes and owns the activity workers. Separate
processes keep orchestration work from holding the front's GIL, and the engine runs at a
lower CPU priority than the front, so API calls are answered first when the machine is busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from standalone.durable.client import Command
from standalone.store_location import StoreLocation

log = logging.getLogger(__name__)

READY = "ready"
ENGINE_NICENESS = 5
START_TIMEOUT_S = 180.0


class EngineStartError(Exception):
    """The engine process could not start (app, storage or workers)."""


@dataclass(frozen=True)
class EngineOptions:
    app_dir: str
    store: StoreLocation
    hub_name: str
    max_orchestrators: int
    max_activities: int
    worker_processes: int
    refuse_running_instances: bool
    log_level: str


async def _serve(options: EngineOptions, conn: Connection) -> None:
    from standalone.app_loader import load_app
    from standalone.durable.engine import DurableEngine
    from standalone.durable.store import DurableStore
    from standalone.workers import ActivityWorkers, messages

    processes = max(1, options.worker_processes)
    workers = ActivityWorkers(
        Path(options.app_dir), processes, -(-options.max_activities // processes)
    )
    workers.launch()  # the workers import the app while this process does the same
    index = load_app(Path(options.app_dir))
    workers.wait_ready()
    storage = options.store.open()
    store = DurableStore(storage, options.hub_name)
    engine = DurableEngine(
        store, index, workers.submit, options.max_orchestrators, options.refuse_running_instances
    )
    await engine.start()
    loop = asyncio.get_running_loop()
    closed = asyncio.Event()

    def read() -> None:
        for command in messages(conn):
            loop.call_soon_threadsafe(engine.handle, command)
        loop.call_soon_threadsafe(closed.set)

    threading.Thread(target=read, name="engine-commands", daemon=True).start()
    conn.send((READY, ""))
    await closed.wait()
    await engine.stop()
    with contextlib.suppress(Exception):
        await store.close()
    storage.close()
    workers.stop()


def engine_main(options: EngineOptions, conn: Connection) -> None:
    """Entry point of the engine process (spawned: a fresh interpreter)."""
    from standalone.workers import die_with_parent

    die_with_parent()
    with contextlib.suppress(OSError):
        os.nice(ENGINE_NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the front decides when the engine stops
    logging.basicConfig(
        level=options.log_level,
        format="%(asctime)s %(levelname)s %(name)s[engine]: %(message)s",
    )
    logging.getLogger("azure").setLevel(logging.WARNING)
    try:
        asyncio.run(_serve(options, conn))
    except Exception as exc:
        log.exception("the Durable engine stopped")
        with contextlib.suppress(OSError, ValueError):
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class EngineProcess:
    """The front's handle on the engine process: start it, send it commands, stop it."""

    def __init__(self, options: EngineOptions) -> None:
        self.options = options
        self._context = multiprocessing.get_context("spawn")
        self._conn: Connection | None = None
        self._process: Any = None
        self._lock = threading.Lock()

    def launch(self) -> None:
        """Start the engine process (call from the main thread: it dies with the starting
        thread); `wait_ready` waits until it runs."""
        parent, child = self._context.Pipe(duplex=True)
        self._process = self._context.Process(
            target=engine_main, args=(self.options, child), name="durable-engine"
        )
        self._process.start()
        child.close()
        self._conn = parent

    def wait_ready(self) -> None:
        """Wait until the engine has loaded the app, started its workers and resumed every
        unfinished orchestration."""
        parent = self._conn
        assert parent is not None, "engine not launched"
        if not parent.poll(START_TIMEOUT_S):
            raise EngineStartError("the Durable engine did not start in time")
        kind, detail = parent.recv()
        if kind != READY:
            raise EngineStartError(f"the Durable engine could not start: {detail}")

    def send(self, command: Command) -> None:
        """Tell the engine what a client stored (never blocks for long: a pipe write)."""
        if self._conn is None:
            return
        with self._lock:
            try:
                self._conn.send(command)
            except (OSError, ValueError):
                log.error("the Durable engine is gone; %s waits for the next start", command[1])

    def stop(self, timeout: float = 15.0) -> None:
        if self._conn is not None:
            with self._lock, contextlib.suppress(OSError, ValueError):
                self._conn.send(None)
        if self._process is not None:
            self._process.join(timeout)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(5)
