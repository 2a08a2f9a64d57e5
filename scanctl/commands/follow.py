"""Following scans to their end, shared by `scan --wait` and `scans watch`: the progress view,
Ctrl-C (leave running, or cancel), the gate and the result in the chosen output."""

from __future__ import annotations

import argparse
import json
from typing import Any

from scanctl.context import Context
from scanctl.documents import scans_output
from scanctl.errors import INTERRUPTED, SCAN_FAILED, ApiError, UnreachableError
from scanctl.findings import NEW, Gate, judge, new_from_comparison, new_from_scan
from scanctl.views import progress, tables
from scanctl.views.console import note
from scanctl.waiting import WaitInterrupted, WaitTimeout, wait_for


def seconds(text: str) -> float:
    """A positive number of seconds (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def add_wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fail-on",
        choices=("low", "medium", "high", "critical"),
        help="exit 1 when a finding of this severity or worse is found (implies --wait)",
    )
    parser.add_argument(
        "--fail-on-new",
        action="store_true",
        help="exit 1 when a finding is new since the target's previous scan (with --fail-on: "
        "a new one of that severity or worse); implies --wait",
    )
    parser.add_argument(
        "--timeout",
        type=seconds,
        metavar="SECONDS",
        help="stop waiting after this long (exit 5); the scans go on",
    )
    parser.add_argument(
        "--interval",
        type=seconds,
        default=1.0,
        metavar="SECONDS",
        help="longest pause between two polls (default 1)",
    )
    parser.add_argument(
        "--cancel-on-interrupt",
        action="store_true",
        help="Ctrl-C cancels the scans (default: they keep running)",
    )


def with_new_findings(ctx: Context, scan: dict[str, Any], by_severity: bool) -> dict[str, Any]:
    """A completed scan with its findings new since the target's previous completed scan: the
    count the scan carries, or (for their severities, or when it carries none) the comparison."""
    if scan.get("status") != "completed":
        return scan
    new = None if by_severity else new_from_scan(scan)
    if new is None:
        new = new_from_comparison(json.loads(ctx.client.diff(str(scan["scanId"]), "previous")))
    return {**scan, NEW: new}


def follow_hint(ctx: Context, scan_ids: list[str]) -> str:
    return ctx.suggest("scans watch " + " ".join(scan_ids))


def sarif_of(ctx: Context, scans: list[dict[str, Any]]) -> dict[str, Any]:
    """One SARIF 2.1.0 log with the service's run of each scan."""
    runs: list[Any] = []
    document: dict[str, Any] = {}
    for scan in scans:
        document = json.loads(ctx.client.report(str(scan["scanId"]), "sarif"))
        runs += document.get("runs") or []
    return {
        "$schema": document.get("$schema", "https://json.schemastore.org/sarif-2.1.0.json"),
        "version": "2.1.0",
        "runs": runs,
    }


def show_results(ctx: Context, scans: list[dict[str, Any]], gate: Gate | None) -> None:
    if ctx.output == "json":
        ctx.print_json(scans_output(scans, ctx.client.url, gate=gate.document() if gate else None))
    elif ctx.output == "sarif":
        ctx.print_json(sarif_of(ctx, scans))
    else:
        tables.scan_results(scans)
    # Even with -q: the reasons explain the exit code.
    for reason in gate.reasons if gate is not None else []:
        note(reason)


def _interrupted(ctx: Context, args: argparse.Namespace, running: list[str]) -> int:
    if not running:
        return INTERRUPTED
    if args.cancel_on_interrupt:
        for scan_id in running:
            try:
                ctx.client.cancel(scan_id)
            except ApiError as exc:
                if exc.status != 409:  # 409: it ended meanwhile
                    raise
        note(f"Cancelled {len(running)} scan(s): {' '.join(running)}")
        return SCAN_FAILED
    what = "The scan keeps" if len(running) == 1 else "The scans keep"
    note(f"Stopped watching. {what} running; follow with: {follow_hint(ctx, running)}")
    return INTERRUPTED


def follow(ctx: Context, args: argparse.Namespace, scans: list[dict[str, Any]]) -> int:
    """Wait for `scans`, show them, judge them; the exit code of the command."""
    view = progress.choose(ctx.quiet, ctx.interactive)
    try:
        final = wait_for(ctx.client, scans, view, args.interval, args.timeout)
    except WaitInterrupted as exc:
        return _interrupted(ctx, args, exc.running)
    except WaitTimeout as exc:
        raise UnreachableError(
            f"still running after {args.timeout:g} s; it goes on, follow with: "
            f"{follow_hint(ctx, exc.pending)}"
        ) from None
    if args.fail_on_new:
        by_severity = args.fail_on is not None
        final = [with_new_findings(ctx, scan, by_severity) for scan in final]
    gate = judge(final, args.fail_on, args.fail_on_new)
    show_results(ctx, final, gate)
    return gate.exit_code
