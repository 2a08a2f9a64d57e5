"""`scanctl targets ...`: the registry of repositories, hosts and subscriptions, with schedules."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from scanctl.context import Context, Parents
from scanctl.documents import SCHEMA_VERSION, target_document, targets_output
from scanctl.errors import PASSED, UsageError
from scanctl.views import tables
from scanctl.views.console import note

# Kind names people type -> the API's collection.
COLLECTIONS = {
    "repository": "repositories",
    "repositories": "repositories",
    "repo": "repositories",
    "host": "hosts",
    "hosts": "hosts",
    "subscription": "subscriptions",
    "subscriptions": "subscriptions",
    "sub": "subscriptions",
}
KINDS = {"repositories": "repository", "hosts": "host", "subscriptions": "subscription"}
MAX_PAGE = 200


def collection(kind: str) -> str:
    try:
        return COLLECTIONS[kind.lower()]
    except KeyError:
        raise UsageError(
            f"{kind!r} is not a kind of target: repository, host or subscription"
        ) from None


def _schedule_options(parser: argparse.ArgumentParser, update: bool) -> None:
    parser.add_argument(
        "--schedule",
        metavar="CRON",
        help="scan on this cron schedule, UTC: 5 fields ('0 2 * * *') or 6 (seconds first)",
    )
    if update:
        parser.add_argument("--no-schedule", action="store_true", help="stop scheduled scans")


def _kind_options(kind: str, parser: argparse.ArgumentParser, update: bool) -> None:
    if kind == "repository":
        parser.add_argument("--name", help="display name (default: from the URL)")
        if update:
            parser.add_argument("--git-url", metavar="URL", help="its new https:// or ssh URL")
        parser.add_argument("--branch", help="default branch (default main)")
        parser.add_argument(
            "--credentials-ref",
            metavar="NAME",
            help="app setting or Key Vault secret with its token",
        )
    elif kind == "host":
        parser.add_argument("--user", help="SSH login (default: the service's)")
        parser.add_argument(
            "--full",
            action="store_const",
            const="full",
            dest="scan_type",
            help="scheduled scans are full scans",
        )
        parser.add_argument(
            "--quick",
            action="store_const",
            const="quick",
            dest="scan_type",
            help="scheduled scans are quick scans (the default)",
        )
        parser.add_argument("--name", help="display name")
    else:
        parser.add_argument("--name", help="display name")
        parser.add_argument("--rules", metavar="ID,ID", help="only these rules (comma-separated)")
    _schedule_options(parser, update)


def add_parser(commands: Any, common: Parents) -> None:
    targets = commands.add_parser(
        "targets", help="register, list, change and remove targets and their schedules"
    )
    verbs = targets.add_subparsers(dest="verb", metavar="COMMAND", required=True)

    listing = verbs.add_parser("list", parents=common.all, help="registered targets")
    listing.add_argument("--kind", type=collection, help="repository, host or subscription")
    listing.add_argument("--limit", type=int, default=50, help="per kind and page (1-200)")
    listing.add_argument("--page-token", metavar="TOKEN", help="the page after this (with --kind)")
    listing.add_argument("--all", action="store_true", help="every page")
    listing.set_defaults(run=list_targets)

    add = verbs.add_parser("add", help="register a target")
    kinds = add.add_subparsers(dest="kind", metavar="KIND", required=True)
    repository = kinds.add_parser("repository", parents=common.all, help="a Git repository")
    repository.add_argument("git_url", metavar="URL", help="https:// or ssh URL of the repository")
    repository.add_argument("--id", help="its id (default: from the name)")
    host = kinds.add_parser("host", parents=common.all, help="a Linux host reached over SSH")
    host.add_argument("host", metavar="HOST", help="[user@]host[:port]")
    subscription = kinds.add_parser(
        "subscription",
        parents=common.all,
        help="an Azure subscription, several, or a management group",
        description="One target: a subscription, several (repeat --subscription) or a "
        "management group (its subscriptions, found at each scan).",
    )
    subscription.add_argument("subscription_id", nargs="?", metavar="SUBSCRIPTION_ID")
    add_scope_options(subscription)
    for kind, parser in (
        ("repository", repository),
        ("host", host),
        ("subscription", subscription),
    ):
        _kind_options(kind, parser, update=False)
        parser.set_defaults(run=add_target)

    show = verbs.add_parser("show", parents=common.all, help="one target")
    show.add_argument("kind", type=collection, metavar="KIND")
    show.add_argument("target_id", metavar="ID")
    show.set_defaults(run=show_target)

    update = verbs.add_parser("update", help="change a target's settings or schedule")
    kinds = update.add_subparsers(dest="kind", metavar="KIND", required=True)
    for kind in ("repository", "host", "subscription"):
        parser = kinds.add_parser(kind, parents=common.all, help=f"a registered {kind}")
        parser.add_argument("target_id", metavar="ID")
        _kind_options(kind, parser, update=True)
        parser.set_defaults(run=update_target)

    remove = verbs.add_parser("remove", parents=common.all, help="forget a target (its scans stay)")
    remove.add_argument("kind", type=collection, metavar="KIND")
    remove.add_argument("target_id", metavar="ID")
    remove.add_argument("-y", "--yes", action="store_true", help="do not ask")
    remove.set_defaults(run=remove_target)


def add_scope_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--subscription",
        dest="subscriptions",
        action="append",
        default=[],
        metavar="SUBSCRIPTION_ID",
        help="a subscription of the target (repeat it: several subscriptions are one target)",
    )
    parser.add_argument(
        "--management-group",
        metavar="GROUP_ID",
        help="a management group: every subscription under it (found when each scan starts)",
    )


def scope_of(first: str | None, more: list[str], group: str | None) -> dict[str, Any]:
    """What a subscription target covers, as the API names it: `subscriptionId`,
    `subscriptionIds` or `managementGroupId` (the service checks the ids themselves)."""
    ids = ([first] if first else []) + list(more or [])
    if group is not None:
        if ids:
            raise UsageError("name subscriptions or --management-group, not both")
        return {"managementGroupId": group}
    if not ids:
        raise UsageError(
            "name a subscription (or several with --subscription, or --management-group)"
        )
    if len(ids) == 1:
        return {"subscriptionId": ids[0]}
    return {"subscriptionIds": ids}


def repository_name(url: str) -> str:
    """'gxp-docs' for https://host/org/gxp-docs.git, git@host:org/gxp-docs or /srv/gxp-docs/."""
    last = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return last.removesuffix(".git") or url


def _rules(text: str | None) -> list[str] | None:
    return [r.strip() for r in text.split(",") if r.strip()] if text is not None else None


def body_of(args: argparse.Namespace) -> dict[str, Any]:
    """The registration or update body; options not given are left out (they keep their value)."""
    body: dict[str, Any] = {"name": args.name, "schedule": args.schedule}
    if args.kind == "repository":
        body |= {
            "url": getattr(args, "git_url", None),
            "defaultBranch": args.branch,
            "credentialsRef": args.credentials_ref,
        }
        if getattr(args, "id", None):
            body["id"] = args.id
    elif args.kind == "host":
        body |= {"username": args.user, "scanType": args.scan_type}
    else:
        body["rules"] = _rules(args.rules)
    body = {k: v for k, v in body.items() if v is not None}
    if getattr(args, "no_schedule", False):
        if args.schedule:
            raise UsageError("--schedule and --no-schedule contradict each other")
        body["schedule"] = None
    return body


def _show(ctx: Context, target: dict[str, Any]) -> None:
    if ctx.output == "json":
        ctx.print_json(targets_output([target]))
    else:
        tables.target_detail(target_document(target))


def list_targets(ctx: Context, args: argparse.Namespace) -> int:
    ctx.refuse_sarif("targets list")
    if not 1 <= args.limit <= MAX_PAGE:
        raise UsageError(f"--limit must be between 1 and {MAX_PAGE}")
    if args.page_token and not args.kind:
        raise UsageError("--page-token needs --kind (each kind is paged on its own)")
    found: list[dict[str, Any]] = []
    token = None
    for plural in [args.kind] if args.kind else list(KINDS):
        token = args.page_token
        while True:
            page = ctx.client.targets(plural, args.limit, token)
            found += page.get("items") or []
            token = page.get("continuationToken")
            if not (args.all and token):
                break
        if token and not args.kind:
            note(f"More {plural}: use --kind {KINDS[plural]} --page-token {token}")
    if ctx.output == "json":
        ctx.print_json(targets_output(found, token if args.kind else None))
        return PASSED
    if not found:
        note("No targets registered." if not args.kind else f"No {args.kind} registered.")
        return PASSED
    tables.target_list([target_document(t) for t in found])
    if token and args.kind and not ctx.quiet:
        note(f"More targets: add --page-token {token} (or --all for every page)")
    return PASSED


def add_target(ctx: Context, args: argparse.Namespace) -> int:
    ctx.refuse_sarif("targets add")
    body = body_of(args)
    if args.kind == "host":
        from scanctl.targets_input import parse_host

        spec = parse_host(args.host)
        body |= {"hostname": spec.hostname, "port": spec.port or 22}
        if spec.username:
            body["username"] = spec.username
    elif args.kind == "subscription":
        body |= scope_of(args.subscription_id, args.subscriptions, args.management_group)
    else:
        body.setdefault("name", repository_name(args.git_url))
    _show(ctx, ctx.client.add_target(collection(args.kind), body))
    return PASSED


def show_target(ctx: Context, args: argparse.Namespace) -> int:
    ctx.refuse_sarif("targets show")
    _show(ctx, ctx.client.target(args.kind, args.target_id))
    return PASSED


def update_target(ctx: Context, args: argparse.Namespace) -> int:
    ctx.refuse_sarif("targets update")
    body = body_of(args)
    if not body:
        raise UsageError("nothing to change: give at least one option (see --help)")
    _show(ctx, ctx.client.update_target(collection(args.kind), args.target_id, body))
    return PASSED


def remove_target(ctx: Context, args: argparse.Namespace) -> int:
    ctx.refuse_sarif("targets remove")
    kind = KINDS[args.kind]
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("not a terminal to ask on: add --yes to remove without asking")
        answer = input(f"Remove {kind} {args.target_id}? Its scans stay. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            note("Nothing removed.")
            return PASSED
    ctx.client.remove_target(args.kind, args.target_id)
    if ctx.output == "json":
        ctx.print_json(
            {
                "schemaVersion": SCHEMA_VERSION,
                "kind": "removed",
                "removed": {"kind": kind, "id": args.target_id},
            }
        )
    elif not ctx.quiet:
        note(f"Removed {kind} {args.target_id}.")
    return PASSED
