"""Activity worker processes, as the Functions host runs language workers beside itself.

Activities run in separate processes (`FUNCTIONS_WORKER_PROCESS_COUNT`, default 1), each
with a thread pool, so they use other cores than the host's HTTP and orchestration work and
never hold its GIL. Workers run at a lower CPU priority: when the machine is busy, answering
an API call comes before the next activity. Each worker imports function_app.py itself; the
host sends it (activity name, input JSON) and gets back the result JSON or the error.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import logging
import multiprocessing
import os
import signal
import threading
import traceback
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

READY = "ready"
WORKER_NICENESS = 10
START_TIMEOUT_S = 120.0
_PR_SET_PDEATHSIG = 1


class ActivityError(Exception):
    """An activity raised; carries the exception's type name and message from the worker."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(message)
        self.type_name = type_name


class WorkerLostError(Exception):
    """The worker process running the activity died; the activity has to run again."""


class WorkerStartError(Exception):
    """A worker process could not load the app."""


# -- the worker process -------------------------------------------------------------------------


def messages(conn: Connection) -> Iterator[Any]:
    """What the parent sends down the pipe, until it sends None or closes it."""
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        yield message


def die_with_parent() -> None:
    """Be killed when the thread that started this process ends (PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _worker_main(app_dir: str, conn: Connection, threads: int, log_level: str) -> None:
    """Entry point of a worker process (spawned: a fresh interpreter)."""
    die_with_parent()
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the host decides when workers stop
    logging.basicConfig(
        level=log_level,
        format="%(asctime)s %(levelname)s %(name)s[worker %(process)d]: %(message)s",
    )
    logging.getLogger("azure").setLevel(logging.WARNING)
    from standalone.app_loader import load_app
    from standalone.invoker import run_activity

    try:
        index = load_app(Path(app_dir))
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    loop = asyncio.new_event_loop()  # for async activities
    threading.Thread(target=loop.run_forever, name="activity-loop", daemon=True).start()
    send_lock = threading.Lock()
    pool = ThreadPoolExecutor(threads, thread_name_prefix="activity")

    def run(task_id: int, name: str, input_json: str | None) -> None:
        try:
            entry = index.activities[name]
            reply: tuple[Any, ...] = (task_id, True, run_activity(entry, input_json, loop))
        except Exception as exc:
            logging.getLogger("standalone.activity").warning(
                "activity %s failed: %s", name, "".join(traceback.format_exception(exc)).strip()
            )
            reply = (task_id, False, (type(exc).__name__, str(exc)))
        with send_lock:
            conn.send(reply)

    conn.send((READY, sorted(index.activities)))
    for message in messages(conn):
        pool.submit(run, *message)
    pool.shutdown(wait=False, cancel_futures=True)


# -- the host side ------------------------------------------------------------------------------


@dataclass
class _Worker:
    process: Any
    conn: Connection
    pending: dict[int, Future[str]] = field(default_factory=dict)
    alive: bool = True


class ActivityWorkers:
    """A pool of worker processes that run the app's activities."""

    def __init__(self, app_dir: Path, processes: int, threads_per_process: int) -> None:
        self.app_dir = app_dir
        self.processes = max(1, processes)
        self.threads = max(1, threads_per_process)
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._stopping = False
        # Workers die with the thread that started them (PDEATHSIG): start every one of them
        # from this long-lived thread, never from a short-lived reader thread.
        self._spawner = ThreadPoolExecutor(1, thread_name_prefix="worker-spawner")

    def start(self) -> None:
        """Start every worker and wait until each has loaded the app."""
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start every worker process (each loads the app; `wait_ready` waits for that)."""
        level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
        for _ in range(self.processes):
            self._workers.append(self._spawn(str(level)))

    def wait_ready(self) -> None:
        for worker in self._workers:
            if not worker.conn.poll(START_TIMEOUT_S):
                raise WorkerStartError("an activity worker did not start in time")
            kind, detail = worker.conn.recv()
            if kind != READY:
                raise WorkerStartError(f"an activity worker could not load the app: {detail}")
            threading.Thread(
                target=self._read, args=(worker,), name="worker-reader", daemon=True
            ).start()
        log.info("%d activity worker process(es), %d thread(s) each", self.processes, self.threads)

    def _spawn(self, level: str) -> _Worker:
        return self._spawner.submit(self._spawn_here, level).result()

    def _spawn_here(self, level: str) -> _Worker:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_worker_main,
            args=(str(self.app_dir), child, self.threads, level),
            name="activity-worker",
            daemon=True,
        )
        process.start()
        child.close()
        return _Worker(process, parent)

    def submit(self, name: str, input_json: str | None) -> Future[str]:
        """Run an activity in the least busy worker; the future holds its result JSON."""
        future: Future[str] = Future()
        with self._lock:
            live = [w for w in self._workers if w.alive]
            if not live or self._stopping:
                future.set_exception(WorkerLostError("no activity worker is running"))
                return future
            worker = min(live, key=lambda w: len(w.pending))
            task_id = next(self._ids)
            worker.pending[task_id] = future
            try:
                worker.conn.send((task_id, name, input_json))
            except (OSError, ValueError) as exc:
                worker.pending.pop(task_id, None)
                future.set_exception(WorkerLostError(str(exc)))
        return future

    def _read(self, worker: _Worker) -> None:
        while True:
            try:
                task_id, ok, payload = worker.conn.recv()
            except (EOFError, OSError):
                break
            with self._lock:
                future = worker.pending.pop(task_id, None)
            if future is None:
                continue
            if ok:
                future.set_result(payload)
            else:
                future.set_exception(ActivityError(*payload))
        self._lost(worker)

    def _lost(self, worker: _Worker) -> None:
        with self._lock:
            worker.alive = False
            orphans = list(worker.pending.values())
            worker.pending.clear()
            restart = not self._stopping
        for future in orphans:
            future.set_exception(WorkerLostError("the activity worker process exited"))
        if restart:
            log.error(
                "an activity worker process exited (code %s); starting a new one",
                worker.process.exitcode,
            )
            replacement = self._spawn(logging.getLevelName(logging.getLogger().getEffectiveLevel()))
            if replacement.conn.poll(START_TIMEOUT_S) and replacement.conn.recv()[0] == READY:
                with self._lock:
                    self._workers.append(replacement)
                threading.Thread(
                    target=self._read, args=(replacement,), name="worker-reader", daemon=True
                ).start()

    @property
    def running(self) -> int:
        with self._lock:
            return sum(len(w.pending) for w in self._workers)

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._stopping = True
            workers = list(self._workers)
        for worker in workers:
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send(None)
        for worker in workers:
            worker.process.join(timeout)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout)
        self._spawner.shutdown(wait=False)
