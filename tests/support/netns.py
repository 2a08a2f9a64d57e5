"""A network namespace joined to this one by a veth pair: a network the tests can reach only
through its one address, whose loopback (127.0.0.1 inside) nothing outside can reach at all.

    with NetworkNamespace() as net:
        net.inside     # e.g. "10.213.7.2": the namespace's end, reachable from here
        net.run(["ip", "addr"])           # a command inside
        net.prefix                        # ["ip", "netns", "exec", name]: to start servers inside

Needs root and iproute2 (`make test` installs iproute2 when missing).
"""

from __future__ import annotations

import os
import random
import subprocess
import uuid


class NetworkNamespace:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.name = f"hostscan-{tag}"
        self.outside_link = f"hso{tag}"  # interface names: at most 15 characters
        self.inside_link = f"hsi{tag}"
        subnet = f"10.{random.randint(200, 250)}.{random.randint(0, 255)}"
        self.outside = f"{subnet}.1"
        self.inside = f"{subnet}.2"

    @property
    def prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def run(self, command: list[str]) -> str:
        done = subprocess.run([*self.prefix, *command], check=True, capture_output=True, text=True)
        return done.stdout

    def create(self) -> NetworkNamespace:
        if os.geteuid() != 0:
            raise RuntimeError("network namespaces need root")

        def ip(*args: str) -> None:
            subprocess.run(["ip", *args], check=True, capture_output=True)

        ip("netns", "add", self.name)
        try:
            ip("link", "add", self.outside_link, "type", "veth", "peer", "name", self.inside_link)
            ip("link", "set", self.inside_link, "netns", self.name)
            ip("addr", "add", f"{self.outside}/30", "dev", self.outside_link)
            ip("link", "set", self.outside_link, "up")
            ip("-n", self.name, "addr", "add", f"{self.inside}/30", "dev", self.inside_link)
            ip("-n", self.name, "link", "set", self.inside_link, "up")
            ip("-n", self.name, "link", "set", "lo", "up")
        except BaseException:
            self.delete()
            raise
        return self

    def delete(self) -> None:
        # Deleting the namespace deletes the veth pair with it.
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True, check=False)
        subprocess.run(
            ["ip", "link", "delete", self.outside_link], capture_output=True, check=False
        )

    def __enter__(self) -> NetworkNamespace:
        return self.create()

    def __exit__(self, *exc: object) -> None:
        self.delete()
