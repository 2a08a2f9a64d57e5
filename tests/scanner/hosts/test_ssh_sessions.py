"""SSH sessions against real sshd processes on loopback: connecting, every connection failure
named, commands with deadlines, the per-scan connection cache, private keys."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.hosts.channels import INITIAL_LIMIT, LearnedLimits
from scanner.hosts.connections import ConnectionCache
from scanner.hosts.failures import (
    ConnectionLostError,
    Failure,
    HostScanError,
    SessionRefusedError,
)
from scanner.hosts.host_keys import HostKeyPolicy, HostKeyVerifier, KnownHostKey
from scanner.hosts.ssh import Endpoint, PrivateKeySource, SshConnection, connect, load_private_key
from tests.support.sshd import (
    CONNECTION_LOST_ONCE_FORCE_COMMAND,
    LOGIN_USER,
    MEMINFO_KILLED_FORCE_COMMAND,
    MemoryKnownHosts,
    SilentServer,
    Sshd,
    closed_port,
    make_key,
    public_key,
)


@pytest.fixture(scope="module")
def client_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_key(tmp_path_factory.mktemp("client") / "id_ed25519")


@pytest.fixture(scope="module")
def sshd(client_key: Path) -> Iterator[Sshd]:
    with Sshd([public_key(client_key)]) as server:
        yield server


def key_source(path: Path) -> PrivateKeySource:
    return PrivateKeySource(path.read_text)


def open_to(
    port: int,
    key: Path,
    store: MemoryKnownHosts | None = None,
    timeout: float = 5.0,
    host: str = "127.0.0.1",
    policy: HostKeyPolicy = HostKeyPolicy.ACCEPT_NEW,
    limits: LearnedLimits | None = None,
) -> SshConnection:
    verifier = HostKeyVerifier(store or MemoryKnownHosts(), policy)
    return connect(
        Endpoint(host, port, LOGIN_USER),
        key_source(key),
        verifier,
        timeout,
        limits=limits or LearnedLimits(),
    )


def run_in_parallel(connection: SshConnection, commands: list[str]) -> list[tuple[str, int]]:
    """Each command's stdout (stripped) and how often its channel was refused."""
    outputs: list[tuple[str, int]] = [("", 0)] * len(commands)

    def run(index: int) -> None:
        output = connection.run(commands[index], 10)
        outputs[index] = (output.stdout.strip(), output.refusals)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(commands))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outputs


def failure_of(**kwargs: object) -> HostScanError:
    with pytest.raises(HostScanError) as caught:
        open_to(**kwargs)  # type: ignore[arg-type]
    return caught.value


def test_connects_checks_the_host_key_and_runs_commands(sshd: Sshd, client_key: Path) -> None:
    store = MemoryKnownHosts()
    connection = open_to(sshd.port, client_key, store)
    assert sshd.connections() == 1
    try:
        assert connection.host_key == KnownHostKey("ssh-ed25519", sshd.host_key_fingerprint)
        assert store.lookup("127.0.0.1", sshd.port) == [connection.host_key]
        assert connection.server_version.startswith("SSH-2.0-OpenSSH")
        ok = connection.run("echo out; echo err >&2", 5)
        assert (ok.stdout, ok.stderr, ok.exit_status, ok.timed_out) == ("out\n", "err\n", 0, False)
        assert connection.run("exit 3", 5).exit_status == 3
        assert connection.run("id -un", 5).stdout.strip() == LOGIN_USER
        big = connection.run("head -c 3000000 /dev/zero | tr '\\0' x", 10)
        assert len(big.stdout) == 3_000_000
        assert not big.truncated
        capped = connection.run("head -c 300000 /dev/zero", 10, max_bytes=100_000)
        assert capped.truncated
    finally:
        connection.close()
    deadline = time.monotonic() + 5
    while sshd.connections():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_commands_in_parallel_share_one_connection(sshd: Sshd, client_key: Path) -> None:
    connection = open_to(sshd.port, client_key)
    outputs = run_in_parallel(connection, [f"echo {i}" for i in range(9)])
    limit = connection.channel_limit
    connection.close()
    assert outputs == [(str(i), 0) for i in range(9)]
    assert limit == INITIAL_LIMIT  # MaxSessions 10: never refused, nothing to learn


@pytest.mark.parametrize("max_sessions", [1, 2])
def test_a_server_limiting_sessions_teaches_its_limit_and_every_command_runs(
    client_key: Path, max_sessions: int
) -> None:
    limits = LearnedLimits()
    with Sshd([public_key(client_key)], extra_config=(f"MaxSessions {max_sessions}",)) as server:
        connection = open_to(server.port, client_key, limits=limits)
        outputs = run_in_parallel(connection, [f"sleep 0.05; echo {i}" for i in range(9)])
        learned = connection.channel_limit
        connection.close()
        # A fresh connection starts where the last one ended.
        again = open_to(server.port, client_key, limits=limits)
        assert again.channel_limit == learned
        repeated = run_in_parallel(again, [f"echo {i}" for i in range(9)])
        again.close()
    assert [out for out, _ in outputs] == [str(i) for i in range(9)]
    assert sum(refusals for _, refusals in outputs) > 0  # the server did refuse some
    assert 1 <= learned <= max_sessions
    assert [out for out, _ in repeated] == [str(i) for i in range(9)]
    if learned < max_sessions:
        # OpenSSH frees a closed session a moment late: room for one more than we keep open.
        assert sum(refusals for _, refusals in repeated) == 0


def test_a_server_refusing_every_session_is_a_transient_failure_not_a_failed_command(
    client_key: Path,
) -> None:
    with Sshd([public_key(client_key)], extra_config=("MaxSessions 0",)) as server:
        connection = open_to(server.port, client_key)
        began = time.monotonic()
        with pytest.raises(SessionRefusedError) as caught:
            connection.run("echo hi", 5)
        assert time.monotonic() - began < 3
        assert connection.alive
        connection.close()
    assert caught.value.failure is Failure.SESSION_REFUSED
    assert str(caught.value).startswith(
        f"session refused: 127.0.0.1:{server.port} refused a session channel 5 times in a row"
    )


def test_a_command_past_its_deadline_times_out_and_the_connection_lives_on(
    sshd: Sshd, client_key: Path
) -> None:
    connection = open_to(sshd.port, client_key)
    try:
        began = time.monotonic()
        slow = connection.run("echo started; sleep 10", 0.5)
        assert slow.timed_out
        assert slow.exit_status is None
        assert time.monotonic() - began < 2
        assert connection.alive
        assert connection.run("echo again", 5).stdout == "again\n"
    finally:
        connection.close()


def test_output_cut_short_is_never_taken_for_a_finished_command(client_key: Path) -> None:
    """A connection that goes down while a command writes (Dropbear drops one when channels
    race) is lost, whatever the command wrote first; a command killed by a signal has no exit
    status. The connection's channels close a moment before it reads as closed: never a
    finished command with the first line of its answer."""
    uname = "uname -s; uname -r; uname -m"
    with Sshd([public_key(client_key)], force_command=CONNECTION_LOST_ONCE_FORCE_COMMAND) as lost:
        connection = open_to(lost.port, client_key)
        with pytest.raises(ConnectionLostError):
            connection.run(uname, 10)
        assert not connection.alive
        again = open_to(lost.port, client_key)
        answer = again.run(uname, 10).stdout.split()
        again.close()
    assert answer == [os.uname().sysname, os.uname().release, os.uname().machine]
    with Sshd([public_key(client_key)], force_command=MEMINFO_KILLED_FORCE_COMMAND) as killed:
        connection = open_to(killed.port, client_key)
        cut = connection.run("cat /proc/meminfo", 10)
        assert connection.alive
        connection.close()
    assert cut.stdout.startswith("MemTotal:") and len(cut.stdout.splitlines()) == 1
    assert (cut.exit_status, cut.timed_out, cut.truncated) == (None, False, False)


def test_a_missing_key_is_a_configuration_error(sshd: Sshd) -> None:
    error = failure_of(port=sshd.port, key=Path("/nonexistent/key"))
    assert error.failure is Failure.CONFIGURATION
    assert str(error) == "configuration: the SSH private key cannot be fetched (FileNotFoundError)"


def test_connection_refused_is_named(client_key: Path) -> None:
    port = closed_port()
    error = failure_of(port=port, key=client_key)
    assert error.failure is Failure.CONNECTION_REFUSED
    assert str(error) == f"connection refused: 127.0.0.1:{port}"


def test_a_server_that_never_speaks_times_out(client_key: Path) -> None:
    with SilentServer() as silent:
        began = time.monotonic()
        error = failure_of(port=silent.port, key=client_key, timeout=1.0)
        took = time.monotonic() - began
    assert error.failure is Failure.TIMEOUT
    assert str(error) == (
        f"timeout: 127.0.0.1:{silent.port} accepted the connection but sent no SSH banner "
        "within 1 s"
    )
    assert 0.9 < took < 3


def test_a_wrong_key_fails_authentication(sshd: Sshd, tmp_path: Path) -> None:
    wrong = make_key(tmp_path / "wrong")
    error = failure_of(port=sshd.port, key=wrong)
    assert error.failure is Failure.AUTHENTICATION_FAILED
    assert str(error) == (
        f"authentication failed: {LOGIN_USER}@127.0.0.1:{sshd.port}: "
        "the server rejected the public key"
    )


def test_an_unresolvable_name_is_a_dns_failure(client_key: Path) -> None:
    error = failure_of(port=22, key=client_key, host="no-such-host.invalid")
    assert error.failure is Failure.DNS_FAILURE
    assert str(error).startswith("DNS failure: cannot resolve no-such-host.invalid")


def test_not_an_ssh_server(client_key: Path) -> None:
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def answer() -> None:
        conn, _ = server.accept()
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        time.sleep(0.5)
        conn.close()

    threading.Thread(target=answer, daemon=True).start()
    error = failure_of(port=port, key=client_key)
    server.close()
    assert error.failure is Failure.CONNECTION_FAILED
    assert "does not speak SSH" in str(error) or "closed the connection" in str(error)


def test_changed_host_key_is_refused_and_strict_refuses_unknown(client_key: Path) -> None:
    store = MemoryKnownHosts()
    with Sshd([public_key(client_key)]) as server:
        open_to(server.port, client_key, store).close()
        old = server.host_key_fingerprint
        server.restart_with_new_host_key()
        error = failure_of(port=server.port, key=client_key, store=store)
        assert error.failure is Failure.HOST_KEY_CHANGED
        assert server.host_key_fingerprint in str(error) and old in str(error)
        strict = failure_of(
            port=server.port, key=client_key, store=MemoryKnownHosts(), policy=HostKeyPolicy.STRICT
        )
        assert strict.failure is Failure.HOST_KEY_UNKNOWN


def test_the_cache_opens_once_per_scan_remembers_failures_and_reaps_idle(
    sshd: Sshd, client_key: Path
) -> None:
    cache = ConnectionCache(idle_timeout_s=0.5)  # a loaded machine may pause a thread a while
    opened: list[SshConnection] = []

    def opener() -> SshConnection:
        opened.append(open_to(sshd.port, client_key))
        return opened[-1]

    got: list[SshConnection] = []
    threads = [threading.Thread(target=lambda: got.append(cache.get("scan-1", opener)))]
    threads += [threading.Thread(target=lambda: got.append(cache.get("scan-1", opener)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(opened) == 1 and got == [opened[0], opened[0]]
    assert cache.get("scan-2", opener) is not opened[0]
    assert cache.close("scan-2") and not opened[1].alive

    attempts: list[int] = []

    def refused() -> SshConnection:
        attempts.append(1)
        return open_to(closed_port(), client_key)

    for _ in range(3):
        with pytest.raises(HostScanError, match="connection refused"):
            cache.get("scan-3", refused)
    assert len(attempts) == 1  # the other commands of that scan fail at once

    deadline = time.monotonic() + 5
    while len(cache) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(cache) == 0  # the reaper closed the idle connection of scan-1
    assert not opened[0].alive


def test_private_keys_with_and_without_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "protected"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "s3cret", "-f", str(path)], check=True
    )
    text = path.read_text()
    assert load_private_key(text, "s3cret").get_name() == "ssh-ed25519"
    for passphrase, expected in ((None, "no passphrase is set"), ("wrong", "cannot be read")):
        with pytest.raises(HostScanError) as caught:
            load_private_key(text, passphrase)
        assert caught.value.failure is Failure.CONFIGURATION
        assert expected in str(caught.value)
        assert "s3cret" not in str(caught.value) and "PRIVATE" not in str(caught.value)
    rsa = make_key(tmp_path / "rsa", "rsa")
    assert load_private_key(rsa.read_text(), None).get_name() == "ssh-rsa"
    with pytest.raises(HostScanError, match="cannot be read"):
        load_private_key("not a key", None)
