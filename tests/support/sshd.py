"""Real OpenSSH servers on loopback for the host-scan tests and benchmark.

Each `Sshd` is its own `/usr/sbin/sshd -D -e -f CONFIG` process with its own host key, port,
authorized key and config, running as a non-root login user (created here when missing):
logins to a non-root sshd are much faster than root logins, and a non-root sshd needs no
/run/sshd. `make test` installs openssh-server when it is missing.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from scanner.hosts.host_keys import KnownHostKey

SSHD = Path("/usr/sbin/sshd")
SFTP_SERVER = Path("/usr/lib/openssh/sftp-server")
LOGIN_USER = "hostscan"

# A host that answers like FreeBSD: uname says so; Linux files and tools are missing.
BSD_FORCE_COMMAND = r"""#!/bin/sh
case "$SSH_ORIGINAL_COMMAND" in
  *"uname -s"*) printf 'FreeBSD\n14.1-RELEASE\namd64\n' ;;
  *hostname*) echo bsd-test-host ;;
  *) echo "sh: ${SSH_ORIGINAL_COMMAND%% *}: not found" >&2; exit 127 ;;
esac
"""

# A Linux host on which reading /proc/meminfo fails; every other command runs normally.
MEMINFO_FAILS_FORCE_COMMAND = r"""#!/bin/sh
case "$SSH_ORIGINAL_COMMAND" in
  *meminfo*) echo "cat: /proc/meminfo: Permission denied" >&2; exit 1 ;;
esac
exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"
"""

# A Linux host on which reading /proc/uptime hangs (past any sane command timeout).
UPTIME_HANGS_FORCE_COMMAND = r"""#!/bin/sh
case "$SSH_ORIGINAL_COMMAND" in
  *uptime*) exec sleep 60 ;;
esac
exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"
"""

# Shell lines that find this session's processes: `$server` the connection's sshd, `$shell`
# the process sshd started for the command (its child).
_SESSION_PROCESSES = r"""server=$$; shell=$$
while [ "$(cat /proc/$server/comm)" != sshd ]; do
  shell=$server; server=$(cut -d' ' -f4 /proc/$server/stat)
done
"""

# A Linux host whose connection goes down the first time the kernel is asked for, after the
# first line of the answer went out; from then on every command runs normally.
CONNECTION_LOST_ONCE_FORCE_COMMAND = (
    r"""#!/bin/sh
case "$SSH_ORIGINAL_COMMAND" in
  *"uname -s"*)
    if mkdir "$0.lost" 2>/dev/null; then
"""
    + _SESSION_PROCESSES
    + r"""      uname -s; sleep 0.3; kill -9 "$server"; sleep 5
    fi ;;
esac
exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"
"""
)

# A Linux host on which reading /proc/meminfo is killed by a signal after its first line.
MEMINFO_KILLED_FORCE_COMMAND = (
    r"""#!/bin/sh
case "$SSH_ORIGINAL_COMMAND" in
  *meminfo*)
"""
    + _SESSION_PROCESSES
    + r"""    head -n 1 /proc/meminfo; sleep 0.3; kill -9 "$shell" $$ ;;
esac
exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"
"""
)

_user_lock = threading.Lock()


def require_sshd() -> None:
    if not SSHD.is_file():
        raise RuntimeError(
            f"{SSHD} is missing: install openssh-server (`make test` does it for you)"
        )


def ensure_login_user(name: str = LOGIN_USER) -> pwd.struct_passwd:
    """The non-root user the test servers run as and log in (created once, idempotent)."""
    with _user_lock:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
        if os.geteuid() != 0:
            raise RuntimeError(f"user {name!r} is missing and only root can create it")
        result = subprocess.run(
            ["useradd", "--create-home", "--shell", "/bin/sh", name],
            capture_output=True,
            text=True,
            check=False,
        )
        # 9: created meanwhile by someone else.
        if result.returncode not in (0, 9):
            raise RuntimeError(f"useradd {name} failed: {result.stderr.strip()}")
        # A locked account ('!') is refused by sshd without PAM; '*' allows key logins only.
        subprocess.run(["usermod", "-p", "*", name], check=True, capture_output=True)
        return pwd.getpwnam(name)


def make_key(path: Path, key_type: str = "ed25519", comment: str = "host-scan-test") -> Path:
    """A new passphrase-less key pair (`path`, `path`.pub); returns the private key path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in (path, path.with_name(path.name + ".pub")):
        old.unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", key_type, "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def public_key(private_key: Path) -> str:
    return private_key.with_name(private_key.name + ".pub").read_text().strip()


def fingerprint(public_key_line: str) -> str:
    """OpenSSH's SHA256 fingerprint of a public key line (`type base64 [comment]`)."""
    blob = base64.b64decode(public_key_line.split()[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch(command: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start a server in a process group of its own (so that stop_server also stops the
    sessions it forks), its output appended to `log_path`."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
        )


def wait_until_ready(
    process: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    name: str,
    timeout: float,
    log: Callable[[], str],
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited:\n{log()}")
        if ready():
            return
        time.sleep(0.01)
    raise RuntimeError(f"{name} not ready in {timeout}s:\n{log()}")


def stop_server(process: subprocess.Popen[bytes] | None) -> None:
    """Stop a server started in its own process group, and the sessions it forked."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


class MemoryKnownHosts:
    """Known host keys in memory (the service keeps them in Table Storage)."""

    def __init__(self) -> None:
        self.keys: dict[tuple[str, int], list[KnownHostKey]] = {}

    def lookup(self, host: str, port: int) -> list[KnownHostKey]:
        return list(self.keys.get((host, port), []))

    def remember(self, host: str, port: int, key: KnownHostKey) -> bool:
        self.keys.setdefault((host, port), []).append(key)
        return True


class Sshd:
    """One sshd on 127.0.0.1 with its own folder (host key, config, authorized_keys)."""

    def __init__(
        self,
        authorized_keys: list[str],
        user: str = LOGIN_USER,
        force_command: str | None = None,
        host_key_type: str = "ed25519",
        port: int | None = None,
        extra_config: tuple[str, ...] = (),
        listen_address: str = "127.0.0.1",
        netns: list[str] | None = None,
        allow_forwarding: bool = False,
    ) -> None:
        require_sshd()
        self.account = ensure_login_user(user)
        self.user = user
        # Not under pytest's tmp_path: that is root-only (0700) and the server runs as `user`.
        self.dir = Path(tempfile.mkdtemp(prefix="sshd-"))
        os.chown(self.dir, self.account.pw_uid, self.account.pw_gid)
        self.dir.chmod(0o700)
        self.port = port or free_port()
        self.host_key_type = host_key_type
        self.extra_config = extra_config
        self.listen_address = listen_address
        # Start the server with this command prefix (e.g. `ip netns exec NAME`).
        self.netns = netns or []
        self.allow_forwarding = allow_forwarding
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.dir / "sshd.log"
        (self.dir / "authorized_keys").write_text(
            "".join(k.strip() + "\n" for k in authorized_keys)
        )
        self.force_command: Path | None = None
        if force_command is not None:
            self.force_command = self.dir / "force-command.sh"
            self.force_command.write_text(force_command)
            self.force_command.chmod(0o755)
        self.new_host_key()

    # -- keys and config ---------------------------------------------------------------------

    @property
    def host_key(self) -> Path:
        return self.dir / f"ssh_host_{self.host_key_type}_key"

    @property
    def host_public_key(self) -> str:
        return public_key(self.host_key)

    @property
    def host_key_fingerprint(self) -> str:
        return fingerprint(self.host_public_key)

    @property
    def target_id(self) -> str:
        return f"{self.listen_address}-{self.port}"

    def new_host_key(self) -> None:
        """A fresh host key (takes effect at the next start)."""
        make_key(self.host_key, self.host_key_type, comment=f"sshd-{self.port}")
        self._own(self.host_key, self.host_key.with_name(self.host_key.name + ".pub"))

    def _own(self, *paths: Path) -> None:
        for path in paths:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)

    def _write_config(self) -> Path:
        lines = [
            f"Port {self.port}",
            f"ListenAddress {self.listen_address}",
            f"HostKey {self.host_key}",
            f"PidFile {self.dir / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
            f"AllowUsers {self.user}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "PermitRootLogin no",
            "UseDNS no",
            "PrintMotd no",
            "PrintLastLog no",
            "X11Forwarding no",
            f"AllowTcpForwarding {'yes' if self.allow_forwarding else 'no'}",
            "MaxStartups 200",
            "LogLevel INFO",
        ]
        if SFTP_SERVER.exists():
            lines.append(f"Subsystem sftp {SFTP_SERVER}")
        if self.force_command is not None:
            lines.append(f"ForceCommand {self.force_command}")
        lines += self.extra_config
        config = self.dir / "sshd_config"
        config.write_text("\n".join(lines) + "\n")
        self._own(config, self.dir / "authorized_keys")
        return config

    # -- process ----------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> Sshd:
        config = self._write_config()
        self.log_path.write_bytes(b"")
        self._own(self.log_path)
        command = [str(SSHD), "-D", "-e", "-f", str(config)]
        if os.geteuid() == 0:
            command = [
                "setpriv",
                f"--reuid={self.account.pw_uid}",
                f"--regid={self.account.pw_gid}",
                "--init-groups",
                *command,
            ]
        self.process = launch([*self.netns, *command], self.log_path)
        wait_until_ready(
            self.process, self._listening, f"sshd on port {self.port}", timeout, self.log
        )
        return self

    def _listening(self) -> bool:
        return b"Server listening" in self.log_path.read_bytes()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def connections(self) -> int:
        """Open SSH connections: the listener forks one child per connection."""
        if self.process is None:
            return 0
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return 0
        return len(children)

    def stop(self) -> None:
        process, self.process = self.process, None
        stop_server(process)

    def restart_with_new_host_key(self) -> None:
        self.stop()
        self.new_host_key()
        self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Sshd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.remove()


class SilentServer:
    """A TCP socket on loopback that accepts connections and never says a word."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)  # the kernel completes handshakes; nobody ever answers
        self.port = int(self.sock.getsockname()[1])

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def closed_port() -> int:
    """A loopback port nobody listens on (connection refused)."""
    return free_port()
