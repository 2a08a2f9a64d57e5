"""The command tree (noun, then verb) and the one place where failures become exit codes.

Everything heavy is imported inside the command that needs it, so `scanctl` reaches its
first request quickly: argparse, http.client and our own small modules, nothing else.
"""

from __future__ import annotations

import argparse
import os
import sys
from urllib.parse import urlsplit

from scanctl import __version__
from scanctl.errors import INTERRUPTED, USAGE, CliError

URL_ENV = "SCAN_API_URL"
OUTPUTS = ("table", "json", "sarif")
EPILOG = """\
exit codes: 0 passed, 1 a finding reached --fail-on or --fail-on-new, 2 usage or input error,
3 a scan failed or was cancelled, 4 credentials refused, 5 service unreachable or timed out,
130 interrupted (the scans keep running).
configuration: SCAN_API_URL (default http://127.0.0.1:7071), SCAN_API_KEY or SCAN_API_KEY_FILE,
or an Entra ID token: SCAN_API_TOKEN, or SCAN_API_ENTRA_SCOPE to ask az for one."""


def _options(suppress: bool) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """(connection options, connection + output options). Subcommands get them with defaults
    suppressed, so an option given before the subcommand is not reset by it."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    connection = argparse.ArgumentParser(add_help=False)
    group = connection.add_argument_group("connection")
    group.add_argument("--url", default=default(None), help=f"service URL (env {URL_ENV})")
    group.add_argument(
        "--api-key", default=default(None), help="API key (prefer SCAN_API_KEY or a file)"
    )
    group.add_argument(
        "--api-key-file", default=default(None), metavar="FILE", help="file holding the API key"
    )
    group.add_argument(
        "--entra-scope",
        default=default(None),
        metavar="SCOPE",
        help="Entra ID token for SCOPE (api://<app id>/.default) from az (SCAN_API_ENTRA_SCOPE)",
    )
    group.add_argument(
        "-q", "--quiet", action="store_true", default=default(False), help="no progress or notes"
    )
    output = argparse.ArgumentParser(add_help=False, parents=[connection])
    output.add_argument(
        "-o",
        "--output",
        choices=OUTPUTS,
        default=default(None),
        help="table (default), json (docs/cli.md has its schema) or sarif",
    )
    return connection, output


def build_parser() -> argparse.ArgumentParser:
    from scanctl.commands import exceptions, scan, scans, targets
    from scanctl.context import Parents

    _, top_output = _options(suppress=False)
    parser = argparse.ArgumentParser(
        prog="scanctl",
        description="Command-line client of the scan service: targets, scans, reports, gates.",
        epilog=EPILOG,
        parents=[top_output],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"scanctl {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    connection, output = _options(suppress=True)
    parents = Parents(connection=[connection], all=[output])
    scan.add_parser(commands, parents)
    scans.add_parser(commands, parents)
    targets.add_parser(commands, parents)
    exceptions.add_parser(commands, parents)
    return parser


def _warn_plain_http(url: str, has_key: bool) -> None:
    parts = urlsplit(url)
    if (
        has_key
        and parts.scheme == "http"
        and parts.hostname not in ("127.0.0.1", "localhost", "::1")
    ):
        from scanctl.views.console import note

        note(f"warning: sending the API key unencrypted to {parts.hostname} (use https://)")


def run(argv: list[str]) -> int:
    from scanctl import credentials
    from scanctl.client import DEFAULT_URL, ApiClient
    from scanctl.context import Context

    args = build_parser().parse_args(argv)
    url = args.url or os.environ.get(URL_ENV) or DEFAULT_URL
    credential = credentials.resolve(args.api_key, args.api_key_file, entra_scope=args.entra_scope)
    _warn_plain_http(url, credential is not None)
    follow = f" --url {url}" if args.url else ""
    ctx = Context(
        client=ApiClient(url, credential),
        output=getattr(args, "output", None) or "table",
        quiet=args.quiet,
        follow_options=follow,
    )
    code: int = args.run(ctx, args)
    return code


def main(argv: list[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except CliError as exc:
        print(f"error: {exc.message}", file=sys.stderr)  # noqa: T201
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)  # noqa: T201
        return INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): nothing more to say, and nowhere to say it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return USAGE
