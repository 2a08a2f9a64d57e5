"""Real Dropbear servers with a BusyBox-only userland, on loopback, for the host-scan tests.

Dropbear is the SSH server of routers, NAS boxes and appliances; with a forced command that
runs every command under a PATH holding only BusyBox applets, the host answers like such a
device (or Alpine): BusyBox `ps`, `df`, `ip`, `free`, an `rpm` applet that lists nothing, no
dpkg-query. The server runs as the non-root login user and reads that user's
`~/.ssh/authorized_keys`. `make test` installs dropbear-bin and busybox when missing.

A server may run in a mount namespace of its own (`hide` paths under an empty tmpfs, `add`
files through an overlay), so a test can give it another package database without touching
the machine.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

from tests.support.sshd import (
    LOGIN_USER,
    ensure_login_user,
    fingerprint,
    free_port,
    launch,
    stop_server,
    wait_until_ready,
)

DROPBEAR = Path("/usr/sbin/dropbear")
DROPBEARKEY = Path("/usr/bin/dropbearkey")
BUSYBOX = Path("/bin/busybox")

_keys_lock = threading.Lock()


def require_dropbear() -> None:
    for tool, package in ((DROPBEAR, "dropbear-bin"), (BUSYBOX, "busybox")):
        if not tool.is_file():
            raise RuntimeError(f"{tool} is missing: install {package} (`make test` does it)")


def authorize(account: pwd.struct_passwd, public_key: str) -> None:
    """Add a public key to the login user's ~/.ssh/authorized_keys (Dropbear reads only that)."""
    ssh_dir = Path(account.pw_dir) / ".ssh"
    keys = ssh_dir / "authorized_keys"
    with _keys_lock:
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        present = keys.read_text().splitlines() if keys.exists() else []
        if public_key.strip() not in present:
            keys.write_text("".join(line + "\n" for line in [*present, public_key.strip()]))
        keys.chmod(0o600)
        for path in (ssh_dir, keys):
            os.chown(path, account.pw_uid, account.pw_gid)


class Dropbear:
    """One Dropbear on 127.0.0.1 whose sessions see only BusyBox (see the module docstring)."""

    def __init__(
        self,
        authorized_key: str,
        user: str = LOGIN_USER,
        hide: tuple[str, ...] = (),
        add: dict[str, Path] | None = None,
    ) -> None:
        require_dropbear()
        self.account = ensure_login_user(user)
        authorize(self.account, authorized_key)
        self.user = user
        self.hide = hide
        self.add = add or {}
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="dropbear-"))
        self.dir.chmod(0o755)
        self.applets = self.dir / "busybox"
        self.applets.mkdir()
        subprocess.run([str(BUSYBOX), "--install", "-s", str(self.applets)], check=True)
        self.host_key = self.dir / "host_key"
        subprocess.run(
            [str(DROPBEARKEY), "-t", "ed25519", "-f", str(self.host_key)],
            check=True,
            capture_output=True,
        )
        os.chown(self.host_key, self.account.pw_uid, self.account.pw_gid)
        self.force_command = self.dir / "busybox-only.sh"
        self.force_command.write_text(
            f'#!/bin/sh\nPATH={self.applets} exec {BUSYBOX} sh -c "$SSH_ORIGINAL_COMMAND"\n'
        )
        self.force_command.chmod(0o755)
        self.log_path = self.dir / "dropbear.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def host_public_key(self) -> str:
        out = subprocess.run(
            [str(DROPBEARKEY), "-y", "-f", str(self.host_key)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return next(line for line in out.splitlines() if line.startswith("ssh-"))

    @property
    def host_key_fingerprint(self) -> str:
        return fingerprint(self.host_public_key)

    def _namespace_setup(self) -> str:
        """Shell commands run as root in the server's own mount namespace before it starts."""
        steps = [f"mount -t tmpfs -o mode=0755 none {path}" for path in self.hide]
        for index, (target, source) in enumerate(self.add.items()):
            # Overlay `target`'s folder (e.g. /usr/lib) with one that adds `source` at it.
            upper = self.dir / f"overlay-{index}" / "upper"
            work = self.dir / f"overlay-{index}" / "work"
            lower = Path(target).parent
            while not lower.is_dir():
                lower = lower.parent
            placed = upper / Path(target).relative_to(lower)
            placed.parent.mkdir(parents=True)
            work.mkdir(parents=True)
            shutil.copyfile(source, placed)
            placed.chmod(0o644)
            resolved = lower.resolve()
            steps.append(
                f"mount -t overlay overlay -o lowerdir={resolved},upperdir={upper},"
                f"workdir={work} {resolved}"
            )
        return " && ".join(steps)

    def start(self, timeout: float = 10.0) -> Dropbear:
        serve = [
            "setpriv",
            f"--reuid={self.account.pw_uid}",
            f"--regid={self.account.pw_gid}",
            "--init-groups",
            str(DROPBEAR),
            "-F",  # foreground
            "-E",  # log to stderr
            "-s",  # no password logins
            "-p",
            f"127.0.0.1:{self.port}",
            "-r",
            str(self.host_key),
            "-c",
            str(self.force_command),
        ]
        setup = self._namespace_setup()
        if setup:
            quoted = " ".join(f"'{part}'" for part in serve)
            serve = ["unshare", "--mount", "--propagation", "private", "sh", "-c"]
            serve.append(f"{setup} && exec {quoted}")
        self.process = launch(serve, self.log_path)
        name = f"dropbear on port {self.port}"
        wait_until_ready(self.process, self._listening, name, timeout, self.log)
        return self

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        process, self.process = self.process, None
        stop_server(process)

    def __enter__(self) -> Dropbear:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
