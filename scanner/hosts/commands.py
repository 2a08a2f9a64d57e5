"""The catalogue of host commands, in order, per scan type.

Every command is a fixed string: nothing from a request or a target ever reaches the remote
shell. Machine-readable variants come first (`ip -j`, `df -B1`, `/proc` files, dpkg-query and
rpm query formats); where the host's tools refuse them (BusyBox: `ps` without `--sort`, `df`
without `-l`, `ip` without `-j`) the next variant runs, so what runs is chosen by what the
host answers, never guessed from its name. Package databases are found where they live
(dpkg, rpm, apk), and a host with none says so. Each command names the result field it
fills and the pure parser that reads its output.
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


# A manager counts when its database is there: BusyBox has an `rpm` applet that cannot list
# anything, and a BusyBox userland on a Debian base has the dpkg database but no dpkg-query.
_PACKAGES = r"""if [ -f /var/lib/dpkg/status ]; then
  echo manager=dpkg
  if command -v dpkg-query >/dev/null 2>&1; then
    dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n'
  else
    echo format=dpkg-status
    cat /var/lib/dpkg/status
  fi
elif { [ -d /var/lib/rpm ] || [ -d /usr/lib/sysimage/rpm ]; } && command -v rpm >/dev/null 2>&1
then
  echo manager=rpm
  rpm -qa --qf '%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\t%{ARCH}\n'
elif [ -f /lib/apk/db/installed ]; then
  echo manager=apk
  cat /lib/apk/db/installed
else
  echo manager=none
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
        "LC_ALL=C df -P -T -B1 -l 2>/dev/null || LC_ALL=C df -P -T -B1 2>/dev/null"
        " || LC_ALL=C df -P -k",
        parsers.parse_df,
        "disk",
    ),
    HostCommand(
        "memory",
        "Memory (/proc/meminfo)",
        "cat /proc/meminfo 2>/dev/null || free -b",
        parsers.parse_memory,
        "memory",
    ),
)

FULL_ONLY: tuple[HostCommand, ...] = (
    HostCommand(
        "packages",
        "Installed packages (dpkg, rpm or apk database)",
        _PACKAGES,
        parsers.parse_packages,
        "packages",
    ),
    HostCommand(
        "processes",
        "Top processes by memory (ps)",
        "LC_ALL=C ps -eo pid,user:32,pcpu,pmem,rss,args --sort=-rss 2>/dev/null"
        " || LC_ALL=C ps -eo pid,user,vsz,rss,args 2>/dev/null || ps",
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
