"""This machine's own truth, to hold host-scan results against: the test SSH servers run here,
so every fact a scan reports about "the host" can be checked against what Python reads
locally (uname, /proc, statvfs, the dpkg database, network interfaces)."""

from __future__ import annotations

import functools
import os
import platform
import pwd
import socket
import subprocess
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


def meminfo_total() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal")


def mount_points() -> set[str]:
    points = set()
    for line in Path("/proc/self/mounts").read_text().splitlines():
        points.add(line.split()[1].replace("\\040", " "))
    return points


@functools.cache
def installed_packages() -> int:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${db:Status-Status}\n"], capture_output=True, text=True
    ).stdout
    return sum(1 for line in out.splitlines() if line == "installed")


def _process(pid: int) -> tuple[str, str, int] | None:
    """(user, command line, peak resident KiB) of a live process; None when it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        args = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    uid = int(fields["Uid"].split()[0])
    rss = int(fields.get("VmHWM", "0 kB").split()[0])
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    return user, args, rss


def check_quick_facts(results: dict[str, Any]) -> None:
    """OS, kernel, hostname, uptime, disk and memory are this machine's."""
    assert results["hostname"] == socket.gethostname()
    uname = os.uname()
    reported = (results["kernelName"], results["kernel"], results["architecture"])
    assert reported == (uname.sysname, uname.release, uname.machine), results["commands"]
    os_release = platform.freedesktop_os_release()
    assert results["os"]["name"] == os_release["NAME"]
    assert results["os"]["id"] == os_release["ID"]
    assert results["os"]["prettyName"] == os_release["PRETTY_NAME"]
    assert results["os"]["versionId"] == os_release.get("VERSION_ID")
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    assert 0 <= uptime - results["uptimeSeconds"] < 60

    mounts = {d["mount"]: d for d in results["disk"]}
    assert "/" in mounts and set(mounts) <= mount_points()
    root = os.statvfs("/")
    assert mounts["/"]["sizeBytes"] == root.f_blocks * root.f_frsize
    assert abs(mounts["/"]["availableBytes"] - root.f_bavail * root.f_frsize) < 256 * MIB
    assert 0 <= mounts["/"]["percent"] <= 100
    for entry in results["disk"]:
        assert entry["usedBytes"] <= entry["sizeBytes"]

    memory = results["memory"]
    assert memory["totalBytes"] == meminfo_total()
    assert memory["usedBytes"] + memory["availableBytes"] == memory["totalBytes"]
    assert 0 < memory["percent"] < 100
    assert results["errors"] == [] and results["partial"] is False


def check_full_facts(results: dict[str, Any]) -> None:
    """The quick facts, and installed packages, top processes and interfaces are this
    machine's."""
    check_quick_facts(results)
    packages = results["packages"]
    assert packages["manager"] == "dpkg"
    assert packages["count"] == installed_packages()
    assert 0 < len(packages["sample"]) <= 20
    assert set(packages["sample"][0]) == {"name", "version", "arch"}

    processes = results["processes"]
    assert len(processes) == 20  # this machine runs more than twenty processes
    sizes = [p["rssBytes"] for p in processes]
    assert sizes == sorted(sizes, reverse=True)
    checked = 0
    for reported in processes:
        assert reported["pid"] > 0 and reported["user"] and reported["command"]
        live = _process(reported["pid"])
        if live is None or live[1] != reported["command"]:
            continue  # gone (or its pid reused) since the scan
        user, _, peak_kib = live
        # ps (BusyBox) may cut a long user name; its sizes over 9999 KiB are rounded down.
        assert user.startswith(reported["user"]) or reported["user"] == user
        # Memory moves between the scan and now; the peak never goes down (ps and the
        # kernel's peak count a few pages differently).
        assert 0 < reported["rssBytes"] <= peak_kib * 1024 + MIB, (reported, live)
        checked += 1
    assert checked >= 5  # most of the top twenty are long-lived

    network = results["network"]
    assert {i["name"] for i in network} == {name for _, name in socket.if_nameindex()}
    lo = next(i for i in network if i["name"] == "lo")
    loopback = {"family": "inet", "address": "127.0.0.1", "prefixLength": 8, "scope": "host"}
    assert loopback in lo["addresses"]
