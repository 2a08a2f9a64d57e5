"""`scanctl scan KIND TARGET...`: start scans, optionally wait for them and gate on them."""

from __future__ import annotations

import argparse
import re
from typing import Any

from scanctl.commands.follow import add_wait_options, follow
from scanctl.commands.targets import add_scope_options, scope_of
from scanctl.context import Context, Parents
from scanctl.documents import scans_output
from scanctl.errors import PASSED, USAGE, ApiError, UsageError
from scanctl.views import tables
from scanctl.views.console import note

START_THREADS = 8
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def add_parser(commands: Any, common: Parents) -> None:
    scan = commands.add_parser(
        "scan",
        help="start scans of repositories, hosts or subscriptions",
        description="Start a scan of each target; with --wait, follow them to the end.",
    )
    kinds = scan.add_subparsers(dest="kind", metavar="KIND", required=True)

    repository = kinds.add_parser(
        "repository", parents=common.all, help="scan registered Git repositories"
    )
    repository.add_argument("targets", nargs="*", metavar="ID", help="registered repository id")
    repository.add_argument("--commit", metavar="SHA", help="scan this commit (one repository)")

    host = kinds.add_parser("host", parents=common.all, help="scan Linux hosts over SSH")
    host.add_argument("targets", nargs="*", metavar="HOST", help="[user@]host[:port]")
    host.add_argument("--port", type=int, help="SSH port of hosts that name none (default 22)")
    host.add_argument("--user", help="login of hosts that name none (default: the service's)")
    host.add_argument("--full", action="store_true", help="full scan: packages, processes, network")

    subscription = kinds.add_parser(
        "subscription",
        parents=common.all,
        help="scan Azure subscriptions",
        description="A scan of each subscription named, or of a registered target by its id; "
        "one scan of several (repeat --subscription) or of a management group.",
    )
    subscription.add_argument(
        "targets",
        nargs="*",
        metavar="ID",
        help="subscription id (GUID) or a registered target's id (e.g. mg-contoso)",
    )
    subscription.add_argument(
        "--rules", metavar="ID,ID", help="only these rules (comma-separated rule ids)"
    )
    add_scope_options(subscription)

    for parser in (repository, host, subscription):
        parser.add_argument(
            "-f", "--from-file", metavar="FILE", help="more targets, one per line ('-': stdin)"
        )
        parser.add_argument("--wait", action="store_true", help="follow the scans to their end")
        add_wait_options(parser)
        parser.set_defaults(run=run)


def _rules(text: str | None) -> list[str] | None:
    return [r.strip() for r in text.split(",") if r.strip()] if text else None


def _registered_scope(ctx: Context | None, target: str) -> dict[str, Any]:
    """A subscription id as it is; another id names a registered target of several
    subscriptions (or a management group), whose scope the scan repeats."""
    if GUID.match(target) or ctx is None:
        return {"subscriptionId": target}
    registered = ctx.client.target("subscriptions", target)
    for field in ("managementGroupId", "subscriptionIds", "subscriptionId"):
        if registered.get(field):
            return {field: registered[field]}
    raise UsageError(f"subscription target {target!r} names no subscription")


def requests_for(args: argparse.Namespace, ctx: Context | None = None) -> list[dict[str, Any]]:
    """The POST /api/v1/scans bodies, one per target."""
    from scanctl.targets_input import parse_host, read_lines

    targets = list(args.targets) + (read_lines(args.from_file) if args.from_file else [])
    if args.kind == "subscription" and (args.subscriptions or args.management_group):
        if targets:
            raise UsageError(
                "--subscription and --management-group make one scan; name no other target"
            )
        scope = scope_of(None, args.subscriptions, args.management_group)
        return [{"targetType": "subscription", **scope, "rules": _rules(args.rules)}]
    if not targets:
        raise UsageError(f"name at least one {args.kind} to scan (or --from-file FILE)")
    if len(set(targets)) != len(targets):
        raise UsageError("a target is named twice")
    if args.kind == "repository":
        if args.commit and len(targets) > 1:
            raise UsageError("--commit applies to one repository; name only one")
        return [
            {"targetType": "repository", "repositoryId": t, "commitSha": args.commit}
            for t in targets
        ]
    if args.kind == "subscription":
        return [
            {"targetType": "subscription", **_registered_scope(ctx, t), "rules": _rules(args.rules)}
            for t in targets
        ]
    bodies = []
    for text in targets:
        spec = parse_host(text)
        body: dict[str, Any] = {
            "targetType": "host",
            "hostname": spec.hostname,
            "port": spec.port or args.port or 22,
            "scanType": "full" if args.full else "quick",
        }
        if spec.username or args.user:
            body["username"] = spec.username or args.user
        bodies.append(body)
    return bodies


def _start(ctx: Context, bodies: list[dict[str, Any]]) -> list[dict[str, Any] | ApiError]:
    """Start every scan (side by side when several); per target, its scan or the API's refusal.
    Refusals that concern all targets (credentials, the service down) end the command at once.
    """

    def one(body: dict[str, Any]) -> dict[str, Any] | ApiError:
        try:
            return ctx.client.start_scan({k: v for k, v in body.items() if v is not None})
        except ApiError as exc:
            if exc.exit_code != USAGE:
                raise
            return exc

    if len(bodies) == 1:
        return [one(bodies[0])]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(START_THREADS, len(bodies))) as pool:
        return list(pool.map(one, bodies))


def _name(body: dict[str, Any]) -> str:
    if body["targetType"] == "host":
        return f"host {body['hostname']}-{body['port']}"
    if body.get("managementGroupId"):
        return f"management group {body['managementGroupId']}"
    if body.get("subscriptionIds"):
        return f"{len(body['subscriptionIds'])} subscriptions"
    return f"{body['targetType']} {body.get('repositoryId') or body.get('subscriptionId')}"


def run(ctx: Context, args: argparse.Namespace) -> int:
    bodies = requests_for(args, ctx)
    wait = args.wait or args.fail_on is not None or args.fail_on_new or ctx.output == "sarif"
    started: list[dict[str, Any]] = []
    refused = 0
    for body, outcome in zip(bodies, _start(ctx, bodies), strict=True):
        if isinstance(outcome, ApiError):
            refused += 1
            active = outcome.body.get("activeScanId")
            hint = f"; follow it with: {ctx.suggest(f'scans watch {active}')}" if active else ""
            note(f"error: {_name(body)}: {outcome.message}{hint}")
        else:
            started.append(outcome)
    if not started:
        return USAGE
    if wait:
        code = follow(ctx, args, started)
    else:
        if ctx.output == "json":
            ctx.print_json(scans_output(started, ctx.client.url))
        else:
            tables.accepted(started)
            if not ctx.quiet:
                ids = " ".join(str(s["scanId"]) for s in started)
                note(f"Follow with: {ctx.suggest(f'scans watch {ids}')}")
        code = PASSED
    # A target the service refused is an input error, unless something worse happened.
    return max(code, USAGE) if refused and code in (PASSED, 1) else code
