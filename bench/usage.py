"""Where a benchmark's CPU time and memory went, per group of processes.

A group is a root process and every descendant alive when it is sampled (the service host is a
front, an engine and worker processes; an sshd forks one child per connection). CPU time counts
each living process and the children it has already waited for, so short-lived children (an
sshd session, a shell) are included once they have exited.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psutil


def _descendants(roots: list[psutil.Process]) -> list[psutil.Process]:
    """The roots and every living descendant, from one pass over the process table (asking
    each root for its children would walk the whole table once per root)."""
    children: dict[int, list[psutil.Process]] = {}
    for process in psutil.process_iter(["ppid"]):
        children.setdefault(process.info["ppid"], []).append(process)
    found: dict[int, psutil.Process] = {}
    stack = list(roots)
    while stack:
        process = stack.pop()
        if process.pid in found:
            continue
        found[process.pid] = process
        stack.extend(children.get(process.pid, []))
    return list(found.values())


def cpu_seconds(roots: list[psutil.Process], alone: bool = False) -> float:
    """User + system CPU seconds of the roots, their living descendants and reaped children;
    `alone`: of the roots only (a benchmark's own process, whose children are measured in
    groups of their own)."""
    total = 0.0
    for process in roots if alone else _descendants(roots):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
        if not alone:
            total += times.children_user + times.children_system
    return total


def rss_bytes(roots: list[psutil.Process], alone: bool = False) -> int:
    """Resident memory of the roots and their living descendants (`alone`: of the roots)."""
    total = 0
    for process in roots if alone else _descendants(roots):
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


class Usage:
    """CPU seconds per named group between `start()` and `stop()`, and, with an `interval`,
    peak resident memory per group (sampled every `interval` seconds). Groups named in
    `alone` count their root processes without descendants."""

    def __init__(
        self,
        groups: dict[str, list[psutil.Process]],
        interval: float | None = None,
        alone: frozenset[str] = frozenset(),
    ) -> None:
        self.groups = groups
        self.interval = interval
        self.alone = alone
        self._before: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.peak_rss: dict[str, int] = dict.fromkeys(groups, 0)
        self.peak_total_rss = 0
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None

    def _sample(self) -> None:
        assert self.interval is not None
        while not self._stop.is_set():
            total = 0
            for name, roots in self.groups.items():
                rss = rss_bytes(roots, name in self.alone)
                self.peak_rss[name] = max(self.peak_rss[name], rss)
                total += rss
            self.peak_total_rss = max(self.peak_total_rss, total)
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._before = {
            name: cpu_seconds(roots, name in self.alone) for name, roots in self.groups.items()
        }
        if self.interval is not None:
            self._sampler = threading.Thread(target=self._sample, name="usage", daemon=True)
            self._sampler.start()

    def stop(self) -> None:
        self.cpu = {
            name: round(cpu_seconds(roots, name in self.alone) - self._before[name], 2)
            for name, roots in self.groups.items()
        }
        self._stop.set()
        if self._sampler is not None:
            self._sampler.join()

    def report(self) -> dict[str, dict[str, float]]:
        shown: dict[str, dict[str, float]] = {
            "cpu_seconds": {**self.cpu, "all": round(sum(self.cpu.values()), 2)}
        }
        if self.interval is not None:
            shown["peak_rss_mb"] = {
                **{name: round(value / 2**20) for name, value in self.peak_rss.items()},
                "all": round(self.peak_total_rss / 2**20),
            }
        return shown


@contextmanager
def measured(
    groups: dict[str, list[psutil.Process]],
    memory_interval: float | None = None,
    alone: frozenset[str] = frozenset(),
) -> Iterator[Usage]:
    usage = Usage(groups, memory_interval, alone)
    usage.start()
    try:
        yield usage
    finally:
        usage.stop()


def load_average() -> dict[str, float]:
    one, five, fifteen = psutil.getloadavg()
    return {"1m": round(one, 2), "5m": round(five, 2), "15m": round(fifteen, 2)}


def wait_for_quiet(max_load: float, timeout_s: float) -> dict[str, float]:
    """Wait (bounded) until the 1-minute load average is at most `max_load`; the load seen."""
    deadline = time.monotonic() + timeout_s
    while psutil.getloadavg()[0] > max_load and time.monotonic() < deadline:
        time.sleep(5)
    return load_average()
