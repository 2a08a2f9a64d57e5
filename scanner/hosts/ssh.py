"""SSH sessions with paramiko: connect (with a deadline and named failures), run a command
(with a deadline), close.

The connection is a `paramiko.Transport` over a socket we open ourselves, with TCP_NODELAY
(each command's small packets would otherwise wait on Nagle's algorithm). The host key is
checked against the known keys before authentication; there is no AutoAdd anywhere. All
connection-level failures come out as HostScanError with a `Failure` that names them.
"""

from __future__ import annotations

import contextlib
import io
import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from scanner.hosts.failures import ConnectionLostError, Failure, HostScanError
from scanner.hosts.host_keys import HostKeyVerifier, KnownHostKey, preferred_algorithms

log = logging.getLogger(__name__)
# paramiko logs every connection and authentication at INFO; our own lines say what matters.
logging.getLogger("paramiko").setLevel(logging.WARNING)

MAX_OUTPUT_BYTES = 16 * 1024 * 1024
_READ_CHUNK = 65536
_CHANNEL_RETRY_S = 0.02


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# -- private keys ---------------------------------------------------------------------------------


def load_private_key(text: str, passphrase: str | None) -> paramiko.PKey:
    """A paramiko key from OpenSSH or PEM private-key text. Errors never contain key text."""
    data = text.encode()
    password = passphrase.encode() if passphrase else None
    try:
        try:
            loaded: Any = serialization.load_ssh_private_key(data, password)
        except ValueError:
            loaded = serialization.load_pem_private_key(data, password)
    except TypeError as exc:  # encrypted without a passphrase, or a passphrase for a plain key
        raise HostScanError(
            Failure.CONFIGURATION,
            "the SSH private key is encrypted and no passphrase is set"
            if password is None
            else "a passphrase is set but the SSH private key is not encrypted",
        ) from exc
    except (ValueError, paramiko.SSHException) as exc:
        raise HostScanError(
            Failure.CONFIGURATION,
            "the SSH private key cannot be read (wrong passphrase or not a private key)",
        ) from exc
    key_class: type[paramiko.PKey]
    if isinstance(loaded, ed25519.Ed25519PrivateKey):
        key_class = paramiko.Ed25519Key
    elif isinstance(loaded, ec.EllipticCurvePrivateKey):
        key_class = paramiko.ECDSAKey
    elif isinstance(loaded, rsa.RSAPrivateKey):
        key_class = paramiko.RSAKey
    else:
        raise HostScanError(Failure.CONFIGURATION, "unsupported SSH private key type")
    try:
        key: paramiko.PKey = key_class.from_private_key(
            io.StringIO(text), password=passphrase or None
        )
    except paramiko.SSHException as exc:
        raise HostScanError(
            Failure.CONFIGURATION, "the SSH private key cannot be read by paramiko"
        ) from exc
    return key


class PrivateKeySource:
    """The private key, read through `read_text` (a file, a Key Vault secret) and parsed once,
    then again after `ttl_s` (so a rotated key is picked up)."""

    def __init__(
        self,
        read_text: Callable[[], str],
        passphrase: str | None = None,
        ttl_s: float = 900.0,
    ) -> None:
        self._read_text = read_text
        self._passphrase = passphrase
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._key: paramiko.PKey | None = None
        self._loaded_at = 0.0

    def get(self) -> paramiko.PKey:
        with self._lock:
            if self._key is None or time.monotonic() - self._loaded_at > self._ttl_s:
                try:
                    text = self._read_text()
                except HostScanError:
                    raise
                except Exception as exc:
                    raise HostScanError(
                        Failure.CONFIGURATION,
                        f"the SSH private key cannot be fetched ({type(exc).__name__})",
                    ) from exc
                self._key = load_private_key(text, self._passphrase)
                self._loaded_at = time.monotonic()
            return self._key


# -- connecting -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    username: str

    def __str__(self) -> str:
        return _where(self.host, self.port)


def _resolve(endpoint: Endpoint, deadline: float) -> list[Any]:
    """getaddrinfo with a deadline (it has none of its own): in a helper thread."""
    answer: dict[str, Any] = {}

    def look_up() -> None:
        try:
            answer["addresses"] = socket.getaddrinfo(
                endpoint.host, endpoint.port, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError) as exc:
            answer["error"] = exc

    worker = threading.Thread(target=look_up, name="ssh-resolve", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if worker.is_alive():
        raise HostScanError(Failure.TIMEOUT, f"resolving {endpoint.host} took too long")
    error = answer.get("error")
    if isinstance(error, socket.gaierror | UnicodeError):
        reason = error.strerror if isinstance(error, socket.gaierror) else str(error)
        raise HostScanError(Failure.DNS_FAILURE, f"cannot resolve {endpoint.host} ({reason})")
    if error is not None:
        raise HostScanError(Failure.CONNECTION_FAILED, f"{endpoint}: {error}")
    addresses: list[Any] = answer.get("addresses") or []
    if not addresses:
        raise HostScanError(Failure.DNS_FAILURE, f"{endpoint.host} has no address")
    return addresses


_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


class _QuickAckSocket(socket.socket):
    """A TCP socket that acknowledges what it receives at once.

    OpenSSH's server keeps Nagle's algorithm on non-interactive sessions: after a few small
    unacknowledged packets (e.g. its post-authentication host-key announcement) it holds the
    next one until they are acknowledged, and a delayed ACK costs ~40 ms (the first command
    on every connection). Re-arming TCP_QUICKACK after each read (Linux) avoids that wait.
    """

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        data = super().recv(bufsize, flags)
        if _QUICKACK is not None:
            with contextlib.suppress(OSError):
                self.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        return data


def _open_socket(endpoint: Endpoint, deadline: float, timeout_s: float) -> socket.socket:
    addresses = _resolve(endpoint, deadline)
    last: HostScanError | None = None
    for family, kind, proto, _, address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock = _QuickAckSocket(family, kind, proto)
        try:
            sock.settimeout(remaining)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.connect(address)
            return sock
        except ConnectionRefusedError:
            last = HostScanError(Failure.CONNECTION_REFUSED, str(endpoint))
        except TimeoutError:
            last = HostScanError(
                Failure.TIMEOUT, f"no TCP connection to {endpoint} within {timeout_s:g} s"
            )
        except OSError as exc:
            last = HostScanError(
                Failure.CONNECTION_FAILED, f"{endpoint}: {exc.strerror or type(exc).__name__}"
            )
        sock.close()
    raise last or HostScanError(
        Failure.TIMEOUT, f"no TCP connection to {endpoint} within {timeout_s:g} s"
    )


def _handshake_failure(endpoint: Endpoint, transport: paramiko.Transport) -> HostScanError:
    error = transport.get_exception()
    text = str(error or "")
    if isinstance(error, EOFError | ConnectionResetError) or "EOF" in text:
        return HostScanError(
            Failure.CONNECTION_FAILED,
            f"{endpoint} closed the connection during the SSH handshake",
        )
    if "banner" in text.lower() or "protocol version" in text.lower():
        return HostScanError(
            Failure.CONNECTION_FAILED, f"{endpoint} does not speak SSH ({text[:120]})"
        )
    return HostScanError(
        Failure.CONNECTION_FAILED,
        f"{endpoint}: SSH handshake failed ({text[:160] or type(error).__name__})",
    )


def connect(
    endpoint: Endpoint,
    key: PrivateKeySource,
    verifier: HostKeyVerifier,
    timeout_s: float,
) -> SshConnection:
    """Connect, check the host key, authenticate: all within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    pkey = key.get()
    known = verifier.known(endpoint.host, endpoint.port)
    sock = _open_socket(endpoint, deadline, timeout_s)
    transport = paramiko.Transport(sock)
    try:
        remaining = max(0.01, deadline - time.monotonic())
        # Our own deadline decides; paramiko's own timers only as a backstop.
        transport.banner_timeout = remaining + 1
        transport.handshake_timeout = remaining + 1
        transport.auth_timeout = remaining + 1
        options = transport.get_security_options()
        options.key_types = preferred_algorithms(known, tuple(options.key_types))
        negotiated = threading.Event()
        transport.start_client(event=negotiated)
        if not negotiated.wait(remaining):
            spoke = bool(transport.remote_version)
            raise HostScanError(
                Failure.TIMEOUT,
                f"{endpoint} accepted the connection but "
                + ("did not complete the SSH handshake" if spoke else "sent no SSH banner")
                + f" within {timeout_s:g} s",
            )
        if not transport.is_active():
            raise _handshake_failure(endpoint, transport)
        server_key = transport.get_remote_server_key()
        presented = KnownHostKey(server_key.get_name(), server_key.fingerprint)
        verifier.verify(endpoint.host, endpoint.port, presented, known)
        _authenticate(endpoint, transport, pkey, deadline, timeout_s)
        return SshConnection(endpoint, transport, presented)
    except BaseException:
        transport.close()
        sock.close()
        raise


def _authenticate(
    endpoint: Endpoint,
    transport: paramiko.Transport,
    pkey: paramiko.PKey,
    deadline: float,
    timeout_s: float,
) -> None:
    who = f"{endpoint.username}@{endpoint}"
    transport.auth_timeout = max(0.01, deadline - time.monotonic())
    try:
        remaining_methods = transport.auth_publickey(endpoint.username, pkey)
    except paramiko.BadAuthenticationType as exc:
        allowed = ", ".join(exc.allowed_types) or "none"
        raise HostScanError(
            Failure.AUTHENTICATION_FAILED,
            f"{who}: the server does not accept public keys (it allows: {allowed})",
        ) from exc
    except paramiko.AuthenticationException as exc:
        if "timeout" in str(exc).lower():
            raise HostScanError(
                Failure.TIMEOUT, f"{who}: no answer to authentication within {timeout_s:g} s"
            ) from exc
        raise HostScanError(
            Failure.AUTHENTICATION_FAILED, f"{who}: the server rejected the public key"
        ) from exc
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise HostScanError(
            Failure.CONNECTION_FAILED, f"{who}: connection broke during authentication"
        ) from exc
    if remaining_methods:
        raise HostScanError(
            Failure.AUTHENTICATION_FAILED,
            f"{who}: the server wants further authentication ({', '.join(remaining_methods)})",
        )


# -- running commands ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandOutput:
    stdout: str
    stderr: str
    exit_status: int | None  # None: no status (timed out, killed by a signal)
    timed_out: bool = False
    truncated: bool = False


class _ChannelRefusedError(Exception):
    """The server kept refusing a session channel until the command's deadline."""


class SshConnection:
    """One authenticated SSH connection; commands may run on it from several threads."""

    def __init__(
        self, endpoint: Endpoint, transport: paramiko.Transport, host_key: KnownHostKey
    ) -> None:
        self.endpoint = endpoint
        self.transport = transport
        self.host_key = host_key
        self.server_version = str(transport.remote_version or "")
        self._lock = threading.Condition()
        self._in_flight = 0
        self.last_used = time.monotonic()

    @property
    def alive(self) -> bool:
        return bool(self.transport.is_active())

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._in_flight > 0

    def close(self) -> None:
        self.transport.close()

    def _open_channel(self, deadline: float) -> paramiko.Channel:
        refused = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _ChannelRefusedError if refused else TimeoutError
            try:
                return self.transport.open_session(timeout=remaining)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                if not self.alive:
                    raise ConnectionLostError(f"{self.endpoint}: {exc or 'closed'}") from exc
                refused = True
                if time.monotonic() >= deadline:
                    raise _ChannelRefusedError from exc
                # The server refused the channel: most likely its limit of sessions per
                # connection (MaxSessions; paramiko reports it as ChannelException to one
                # opener and as a bare SSHException to others). Wait for one of this
                # connection's other commands to finish, then try again.
                with self._lock:
                    self._lock.wait(_CHANNEL_RETRY_S)

    def run(
        self, command: str, timeout_s: float, max_bytes: int = MAX_OUTPUT_BYTES
    ) -> CommandOutput:
        """Run one command; its output and exit status, or timed_out past `timeout_s`.

        Raises ConnectionLostError when the connection itself broke."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._in_flight += 1
        try:
            return self._run(command, deadline, max_bytes)
        finally:
            with self._lock:
                self._in_flight -= 1
                self.last_used = time.monotonic()
                self._lock.notify_all()

    def _run(self, command: str, deadline: float, max_bytes: int) -> CommandOutput:
        try:
            channel = self._open_channel(deadline)
        except _ChannelRefusedError:
            return CommandOutput("", "the server refused to open a session channel", None)
        except TimeoutError:
            return CommandOutput("", "", None, timed_out=True)
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            channel.close()

        # exec_command waits for the server's answer without a timeout of its own.
        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), expire)
        watchdog.daemon = True
        watchdog.start()
        out = bytearray()
        err = bytearray()
        truncated = False
        try:
            try:
                channel.exec_command(command)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                if expired.is_set():
                    return CommandOutput("", "", None, timed_out=True)
                if not self.alive:
                    raise ConnectionLostError(f"{self.endpoint}: {exc or 'closed'}") from exc
                reason = str(exc) or type(exc).__name__
                return CommandOutput("", f"the server refused to run the command ({reason})", None)
            while True:
                while channel.recv_ready():
                    out += channel.recv(_READ_CHUNK)
                while channel.recv_stderr_ready():
                    err += channel.recv_stderr(_READ_CHUNK)
                if len(out) > max_bytes or len(err) > max_bytes:
                    truncated = True
                    break
                if channel.closed or channel.eof_received:
                    if not channel.recv_ready() and not channel.recv_stderr_ready():
                        break
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                select.select([channel], [], [], remaining)
            if not truncated and not expired.is_set():
                channel.status_event.wait(max(0.0, deadline - time.monotonic()))
            if expired.is_set() or (
                not truncated and not channel.exit_status_ready() and time.monotonic() >= deadline
            ):
                return CommandOutput(_text(out), _text(err), None, timed_out=True)
            if not self.alive and not channel.exit_status_ready():
                raise ConnectionLostError(f"{self.endpoint}: closed while a command ran")
            status = channel.recv_exit_status() if channel.exit_status_ready() else None
            if status == -1:  # killed by a signal: no exit status
                status = None
            return CommandOutput(_text(out), _text(err), status, truncated=truncated)
        finally:
            watchdog.cancel()
            with contextlib.suppress(Exception):
                channel.close()


def _text(data: bytes | bytearray) -> str:
    return bytes(data).decode("utf-8", errors="replace")
