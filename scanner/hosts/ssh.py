"""SSH sessions with paramiko: connect (directly or through jump hosts, with a deadline and
named failures), run a command (with a deadline), close.

The connection is a `paramiko.Transport` over a socket we open ourselves, with TCP_NODELAY
(each command's small packets would otherwise wait on Nagle's algorithm), or over a
`direct-tcpip` channel of the previous hop when the host is reached through jump hosts (like
OpenSSH's ProxyJump). Every hop's host key is checked against the known keys, under the same
policy, before authentication; there is no AutoAdd anywhere. All connection-level failures
come out as HostScanError with a `Failure` that names them and the hop that failed.

Commands share the connection through a ChannelGate (channels.py): a few session channels at
once, fewer when the server refuses one, and a refused command is queued and tried again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import random
import select
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from scanner.engine import TransientScanError
from scanner.hosts.channels import LIMITS, ChannelGate, LearnedLimits
from scanner.hosts.failures import (
    ConnectionLostError,
    Failure,
    HostScanError,
    SessionRefusedError,
)
from scanner.hosts.host_keys import HostKeyVerifier, KnownHostKey, preferred_algorithms

log = logging.getLogger(__name__)
# paramiko logs every connection at INFO and every failure at ERROR, with its traceback; each
# failure reaches this module as an exception and is named in the failure taxonomy (or, for a
# refused channel, handled), so paramiko's own lines would only say it twice, noisily.
logging.getLogger("paramiko").setLevel(logging.CRITICAL)

MAX_OUTPUT_BYTES = 16 * 1024 * 1024
_READ_CHUNK = 65536
# A command whose channel the server refuses tries again after a pause that doubles each
# time (0.05 s, 0.1 s, ...), this many times at most (1.55 s in all).
REFUSALS_PER_COMMAND = 5
_REFUSAL_BACKOFF_S = 0.05
# How long a channel closed without an exit status waits to learn whether its whole connection
# went down (paramiko closes the channels before the transport reads as inactive).
_CONNECTION_SETTLE_S = 0.5
# A command waits for a free channel at most this many command timeouts.
QUEUE_WAIT_TIMEOUTS = 3


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
    """The private key, read through `read_text` (a file, an app setting, a Key Vault secret)
    and parsed once, then again after `ttl_s` (so a rotated key is picked up). The passphrase
    is a string, or read with the key through a callable."""

    def __init__(
        self,
        read_text: Callable[[], str],
        passphrase: str | Callable[[], str | None] | None = None,
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
                    passphrase = (
                        self._passphrase() if callable(self._passphrase) else self._passphrase
                    )
                except (HostScanError, TransientScanError):
                    raise
                except Exception as exc:
                    raise HostScanError(
                        Failure.CONFIGURATION,
                        f"the SSH private key cannot be fetched ({type(exc).__name__})",
                    ) from exc
                self._key = load_private_key(text, passphrase)
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


@dataclass(frozen=True)
class Hop:
    """A jump host on the way to the target: where, who logs in, with which key."""

    endpoint: Endpoint
    key: PrivateKeySource


@dataclass(frozen=True)
class _Names:
    """How messages name one hop: `label` (where) and `who` (user@where)."""

    label: str
    who: str
    host: str  # as in "cannot resolve ..."

    @classmethod
    def of(cls, endpoint: Endpoint, jump: bool, via: Endpoint | None) -> _Names:
        role = "jump host " if jump else ""
        after = f" (via jump host {via})" if via is not None and not jump else ""
        return cls(
            f"{role}{endpoint}{after}",
            f"{role}{endpoint.username}@{endpoint}{after}",
            f"{role}{endpoint.host}",
        )


def _resolve(endpoint: Endpoint, names: _Names, deadline: float) -> list[Any]:
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
        raise HostScanError(Failure.TIMEOUT, f"resolving {names.host} took too long")
    error = answer.get("error")
    if isinstance(error, socket.gaierror | UnicodeError):
        reason = error.strerror if isinstance(error, socket.gaierror) else str(error)
        raise HostScanError(Failure.DNS_FAILURE, f"cannot resolve {names.host} ({reason})")
    if error is not None:
        raise HostScanError(Failure.CONNECTION_FAILED, f"{names.label}: {error}")
    addresses: list[Any] = answer.get("addresses") or []
    if not addresses:
        raise HostScanError(Failure.DNS_FAILURE, f"{names.host} has no address")
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


def _no_connection(names: _Names, timeout_s: float) -> HostScanError:
    return HostScanError(
        Failure.TIMEOUT, f"no TCP connection to {names.label} within {timeout_s:g} s"
    )


def _open_socket(
    endpoint: Endpoint, names: _Names, deadline: float, timeout_s: float
) -> socket.socket:
    addresses = _resolve(endpoint, names, deadline)
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
            last = HostScanError(Failure.CONNECTION_REFUSED, names.label)
        except TimeoutError:
            last = _no_connection(names, timeout_s)
        except OSError as exc:
            last = HostScanError(
                Failure.CONNECTION_FAILED, f"{names.label}: {exc.strerror or type(exc).__name__}"
            )
        sock.close()
    raise last or _no_connection(names, timeout_s)


# RFC 4254 reasons a server gives for refusing a channel.
_ADMINISTRATIVELY_PROHIBITED = 1


def _forward(
    through: paramiko.Transport,
    via: _Names,
    endpoint: Endpoint,
    names: _Names,
    deadline: float,
    timeout_s: float,
) -> paramiko.Channel:
    """A `direct-tcpip` channel from the jump host `through` to `endpoint`: the next hop's
    socket. The jump host's refusals are told in the failure taxonomy."""
    remaining = max(0.01, deadline - time.monotonic())
    try:
        return through.open_channel(
            "direct-tcpip", (endpoint.host, endpoint.port), ("127.0.0.1", 0), timeout=remaining
        )
    except paramiko.ChannelException as exc:
        said = getattr(through, "refusal_reason", "")
        reason = str(said or exc.text or "").strip()[:160]
        if exc.code == _ADMINISTRATIVELY_PROHIBITED:
            raise HostScanError(
                Failure.CONNECTION_FAILED,
                f"{via.label} does not allow TCP forwarding to {endpoint} ({reason or 'refused'})",
            ) from exc
        lowered = reason.lower()
        if "refused" in lowered:
            raise HostScanError(Failure.CONNECTION_REFUSED, names.label) from exc
        if "timed out" in lowered:
            raise _no_connection(names, timeout_s) from exc
        if any(
            w in lowered for w in ("name or service", "name resolution", "resolve", "unknown host")
        ):
            raise HostScanError(
                Failure.DNS_FAILURE, f"{via.label} cannot resolve {endpoint.host} ({reason})"
            ) from exc
        raise HostScanError(
            Failure.CONNECTION_FAILED,
            f"{via.label} cannot connect to {endpoint} ({reason or 'it refused'})",
        ) from exc
    except (paramiko.SSHException, EOFError, OSError) as exc:
        if not through.is_active():
            raise HostScanError(
                Failure.CONNECTION_FAILED, f"{via.label} closed the connection"
            ) from exc
        raise _no_connection(names, timeout_s) from exc


class _Transport(paramiko.Transport):  # type: ignore[misc]  # paramiko has no types
    """A paramiko Transport that keeps the reason a server gave for refusing a channel: paramiko
    raises a generic "Connect failed" and only logs the server's words ("Connection refused",
    "Name or service not known"), which say what a jump host met on the way."""

    refusal_reason = ""

    def _log(self, level: int, msg: Any, *args: Any) -> None:
        if isinstance(msg, str) and " open FAILED: " in msg:
            self.refusal_reason = msg.split(" open FAILED: ", 1)[1].rsplit(": ", 1)[0]
        super()._log(level, msg, *args)


def _handshake_failure(names: _Names, transport: paramiko.Transport) -> HostScanError:
    error = transport.get_exception()
    text = str(error or "")
    if isinstance(error, EOFError | ConnectionResetError) or "EOF" in text:
        return HostScanError(
            Failure.CONNECTION_FAILED,
            f"{names.label} closed the connection during the SSH handshake",
        )
    if "banner" in text.lower() or "protocol version" in text.lower():
        return HostScanError(
            Failure.CONNECTION_FAILED, f"{names.label} does not speak SSH ({text[:120]})"
        )
    return HostScanError(
        Failure.CONNECTION_FAILED,
        f"{names.label}: SSH handshake failed ({text[:160] or type(error).__name__})",
    )


def _log_in(
    sock: Any,
    endpoint: Endpoint,
    names: _Names,
    pkey: paramiko.PKey,
    verifier: HostKeyVerifier,
    deadline: float,
    timeout_s: float,
) -> tuple[paramiko.Transport, KnownHostKey]:
    """SSH over `sock`: handshake, host key check, authentication, all by `deadline`."""
    known = verifier.known(endpoint.host, endpoint.port)
    transport = _Transport(sock)
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
                f"{names.label} accepted the connection but "
                + ("did not complete the SSH handshake" if spoke else "sent no SSH banner")
                + f" within {timeout_s:g} s",
            )
        if not transport.is_active():
            if isinstance(sock, paramiko.Channel) and not transport.remote_version:
                # The jump host took the connection but could not reach the host (OpenSSH
                # gives up after its own connect timeout and closes the channel).
                raise HostScanError(
                    Failure.TIMEOUT,
                    f"{names.label} sent no SSH banner; the jump host did not reach it",
                )
            raise _handshake_failure(names, transport)
        server_key = transport.get_remote_server_key()
        presented = KnownHostKey(server_key.get_name(), server_key.fingerprint)
        label = names.label if names.label != str(endpoint) else None
        verifier.verify(endpoint.host, endpoint.port, presented, known, label)
        _authenticate(endpoint, names, transport, pkey, deadline, timeout_s)
        return transport, presented
    except BaseException:
        transport.close()
        raise


def connect(
    endpoint: Endpoint,
    key: PrivateKeySource,
    verifier: HostKeyVerifier,
    timeout_s: float,
    jumps: Sequence[Hop] = (),
    limits: LearnedLimits = LIMITS,
) -> SshConnection:
    """Connect (through `jumps`, in order, when given), check every hop's host key,
    authenticate: all within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    hops = [*jumps, Hop(endpoint, key)]
    pkeys = [hop.key.get() for hop in hops]  # a key that cannot be read fails before dialling
    transports: list[paramiko.Transport] = []
    sock: Any = None
    previous: _Names | None = None
    presented: KnownHostKey | None = None
    try:
        for index, (hop, pkey) in enumerate(zip(hops, pkeys, strict=True)):
            jump = index < len(jumps)
            names = _Names.of(hop.endpoint, jump, jumps[-1].endpoint if jumps else None)
            if previous is None:
                sock = _open_socket(hop.endpoint, names, deadline, timeout_s)
            else:
                sock = _forward(transports[-1], previous, hop.endpoint, names, deadline, timeout_s)
            transport, presented = _log_in(
                sock, hop.endpoint, names, pkey, verifier, deadline, timeout_s
            )
            transports.append(transport)
            previous = names
        assert presented is not None
        return SshConnection(
            endpoint,
            transports[-1],
            presented,
            gate=limits.gate(str(endpoint)),
            on_limit=lambda limit: limits.learn(str(endpoint), limit),
            jumps=tuple(transports[:-1]),
        )
    except BaseException:
        for transport in reversed(transports):
            transport.close()
        if sock is not None:
            sock.close()
        raise


def _authenticate(
    endpoint: Endpoint,
    names: _Names,
    transport: paramiko.Transport,
    pkey: paramiko.PKey,
    deadline: float,
    timeout_s: float,
) -> None:
    who = names.who
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
    # Times the server refused or closed this command's channel before it ran.
    refusals: int = 0


class _RefusedError(Exception):
    """The server refused this command's channel, or closed it before the command ran."""


class SshConnection:
    """One authenticated SSH connection; commands may run on it from several threads."""

    def __init__(
        self,
        endpoint: Endpoint,
        transport: paramiko.Transport,
        host_key: KnownHostKey,
        gate: ChannelGate | None = None,
        on_limit: Callable[[int], None] | None = None,
        jumps: tuple[paramiko.Transport, ...] = (),
    ) -> None:
        self.endpoint = endpoint
        self.transport = transport
        self.host_key = host_key
        self.server_version = str(transport.remote_version or "")
        self.gate = gate or ChannelGate()
        self._on_limit = on_limit
        self._jumps = jumps
        self._lock = threading.Condition()
        self._in_flight = 0
        self.last_used = time.monotonic()

    @property
    def alive(self) -> bool:
        return bool(self.transport.is_active()) and all(j.is_active() for j in self._jumps)

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._in_flight > 0

    @property
    def channel_limit(self) -> int:
        """How many commands run at once on this connection (lower once the server refused)."""
        return self.gate.limit

    def close(self) -> None:
        self.transport.close()
        for jump in reversed(self._jumps):
            jump.close()

    def run(
        self, command: str, timeout_s: float, max_bytes: int = MAX_OUTPUT_BYTES
    ) -> CommandOutput:
        """Run one command; its output and exit status, or timed_out past `timeout_s` (counted
        from when it got a channel).

        Raises ConnectionLostError when the connection itself broke, SessionRefusedError when
        the server kept refusing its channel (both transient)."""
        with self._lock:
            self._in_flight += 1
        try:
            return self._run_queued(command, timeout_s, max_bytes)
        finally:
            with self._lock:
                self._in_flight -= 1
                self.last_used = time.monotonic()

    def _run_queued(self, command: str, timeout_s: float, max_bytes: int) -> CommandOutput:
        queue_deadline = time.monotonic() + timeout_s * QUEUE_WAIT_TIMEOUTS
        if not self.gate.acquire(queue_deadline):
            raise SessionRefusedError(
                f"{self.endpoint}: no session channel became free within "
                f"{timeout_s * QUEUE_WAIT_TIMEOUTS:g} s"
            )
        reason = ""
        try:
            for attempt in range(REFUSALS_PER_COMMAND):
                try:
                    output = self._run(command, time.monotonic() + timeout_s, max_bytes)
                except ConnectionLostError:
                    if self.gate.limit > 1:
                        self._learned(self.gate.dropped(), "the server dropped the connection")
                    raise
                except _RefusedError as refused:
                    reason = str(refused)
                    self._refused(reason)
                    # Jitter: commands refused together do not all come back together.
                    pause = _REFUSAL_BACKOFF_S * 2**attempt
                    time.sleep(pause * random.uniform(0.75, 1.25))  # noqa: S311 - not a secret
                    continue
                if attempt:
                    output = dataclasses.replace(output, refusals=attempt)
                return output
        finally:
            self.gate.release()
        raise SessionRefusedError(
            f"{self.endpoint} refused a session channel {REFUSALS_PER_COMMAND} times in a row, "
            f"{self.gate.limit} at a time ({reason})"
        )

    def _refused(self, reason: str) -> None:
        before = self.gate.limit
        limit = self.gate.refused()
        if limit < before:
            self._learned(limit, f"the server refused a session channel ({reason})")

    def _learned(self, limit: int, why: str) -> None:
        if self._on_limit is not None:
            self._on_limit(limit)
        log.info("ssh %s: %s; at most %d channel(s) at once from now", self.endpoint, why, limit)

    def _open_channel(self, deadline: float) -> paramiko.Channel:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        try:
            return self.transport.open_session(timeout=remaining)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            if not self.alive:
                raise ConnectionLostError(f"{self.endpoint}: {exc or 'closed'}") from exc
            if str(exc).startswith("Timeout"):
                raise TimeoutError from exc
            # paramiko tells one opener the server's ChannelException and the others that
            # it was "Unable to open channel"; either way the server said no.
            raise _RefusedError(str(exc) or type(exc).__name__) from exc

    def _run(self, command: str, deadline: float, max_bytes: int) -> CommandOutput:
        self.gate.opening()
        try:
            channel = self._open_channel(deadline)
        except TimeoutError:
            self.gate.closed()
            return CommandOutput("", "", None, timed_out=True)
        except BaseException:
            self.gate.closed()
            raise
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
                raise _RefusedError(
                    f"the server closed the channel before the command ran ({exc or 'closed'})"
                ) from exc
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
            status = channel.recv_exit_status() if channel.exit_status_ready() else None
            if status == -1:  # closed without an exit status
                status = None
            if status is None and not truncated:
                # Closed without an exit status: what the command wrote may be cut short. A
                # connection going down closes its channels a moment before it reads as closed.
                self.transport.join(_CONNECTION_SETTLE_S)
                if not self.alive:
                    raise ConnectionLostError(f"{self.endpoint}: closed while a command ran")
                if not out and not err:
                    # Closed without a word: the server dropped the channel before running it.
                    raise _RefusedError("the server closed the channel without running the command")
            return CommandOutput(_text(out), _text(err), status, truncated=truncated)
        finally:
            watchdog.cancel()
            with contextlib.suppress(Exception):
                channel.close()
            self.gate.closed()


def _text(data: bytes | bytearray) -> str:
    return bytes(data).decode("utf-8", errors="replace")
