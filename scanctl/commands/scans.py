"""`scanctl scans ...`: list, show, watch, cancel, report (and diff) of scans by id."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from scanctl.commands.follow import add_wait_options, follow, sarif_of
from scanctl.context import Context, Parents
from scanctl.documents import diff_output, scans_output
from scanctl.errors import PASSED, UsageError
from scanctl.views import tables
from scanctl.views.console import note
from scanctl.waiting import with_findings

KINDS = ("repository", "host", "subscription")
STATUSES = ("queued", "pending", "running", "completed", "failed", "cancelled")
REPORT_FORMATS = ("json", "sarif", "csv", "html")
CONTROL_STATUSES = ("pass", "fail", "error", "not-applicable", "not-checked")
ENDED = ("completed", "failed", "cancelled")
MAX_PAGE = 100


def add_parser(commands: Any, common: Parents) -> None:
    scans = commands.add_parser("scans", help="list, show, watch, cancel and report scans")
    verbs = scans.add_subparsers(dest="verb", metavar="COMMAND", required=True)

    listing = verbs.add_parser("list", parents=common.all, help="scans, newest first")
    listing.add_argument("--kind", choices=KINDS, help="only scans of this kind of target")
    listing.add_argument("--target", metavar="ID", help="only scans of this target id")
    listing.add_argument("--status", choices=STATUSES, help="only scans in this status")
    listing.add_argument("--limit", type=int, default=20, help="scans per page (1-100, default 20)")
    listing.add_argument("--page-token", metavar="TOKEN", help="the page after this token")
    listing.add_argument("--all", action="store_true", help="every page, not only the first")
    listing.set_defaults(run=list_scans)

    show = verbs.add_parser("show", parents=common.all, help="one scan in detail")
    show.add_argument("scan_id", metavar="SCAN_ID")
    show.add_argument("--items", action="store_true", help="also each rule's or command's result")
    show.set_defaults(run=show_scan)

    watch = verbs.add_parser(
        "watch", parents=common.all, help="follow running scans to their end (like scan --wait)"
    )
    watch.add_argument("scan_ids", nargs="+", metavar="SCAN_ID")
    add_wait_options(watch)
    watch.set_defaults(run=watch_scans)

    cancel = verbs.add_parser("cancel", parents=common.all, help="stop scans (their results stay)")
    cancel.add_argument("scan_ids", nargs="+", metavar="SCAN_ID")
    cancel.set_defaults(run=cancel_scans)

    diff = verbs.add_parser(
        "diff", parents=common.all, help="what changed since the previous scan (or another)"
    )
    diff.add_argument("scan_id", metavar="SCAN_ID")
    diff.add_argument(
        "--against",
        default="previous",
        metavar="previous|SCAN_ID",
        help="the scan to compare with (default: the target's previous completed scan)",
    )
    diff.set_defaults(run=diff_scans)

    # Without the output options: here -o names the file to write, --format the document's.
    report = verbs.add_parser(
        "report", parents=common.connection, help="a scan's findings report as a file"
    )
    report.add_argument("scan_id", metavar="SCAN_ID")
    report.add_argument(
        "--format",
        choices=(*REPORT_FORMATS, "table"),
        help="json (default), sarif, csv or html; with --framework: table (default) or json",
    )
    report.add_argument(
        "--framework",
        metavar="NAME",
        help="a subscription scan per control of a compliance framework: cis-azure",
    )
    report.add_argument(
        "--status",
        choices=CONTROL_STATUSES,
        help="with --framework as a table: only the controls in this status",
    )
    report.add_argument("-o", "--output", dest="file", metavar="FILE", help="default: stdout")
    report.set_defaults(run=report_scan)


def list_scans(ctx: Context, args: argparse.Namespace) -> int:
    ctx.refuse_sarif("scans list")
    if not 1 <= args.limit <= MAX_PAGE:
        raise UsageError(f"--limit must be between 1 and {MAX_PAGE}")
    scans: list[dict[str, Any]] = []
    token = args.page_token
    while True:
        page = ctx.client.scans(args.kind, args.target, args.status, args.limit, token)
        scans += page.get("items") or []
        token = page.get("continuationToken")
        if not (args.all and token):
            break
    if ctx.output == "json":
        ctx.print_json(scans_output(scans, ctx.client.url, continuation=token))
        return PASSED
    if not scans:
        note("No scans match." if args.kind or args.target or args.status else "No scans yet.")
        return PASSED
    tables.scan_list(scans)
    if token and not ctx.quiet:
        note(f"More scans: add --page-token {token} (or --all for every page)")
    return PASSED


def show_scan(ctx: Context, args: argparse.Namespace) -> int:
    scan = ctx.client.scan(args.scan_id, items=args.items)
    if scan.get("status") in ENDED:
        scan = with_findings(ctx.client, scan)
    if ctx.output == "json":
        ctx.print_json(scans_output([scan], ctx.client.url))
    elif ctx.output == "sarif":
        ctx.print_json(sarif_of(ctx, [scan]))
    else:
        tables.scan_detail(scan)
    return PASSED


def watch_scans(ctx: Context, args: argparse.Namespace) -> int:
    if len(set(args.scan_ids)) != len(args.scan_ids):
        raise UsageError("a scan is named twice")
    scans = [ctx.client.scan(scan_id) for scan_id in args.scan_ids]
    return follow(ctx, args, scans)


def cancel_scans(ctx: Context, args: argparse.Namespace) -> int:
    ctx.refuse_sarif("scans cancel")
    cancelled = [ctx.client.cancel(scan_id) for scan_id in args.scan_ids]
    if ctx.output == "json":
        ctx.print_json(scans_output(cancelled, ctx.client.url))
    else:
        tables.scan_list(cancelled)
    return PASSED


def diff_scans(ctx: Context, args: argparse.Namespace) -> int:
    if ctx.output == "sarif":  # SARIF 2.1.0 with baselineState, as the service renders it
        sys.stdout.buffer.write(ctx.client.diff(args.scan_id, args.against, "sarif"))
        sys.stdout.write("\n")
        return PASSED
    comparison = json.loads(ctx.client.diff(args.scan_id, args.against))
    if ctx.output == "json":
        ctx.print_json(diff_output(comparison))
    else:
        tables.comparison(comparison)
    return PASSED


def report_scan(ctx: Context, args: argparse.Namespace) -> int:
    if args.file in (*REPORT_FORMATS, "table") and not os.path.exists(args.file):
        raise UsageError(
            f"-o names the file to write; for a {args.file} report use --format {args.file}"
        )
    if args.framework is not None:
        return framework_report(ctx, args)
    if args.format == "table" or args.status:
        raise UsageError("--format table and --status go with --framework")
    fmt = args.format or "json"
    body = ctx.client.report(args.scan_id, fmt)
    if args.file in (None, "-"):
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    else:
        with open(args.file, "wb") as file:
            file.write(body)
        if not ctx.quiet:
            note(f"Wrote the {fmt} report of scan {args.scan_id} to {args.file}")
    return PASSED


def framework_report(ctx: Context, args: argparse.Namespace) -> int:
    """A subscription scan per control of a framework: a table, or the service's JSON."""
    fmt = args.format or "table"
    if fmt not in ("table", "json"):
        raise UsageError("a --framework report is a table or JSON: --format table|json")
    if fmt == "table" and args.file not in (None, "-"):
        raise UsageError("-o writes JSON: add --format json to save a framework report")
    document = ctx.client.compliance(args.scan_id, args.framework)
    if fmt == "table":
        tables.compliance(document, args.status)
        return PASSED
    text = json.dumps(document, indent=2) + "\n"
    if args.file in (None, "-"):
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        with open(args.file, "w", encoding="utf-8") as file:
            file.write(text)
        if not ctx.quiet:
            note(f"Wrote the {args.framework} report of scan {args.scan_id} to {args.file}")
    return PASSED
