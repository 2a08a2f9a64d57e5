"""The catalogue of host commands, in order, per scan type.

Every command is a fixed string: nothing from a request or a target ever reaches the remote
shell. Machine-readable variants come first (`ip -j`, `df -B1`, `/proc` files, dpkg-query and
rpm query formats), with text fallbacks for older or smaller systems. Each command names the
result field it fills and the pure parser that reads its output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from scanner.hosts import parsers

ScanType = Literal["quick", "full"]


@dataclass(frozen=True)
class HostCommand:
    id: str
    title: str
    script: str
    parse: Callable[[str], Any]
    # Where the parsed value goes in the scan's results.
    result_key: str


_PACKAGES = r"""if command -v dpkg-query >/dev/null 2>&1; then
  echo manager=dpkg
  dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n'
elif command -v rpm >/dev/null 2>&1; then
  echo manager=rpm
  rpm -qa --qf '%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\t%{ARCH}\n'
elif command -v apk >/dev/null 2>&1; then
  echo manager=apk
  apk list -I 2>/dev/null
else
  echo 'no package manager found (dpkg-query, rpm, apk)' >&2
  exit 127
fi"""

QUICK: tuple[HostCommand, ...] = (
    HostCommand(
        "os",
        "OS release (/etc/os-release)",
        "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release",
        parsers.parse_os_release,
        "os",
    ),
    HostCommand(
        "kernel", "Kernel (uname)", "uname -s; uname -r; uname -m", parsers.parse_uname, "kernel"
    ),
    HostCommand(
        "hostname",
        "Hostname",
        "hostname 2>/dev/null || uname -n",
        parsers.parse_hostname,
        "hostname",
    ),
    HostCommand(
        "uptime", "Uptime (/proc/uptime)", "cat /proc/uptime", parsers.parse_uptime, "uptimeSeconds"
    ),
    HostCommand(
        "disk",
        "Disk usage per mount (df)",
        "LC_ALL=C df -P -T -B1 -l 2>/dev/null || LC_ALL=C df -P -k",
        parsers.parse_df,
        "disk",
    ),
    HostCommand(
        "memory", "Memory (/proc/meminfo)", "cat /proc/meminfo", parsers.parse_meminfo, "memory"
    ),
)

FULL_ONLY: tuple[HostCommand, ...] = (
    HostCommand(
        "packages",
        "Installed packages (dpkg-query / rpm)",
        _PACKAGES,
        parsers.parse_packages,
        "packages",
    ),
    HostCommand(
        "processes",
        "Top processes by memory (ps)",
        "LC_ALL=C ps -eo pid,user:32,pcpu,pmem,rss,args --sort=-rss 2>/dev/null"
        " || LC_ALL=C ps -eo pid,user,rss,args 2>/dev/null || ps",
        parsers.parse_ps,
        "processes",
    ),
    HostCommand(
        "network",
        "Network interfaces (ip -j addr)",
        'PATH="$PATH:/usr/sbin:/sbin"; ip -j addr show 2>/dev/null || ip addr show 2>/dev/null'
        " || ifconfig -a",
        parsers.parse_network,
        "network",
    ),
)

CATALOGUE: dict[str, HostCommand] = {c.id: c for c in QUICK + FULL_ONLY}


def commands_for(scan_type: str) -> tuple[HostCommand, ...]:
    """The commands of a scan type, in catalogue order."""
    return QUICK + FULL_ONLY if scan_type == "full" else QUICK
