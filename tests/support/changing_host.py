"""A Linux host whose OS release and package database a test can change between two scans.

An sshd with a ForceCommand wrapper: the OS release is a file beside the wrapper, and a fake
`dpkg-query` first on PATH prints a package database file; every other command runs for real.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from tests.support.sshd import Sshd

FORCE_COMMAND = r"""#!/bin/sh
HERE=$(dirname "$0")
case "$SSH_ORIGINAL_COMMAND" in
  *os-release*) exec cat "$HERE/os-release" ;;
esac
PATH="$HERE/bin:$PATH" exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"
"""
_FAKE_DPKG_QUERY = """#!/bin/sh
exec cat "$(dirname "$0")/../dpkg-status.tsv"
"""


def os_release(version: str, codename: str) -> str:
    """/etc/os-release of a Debian release."""
    return (
        f'PRETTY_NAME="Debian GNU/Linux {version} ({codename})"\nNAME="Debian GNU/Linux"\n'
        f'VERSION_ID="{version}"\nVERSION="{version} ({codename})"\n'
        f"VERSION_CODENAME={codename}\nID=debian\n"
    )


BOOKWORM = os_release("12", "bookworm")
TRIXIE = os_release("13", "trixie")


def changing_host(authorized_keys: list[str]) -> Sshd:
    """The sshd (not started) whose reports `report` sets."""
    return Sshd(authorized_keys, force_command=FORCE_COMMAND)


def report(server: Sshd, os_release: str, packages: Mapping[str, str]) -> None:
    """What the host reports from now on: its OS release and installed packages (name ->
    version, amd64), as files owned by the server's login user."""
    account = server.account
    bin_dir = server.dir / "bin"
    bin_dir.mkdir(exist_ok=True)
    files = {
        bin_dir / "dpkg-query": _FAKE_DPKG_QUERY,
        server.dir / "os-release": os_release,
        server.dir / "dpkg-status.tsv": "".join(
            f"ii \t{name}\t{version}\tamd64\n" for name, version in sorted(packages.items())
        ),
    }
    for path, text in files.items():
        path.write_text(text)
        path.chmod(0o755)
    for path in (bin_dir, *files):
        os.chown(path, account.pw_uid, account.pw_gid)
