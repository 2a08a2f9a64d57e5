"""What a person sees while scans run: a live bar per scan on a terminal (rich), plain lines
elsewhere (CI logs), or nothing with -q. Everything goes to stderr; stdout keeps the result."""

from __future__ import annotations

import time
from typing import Any, Protocol

from scanctl.findings import COUNTS, describe_counts
from scanctl.views.console import console, note

ENDED = ("completed", "failed", "cancelled")


class ProgressView(Protocol):
    def start(self, scans: list[dict[str, Any]]) -> None: ...

    def update(self, scan: dict[str, Any]) -> None: ...

    def stop(self) -> None: ...


def _label(scan: dict[str, Any]) -> str:
    return f"{scan.get('targetType')} {scan.get('targetId')}"


def state_text(scan: dict[str, Any]) -> str:
    """'Evaluate: rule GXP-001' while it runs; 'completed: 2 high' or 'failed: why' at the end."""
    status = str(scan.get("status"))
    if status in ENDED:
        detail = scan.get("errorMessage") or describe_counts(scan.get(COUNTS))
        if detail and detail != "none":
            return f"{status}: {detail}"
        return f"{status}, no findings" if status == "completed" else status
    if status == "pending":
        return "pending"
    phase, step = scan.get("currentPhase") or "", scan.get("currentStep") or ""
    text = f"{phase}: {step}" if step else str(phase)
    return text if len(text) <= 48 else text[:47] + "…"


class QuietView:
    def start(self, scans: list[dict[str, Any]]) -> None:
        pass

    def update(self, scan: dict[str, Any]) -> None:
        pass

    def stop(self) -> None:
        pass


class LinesView:
    """One line whenever a scan's status or phase changes or it gains ten percent."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[Any, ...]] = {}

    def start(self, scans: list[dict[str, Any]]) -> None:
        for scan in scans:
            self.update(scan)

    def update(self, scan: dict[str, Any]) -> None:
        progress = int(scan.get("progress") or 0)
        status = scan.get("status")
        key = (status, scan.get("currentPhase") if status == "running" else None, progress // 10)
        if self.seen.get(str(scan.get("scanId"))) == key:
            return
        self.seen[str(scan.get("scanId"))] = key
        clock = time.strftime("%H:%M:%S")
        note(f"{clock} {_label(scan)} {scan.get('status')} {progress}% {state_text(scan)}")

    def stop(self) -> None:
        pass


class LiveView:
    """A rich Progress: one bar per scan, and a bar for all of them when there are several."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=30),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[state]}"),
            console=console(stderr=True),
            refresh_per_second=8,
        )
        self.tasks: dict[str, Any] = {}
        self.overall: Any = None
        self.ended: set[str] = set()
        self.percent: dict[str, int] = {}

    def start(self, scans: list[dict[str, Any]]) -> None:
        if len(scans) > 1:
            self.overall = self.progress.add_task(
                f"[bold]{len(scans)} scans", total=100 * len(scans), state=""
            )
        for scan in scans:
            self.tasks[str(scan["scanId"])] = self.progress.add_task(
                _label(scan), total=100, state=state_text(scan)
            )
        self.progress.start()
        for scan in scans:
            self.update(scan)

    def update(self, scan: dict[str, Any]) -> None:
        scan_id = str(scan["scanId"])
        task = self.tasks[scan_id]
        status = scan.get("status")
        styles = {"completed": "green", "failed": "red", "cancelled": "yellow"}
        state = state_text(scan)
        if status in styles:
            state = f"[{styles[str(status)]}]{state}[/]"
        self.percent[scan_id] = int(scan.get("progress") or 0)
        self.progress.update(task, completed=self.percent[scan_id], state=state)
        if status in ENDED and scan_id not in self.ended:
            self.ended.add(scan_id)
            self.progress.stop_task(task)
        if self.overall is not None:
            ended = f"{len(self.ended)} of {len(self.tasks)} ended"
            self.progress.update(self.overall, completed=sum(self.percent.values()), state=ended)

    def stop(self) -> None:
        self.progress.stop()


def choose(quiet: bool, interactive: bool) -> ProgressView:
    if quiet:
        return QuietView()
    return LiveView() if interactive else LinesView()
