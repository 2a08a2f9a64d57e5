"""Connections through jump hosts (like OpenSSH's ProxyJump), against real sshd processes: a
target that listens only on the loopback of a network namespace, reached through a jump host
here and a second one inside the namespace. Every hop's host key is checked under the same
policy, every hop logs in with its own key, and every failure names the hop that failed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.hosts.channels import LearnedLimits
from scanner.hosts.failures import Failure, HostScanError
from scanner.hosts.host_keys import HostKeyPolicy, HostKeyVerifier, KnownHostKey
from scanner.hosts.ssh import Endpoint, Hop, PrivateKeySource, SshConnection, connect
from tests.support.netns import NetworkNamespace
from tests.support.sshd import (
    LOGIN_USER,
    MemoryKnownHosts,
    SilentServer,
    Sshd,
    closed_port,
    make_key,
    public_key,
)


class Network:
    """Jump host 1 (here) -> jump host 2 (the namespace's veth address) -> the target (the
    namespace's own loopback). The jump hosts take key A, the target only key B."""

    def __init__(self, net: NetworkNamespace, key_a: Path, key_b: Path) -> None:
        self.net = net
        self.key_a = PrivateKeySource(key_a.read_text)
        self.key_b = PrivateKeySource(key_b.read_text)
        self.target = Sshd([public_key(key_b)], netns=net.prefix)
        self.inner = Sshd(
            [public_key(key_a)], netns=net.prefix, listen_address=net.inside, allow_forwarding=True
        )
        self.outer = Sshd([public_key(key_a)], allow_forwarding=True)

    def hop(self, server: Sshd, key: PrivateKeySource | None = None) -> Hop:
        return Hop(Endpoint(server.listen_address, server.port, LOGIN_USER), key or self.key_a)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    keys = tmp_path_factory.mktemp("jump-keys")
    with NetworkNamespace() as net:
        network = Network(net, make_key(keys / "a"), make_key(keys / "b"))
        with network.target, network.inner, network.outer:
            yield network


def through(
    network: Network,
    jumps: list[Hop],
    target: Endpoint | None = None,
    store: MemoryKnownHosts | None = None,
    timeout: float = 5.0,
    key: PrivateKeySource | None = None,
) -> SshConnection:
    verifier = HostKeyVerifier(store or MemoryKnownHosts(), HostKeyPolicy.ACCEPT_NEW)
    endpoint = target or Endpoint("127.0.0.1", network.target.port, LOGIN_USER)
    return connect(
        endpoint, key or network.key_b, verifier, timeout, jumps=jumps, limits=LearnedLimits()
    )


def failure(network: Network, jumps: list[Hop], **kwargs: object) -> HostScanError:
    with pytest.raises(HostScanError) as caught:
        through(network, jumps, **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_two_jump_hosts_reach_a_host_nothing_else_reaches(network: Network) -> None:
    target = network.target
    # Nothing here listens on the target's port: it exists only inside the namespace.
    direct = failure(network, [])
    assert (direct.failure, str(direct)) == (
        Failure.CONNECTION_REFUSED,
        f"connection refused: 127.0.0.1:{target.port}",
    )
    store = MemoryKnownHosts()
    jumps = [network.hop(network.outer), network.hop(network.inner)]
    connection = through(network, jumps, store=store)
    try:
        answer = connection.run("ip -o -4 addr show", 5).stdout
        assert f"{network.net.inside}/30" in answer  # the command ran inside the namespace
        # Every hop's host key is checked and recorded, each under its own address.
        assert store.keys == {
            ("127.0.0.1", network.outer.port): [
                KnownHostKey("ssh-ed25519", network.outer.host_key_fingerprint)
            ],
            (network.net.inside, network.inner.port): [
                KnownHostKey("ssh-ed25519", network.inner.host_key_fingerprint)
            ],
            ("127.0.0.1", target.port): [KnownHostKey("ssh-ed25519", target.host_key_fingerprint)],
        }
        assert connection.host_key.fingerprint == target.host_key_fingerprint
        assert network.outer.connections() == 1
    finally:
        connection.close()
    deadline = time.monotonic() + 5
    while network.outer.connections():  # closing the connection closed every hop
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_each_hop_logs_in_with_its_own_key(network: Network) -> None:
    wrong_key_for_jump = failure(
        network, [network.hop(network.outer, network.key_b), network.hop(network.inner)]
    )
    assert str(wrong_key_for_jump) == (
        f"authentication failed: jump host {LOGIN_USER}@127.0.0.1:{network.outer.port}: "
        "the server rejected the public key"
    )
    wrong_key_for_target = failure(
        network, [network.hop(network.outer), network.hop(network.inner)], key=network.key_a
    )
    assert str(wrong_key_for_target) == (
        f"authentication failed: {LOGIN_USER}@127.0.0.1:{network.target.port} "
        f"(via jump host {network.net.inside}:{network.inner.port}): "
        "the server rejected the public key"
    )


def test_failures_name_the_hop_that_failed(network: Network) -> None:
    inner = f"{network.net.inside}:{network.inner.port}"
    port = closed_port()
    refused = failure(network, [Hop(Endpoint("127.0.0.1", port, LOGIN_USER), network.key_a)])
    assert str(refused) == f"connection refused: jump host 127.0.0.1:{port}"

    behind = Endpoint("127.0.0.1", closed_port(), LOGIN_USER)
    refused_behind = failure(network, [network.hop(network.inner)], target=behind)
    assert refused_behind.failure is Failure.CONNECTION_REFUSED
    assert str(refused_behind) == (
        f"connection refused: 127.0.0.1:{behind.port} (via jump host {inner})"
    )

    unknown = Endpoint("no-such-host.invalid", 22, LOGIN_USER)
    dns = failure(network, [network.hop(network.inner)], target=unknown)
    assert dns.failure is Failure.DNS_FAILURE
    assert str(dns).startswith(
        f"DNS failure: jump host {inner} cannot resolve no-such-host.invalid"
    )

    with SilentServer() as silent:
        quiet = Hop(Endpoint("127.0.0.1", silent.port, LOGIN_USER), network.key_a)
        timeout = failure(network, [quiet], timeout=1.0)
    assert str(timeout) == (
        f"timeout: jump host 127.0.0.1:{silent.port} accepted the connection but sent no SSH "
        "banner within 1 s"
    )


def test_a_jump_host_that_does_not_forward_says_so(network: Network, tmp_path: Path) -> None:
    key = make_key(tmp_path / "key")
    with Sshd([public_key(key)]) as closed:  # AllowTcpForwarding no
        hop = Hop(Endpoint("127.0.0.1", closed.port, LOGIN_USER), PrivateKeySource(key.read_text))
        refused = failure(network, [hop], target=Endpoint("127.0.0.1", 22, LOGIN_USER))
    assert refused.failure is Failure.CONNECTION_FAILED
    assert str(refused).startswith(
        f"connection failed: jump host 127.0.0.1:{closed.port} does not allow TCP forwarding"
    )


def test_a_changed_jump_host_key_stops_the_connection_there(
    network: Network, tmp_path: Path
) -> None:
    key = make_key(tmp_path / "key")
    with Sshd([public_key(key)], allow_forwarding=True) as bastion:
        hop = Hop(Endpoint("127.0.0.1", bastion.port, LOGIN_USER), PrivateKeySource(key.read_text))
        jumps = [hop, network.hop(network.inner)]
        store = MemoryKnownHosts()
        through(network, jumps, store=store).close()
        old = bastion.host_key_fingerprint
        bastion.restart_with_new_host_key()
        inner_logins = network.inner.log().count("Accepted publickey")
        changed = failure(network, jumps, store=store)
        assert changed.failure is Failure.HOST_KEY_CHANGED
        assert str(changed).startswith(
            f"host key changed: jump host 127.0.0.1:{bastion.port} presented ssh-ed25519 "
            f"{bastion.host_key_fingerprint}, but {old} is recorded"
        )
    # Nothing went past the jump host we no longer trust.
    assert network.inner.log().count("Accepted publickey") == inner_logins
