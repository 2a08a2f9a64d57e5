"""`scanctl exceptions ...`: accept findings until a date (add), see them (list, show), withdraw
them (remove). Accepted findings stay listed but no longer count for --fail-on."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from scanctl.context import Context, Parents
from scanctl.documents import SCHEMA_VERSION
from scanctl.errors import PASSED, UsageError
from scanctl.views import tables
from scanctl.views.console import note

_RELATIVE = re.compile(r"^(\d{1,6})([dhms])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def add_parser(commands: Any, common: Parents) -> None:
    exceptions = commands.add_parser(
        "exceptions", help="accept findings until a date (a mutelist), list and remove them"
    )
    verbs = exceptions.add_subparsers(dest="verb", metavar="COMMAND", required=True)

    add = verbs.add_parser(
        "add",
        parents=common.all,
        help="accept one finding (--fingerprint) or a rule's findings (--rule, --pattern)",
    )
    which = add.add_mutually_exclusive_group(required=True)
    which.add_argument("--fingerprint", metavar="HEX", help="one finding, by its fingerprint")
    which.add_argument("--rule", metavar="RULE_ID", help="the findings of this rule")
    add.add_argument(
        "--pattern",
        metavar="GLOB",
        help="with --rule: only findings whose resource id, document, file or host subject "
        "matches (case-insensitive glob, e.g. '*/resourceGroups/legacy-*')",
    )
    add.add_argument("--target", metavar="ID", help="only findings of this target")
    add.add_argument("--reason", required=True, help="why the risk is accepted")
    add.add_argument("--owner", required=True, help="who answers for it")
    add.add_argument(
        "--expires",
        required=True,
        metavar="WHEN",
        help="a date or time (2027-03-31, 2027-03-31T12:00Z) or from now (30d, 12h, 90m)",
    )
    add.set_defaults(run=add_exception)

    listing = verbs.add_parser("list", parents=common.all, help="exceptions, expired ones marked")
    listing.add_argument("--status", choices=("active", "expired"), help="only these")
    listing.set_defaults(run=list_exceptions)

    show = verbs.add_parser("show", parents=common.all, help="one exception")
    show.add_argument("exception_id", metavar="ID")
    show.set_defaults(run=show_exception)

    remove = verbs.add_parser(
        "remove", parents=common.all, help="withdraw an exception (its findings count again)"
    )
    remove.add_argument("exception_id", metavar="ID")
    remove.set_defaults(run=remove_exceptions)


def expiry(text: str, now: datetime | None = None) -> str:
    """The ISO time `--expires` names: a date (end of that day, UTC), a time, or `30d`-style."""
    now = now or datetime.now(UTC)
    value = text.strip()
    relative = _RELATIVE.match(value)
    if relative:
        amount, unit = relative.groups()
        return (now + timedelta(**{_UNITS[unit]: int(amount)})).isoformat()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = datetime.fromisoformat(value).replace(tzinfo=UTC)
            return (day + timedelta(days=1) - timedelta(seconds=1)).isoformat()
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--expires {text!r}: give a date (2027-03-31), a time (2027-03-31T12:00Z) "
            "or a span from now (30d, 12h, 90m)"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def exceptions_output(exceptions: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schemaVersion": SCHEMA_VERSION, "kind": "exceptions", "exceptions": exceptions}


def _show(ctx: Context, exceptions: list[dict[str, Any]]) -> None:
    if ctx.output == "json":
        ctx.print_json(exceptions_output(exceptions))
    else:
        tables.exception_list(exceptions)


def add_exception(ctx: Context, args: argparse.Namespace) -> int:
    ctx.refuse_sarif("exceptions add")
    if args.pattern and not args.rule:
        raise UsageError("--pattern goes with --rule")
    body = {
        "fingerprint": args.fingerprint,
        "ruleId": args.rule,
        "resourcePattern": args.pattern,
        "targetId": args.target,
        "reason": args.reason,
        "owner": args.owner,
        "expiresAt": expiry(args.expires),
    }
    made: dict[str, Any] = ctx.client.request(
        "POST", "/api/v1/exceptions", body={k: v for k, v in body.items() if v is not None}
    )
    _show(ctx, [made])
    return PASSED


def list_exceptions(ctx: Context, args: argparse.Namespace) -> int:
    ctx.refuse_sarif("exceptions list")
    page = ctx.client.request("GET", "/api/v1/exceptions", params={"status": args.status})
    found = list(page.get("items") or [])
    if ctx.output != "json" and not found:
        note("No exceptions." if not args.status else f"No {args.status} exceptions.")
        return PASSED
    _show(ctx, found)
    return PASSED


def show_exception(ctx: Context, args: argparse.Namespace) -> int:
    ctx.refuse_sarif("exceptions show")
    _show(ctx, [ctx.client.request("GET", f"/api/v1/exceptions/{_id(args.exception_id)}")])
    return PASSED


def remove_exceptions(ctx: Context, args: argparse.Namespace) -> int:
    ctx.refuse_sarif("exceptions remove")
    exception_id = args.exception_id
    ctx.client.request("DELETE", f"/api/v1/exceptions/{_id(exception_id)}")
    if ctx.output == "json":
        ctx.print_json(
            {
                "schemaVersion": SCHEMA_VERSION,
                "kind": "removed",
                "removed": {"kind": "exception", "id": exception_id},
            }
        )
    elif not ctx.quiet:
        note(f"Removed exception {exception_id}; its findings count again.")
    return PASSED


def _id(value: str) -> str:
    if not re.fullmatch(r"[0-9A-Za-z]{1,64}", value):
        raise UsageError(f"{value[:64]!r} is not an exception id")
    return value
