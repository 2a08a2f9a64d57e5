"""Pure parsers of the host commands' output: text in, plain JSON-able data out.

None of them raises, whatever the text: odd or partial output gives what could be read
(possibly nothing: None or an empty list) and never an exception. Numbers are bytes and
seconds; keys are camelCase like the rest of the API.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# Pseudo file systems that say nothing about disk space.
PSEUDO_FILESYSTEMS = frozenset(
    {"tmpfs", "devtmpfs", "ramfs", "squashfs", "efivarfs", "proc", "sysfs", "cgroup", "cgroup2"}
)
TOP_PROCESSES = 20
_MAX_FIELD = 4096


def _int(text: str) -> int | None:
    text = text.strip()
    if not text or len(text) > 30 or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def _float(text: str) -> float | None:
    text = text.strip().rstrip("%")
    if not text or len(text) > 40:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


_SIZE = re.compile(r"^(\d{1,15}(?:\.\d{1,3})?)([kKmMgGtT]?)$")
_UNITS = {"": 0, "k": 0, "m": 1, "g": 2, "t": 3}


def _kib(text: str) -> int | None:
    """A size in KiB as ps prints it: `4096`, or BusyBox's rounded `19m`, `1.1g`."""
    match = _SIZE.match(text.strip())
    if not match:
        return None
    number, unit = match.groups()
    if unit == "" and "." in number:
        return None
    return int(float(number) * 1024 ** _UNITS[unit.lower()])


def _percent(used: int | None, total: int | None) -> float | None:
    if used is None or not total:
        return None
    return round(100.0 * used / total, 1)


def _clip(text: str) -> str:
    return text[:_MAX_FIELD]


# -- OS ------------------------------------------------------------------------------------------

_OS_FIELDS = {
    "NAME": "name",
    "VERSION_ID": "versionId",
    "ID": "id",
    "PRETTY_NAME": "prettyName",
    "VERSION": "version",
    "ID_LIKE": "idLike",
    "VERSION_CODENAME": "versionCodename",
}
_OS_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        if value[0] == '"':
            inner = re.sub(r"\\([\\\"$`])", r"\1", inner)
        return inner
    return value


def parse_os_release(text: str) -> dict[str, str | None] | None:
    """os-release(5): NAME, VERSION_ID, ID, PRETTY_NAME (and VERSION, ID_LIKE, codename)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = _OS_LINE.match(line.strip())
        if match and match.group(1) in _OS_FIELDS:
            found[_OS_FIELDS[match.group(1)]] = _clip(_unquote(match.group(2)))
    if not found:
        return None
    result: dict[str, str | None] = {key: found.get(key) for key in _OS_FIELDS.values()}
    return result


# -- kernel, hostname, uptime ---------------------------------------------------------------------


def parse_uname(text: str) -> dict[str, str | None] | None:
    """Three lines: `uname -s`, `uname -r`, `uname -m`."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    return {
        "kernelName": _clip(lines[0]),
        "kernel": _clip(lines[1]) if len(lines) > 1 else None,
        "architecture": _clip(lines[2]) if len(lines) > 2 else None,
    }


def parse_hostname(text: str) -> str | None:
    for line in text.splitlines():
        name = line.strip()
        if name:
            return name[:253]
    return None


def parse_uptime(text: str) -> float | None:
    """/proc/uptime: seconds since boot (and idle seconds, ignored)."""
    fields = text.split()
    if not fields:
        return None
    seconds = _float(fields[0])
    return round(seconds, 2) if seconds is not None and seconds >= 0 else None


# -- disk -----------------------------------------------------------------------------------------


def _block_size(header: str) -> int | None:
    """Bytes per block from df's size column header: 1-blocks, 1024-blocks, 1K-blocks, 512B."""
    match = re.match(r"^(\d+)([KMG]?)(?:B|i?B)?-blocks$", header, re.IGNORECASE | re.ASCII)
    if not match:
        return None
    number = int(match.group(1)[:12])
    unit = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}[match.group(2).upper()]
    return number * unit or None


def parse_df(text: str) -> list[dict[str, Any]]:
    """`df -P` (with -T and -B1 where supported): one entry per mount, sizes in bytes."""
    lines = text.splitlines()
    header_index = next(
        (i for i, line in enumerate(lines) if line.split()[:1] == ["Filesystem"]), None
    )
    if header_index is None:
        return []
    header = lines[header_index].split()
    has_type = len(header) > 1 and header[1] == "Type"
    size_column = 2 if has_type else 1
    block = _block_size(header[size_column]) if len(header) > size_column else None
    if block is None:
        return []
    mounts: list[dict[str, Any]] = []
    seen: set[str] = set()
    for line in lines[header_index + 1 :]:
        fields = line.split()
        # filesystem [type] size used available capacity mountpoint (may contain spaces)
        if len(fields) < size_column + 5:
            continue
        numbers = [_int(f) for f in fields[size_column : size_column + 3]]
        size, used, available = numbers
        if size is None or used is None or available is None:
            continue
        fstype = fields[1] if has_type else None
        if fstype in PSEUDO_FILESYSTEMS:
            continue
        mount = " ".join(fields[size_column + 4 :])
        if not mount.startswith("/") or mount in seen:
            continue
        seen.add(mount)
        reported = _float(fields[size_column + 3])
        size_b, used_b, available_b = size * block, used * block, available * block
        # Like df: used / (used + available), the share of what users can fill.
        capacity = _percent(used_b, used_b + available_b)
        mounts.append(
            {
                "mount": _clip(mount),
                "filesystem": _clip(fields[0]),
                "type": _clip(fstype) if fstype else None,
                "sizeBytes": size_b,
                "usedBytes": used_b,
                "availableBytes": available_b,
                "percent": capacity if capacity is not None else reported,
            }
        )
    return mounts


# -- memory ---------------------------------------------------------------------------------------

_MEMINFO_LINE = re.compile(r"^([A-Za-z0-9_()]+):\s+(\d{1,20})(?:\s+kB)?\s*$")


def parse_memory(text: str) -> dict[str, Any] | None:
    """/proc/meminfo, or `free -b` where /proc/meminfo cannot be read."""
    if re.search(r"^MemTotal:", text, re.MULTILINE):
        return parse_meminfo(text)
    return parse_free(text)


def parse_meminfo(text: str) -> dict[str, Any] | None:
    """/proc/meminfo: total, used (= total - available), available, percent; swap."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        match = _MEMINFO_LINE.match(line.strip())
        if match:
            values[match.group(1)] = int(match.group(2)) * 1024
    total = values.get("MemTotal")
    if not total:
        return None
    available = values.get("MemAvailable")
    if available is None:  # kernels before 3.14
        available = sum(values.get(k, 0) for k in ("MemFree", "Buffers", "Cached"))
    return _memory(total, available, values.get("SwapTotal"), values.get("SwapFree"))


def _memory(
    total: int, available: int, swap_total: int | None, swap_free: int | None
) -> dict[str, Any]:
    available = min(available, total)
    used = total - available
    swap_used = (
        swap_total - min(swap_free, swap_total)
        if swap_total is not None and swap_free is not None
        else None
    )
    return {
        "totalBytes": total,
        "usedBytes": used,
        "availableBytes": available,
        "percent": _percent(used, total),
        "swapTotalBytes": swap_total,
        "swapUsedBytes": swap_used,
    }


def parse_free(text: str) -> dict[str, Any] | None:
    """`free -b` (procps or BusyBox): a header of column names, then `Mem:` and `Swap:` rows.
    Available is the `available` column, else free + buffers + cache (older versions)."""
    lines = text.splitlines()
    header = next((line.split() for line in lines if "total" in line.split()[:1]), None)
    rows = {
        line.split()[0].rstrip(":"): [_int(f) for f in line.split()[1:]]
        for line in lines
        if line.split()[:1] in (["Mem:"], ["Swap:"])
    }
    if header is None or "Mem" not in rows:
        return None
    mem = dict(zip(header, rows["Mem"], strict=False))
    total = mem.get("total")
    if not total:
        return None
    available = mem.get("available")
    if available is None:
        parts = [mem.get(k) for k in ("free", "buffers", "cached", "buff/cache")]
        available = sum(p for p in parts if p is not None)
    swap = dict(zip(header, rows.get("Swap", []), strict=False))
    return _memory(total, available, swap.get("total"), swap.get("free"))


# -- packages -------------------------------------------------------------------------------------

_MANAGER_LINE = re.compile(r"^manager=(dpkg|rpm|apk|none)$")
_FORMAT_LINE = re.compile(r"^format=(dpkg-status)$")


def parse_packages(text: str) -> dict[str, Any] | None:
    """The packages command's output: a `manager=<dpkg|rpm|apk|none>` line, then the
    installed packages as that manager's database or query lists them: dpkg-query lines
    (status, name, version, arch; tab-separated) or, after `format=dpkg-status`, the dpkg
    status file; rpm query lines (name, version, arch); apk's installed database. Sorted by
    name. `manager=none`: no package database was found, which is said, not guessed.

    None when the output says nothing usable, including a manager with no installed package
    (every manager is itself installed: its query must have failed)."""
    lines = text.splitlines()
    manager = None
    start = 0
    for index, line in enumerate(lines):
        match = _MANAGER_LINE.match(line.strip())
        if match:
            manager, start = match.group(1), index + 1
            break
    if manager is None:
        return None
    if manager == "none":
        return {"manager": None, "packages": []}
    body = lines[start:]
    if manager == "dpkg" and body and _FORMAT_LINE.match(body[0].strip()):
        packages = _dpkg_status(body[1:])
    elif manager == "apk":
        packages = _apk_database(body)
    else:
        packages = [p for p in (_package(manager, line) for line in body) if p is not None]
    if not packages:
        return None
    packages.sort(key=lambda p: (p["name"], p["version"], p["arch"]))
    return {"manager": manager, "packages": packages}


def _paragraphs(lines: list[str]) -> list[dict[str, str]]:
    """Blank-line separated `Key: value` / `K:value` records (dpkg status, apk database);
    continuation lines (starting with a space) are skipped."""
    records: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in lines:
        if not line.strip():
            if current:
                records.append(current)
            current = {}
            continue
        if line[0].isspace() or ":" not in line:
            continue
        key, _, value = line.partition(":")
        current.setdefault(key, value.strip())
    if current:
        records.append(current)
    return records


def _entry(name: str | None, version: str | None, arch: str | None) -> dict[str, str] | None:
    fields = [name or "", version or "", arch or ""]
    if not all(fields) or any(" " in f or "\t" in f for f in fields):
        return None
    return {"name": _clip(fields[0]), "version": _clip(fields[1]), "arch": _clip(fields[2])}


def _dpkg_status(lines: list[str]) -> list[dict[str, str]]:
    """/var/lib/dpkg/status: the paragraphs whose Status is `<want> <flag> installed`."""
    packages = []
    for record in _paragraphs(lines):
        if record.get("Status", "").split()[-1:] != ["installed"]:
            continue
        entry = _entry(record.get("Package"), record.get("Version"), record.get("Architecture"))
        if entry is not None:
            packages.append(entry)
    return packages


def _apk_database(lines: list[str]) -> list[dict[str, str]]:
    """/lib/apk/db/installed: one record per package, P: name, V: version, A: arch."""
    packages = []
    for record in _paragraphs(lines):
        entry = _entry(record.get("P"), record.get("V"), record.get("A"))
        if entry is not None:
            packages.append(entry)
    return packages


def _package(manager: str, line: str) -> dict[str, str] | None:
    fields = line.rstrip("\r\n").split("\t")
    if manager == "dpkg":
        if len(fields) < 4 or fields[0][1:2] != "i":  # installed: status letter "i"
            return None
        fields = fields[1:]
    if len(fields) < 3:
        return None
    return _entry(*(f.strip() for f in fields[:3]))


# -- processes ------------------------------------------------------------------------------------

_PS_COLUMNS = {
    "PID": "pid",
    "USER": "user",
    "%CPU": "cpuPercent",
    "%MEM": "memPercent",
    "RSS": "rss",
    "VSZ": "vsz",
}


def parse_ps(text: str, limit: int = TOP_PROCESSES) -> list[dict[str, Any]]:
    """`ps -eo pid,user,pcpu,pmem,rss,args` (procps) or `ps -o pid,user,vsz,rss,args`
    (BusyBox, whose sizes over 9999 KiB are rounded: `19m`, `1.1g`). Header first; the
    command is the last column. The `limit` processes using the most memory (resident set
    size)."""
    lines = text.splitlines()
    header_index = next((i for i, line in enumerate(lines) if line.split()[:1] == ["PID"]), None)
    if header_index is None:
        return []
    header = lines[header_index].split()
    if len(header) < 2 or header[-1] not in ("COMMAND", "CMD", "ARGS"):
        return []
    columns = [_PS_COLUMNS.get(name) for name in header[:-1]]
    processes: list[dict[str, Any]] = []
    for line in lines[header_index + 1 :]:
        fields = line.split(None, len(columns))
        if len(fields) < len(columns) + 1:
            continue
        entry: dict[str, Any] = {}
        for column, value in zip(columns, fields, strict=False):
            if column == "pid":
                entry[column] = _int(value)
            elif column in ("rss", "vsz"):
                entry[column] = _kib(value)
            elif column in ("cpuPercent", "memPercent"):
                entry[column] = _float(value)
            elif column == "user":
                entry[column] = _clip(value)
        if entry.get("pid") is None:
            continue
        entry["command"] = _clip(fields[len(columns)].strip())
        rss = entry.pop("rss", None)
        vsz = entry.pop("vsz", None)
        entry["rssBytes"] = rss * 1024 if rss is not None else None
        entry["vszBytes"] = vsz * 1024 if vsz is not None else None
        processes.append(entry)
    processes.sort(key=lambda p: (-(p["rssBytes"] or 0), p["pid"]))
    return processes[: max(0, limit)]


# -- network --------------------------------------------------------------------------------------


def parse_network(text: str) -> list[dict[str, Any]]:
    """`ip -j addr`, else `ip addr` text, else `ifconfig -a`: interfaces with addresses."""
    stripped = text.strip()
    if stripped.startswith("["):
        parsed = _parse_ip_json(stripped)
        if parsed is not None:
            return parsed
    if re.search(r"^\d+:\s+\S+:\s+<", text, re.MULTILINE):
        return _parse_ip_text(text)
    return _parse_ifconfig(text)


def _parse_ip_json(text: str) -> list[dict[str, Any]] | None:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, list):
        return None
    interfaces: list[dict[str, Any]] = []
    for link in data:
        if not isinstance(link, dict) or not isinstance(link.get("ifname"), str):
            continue
        addresses = []
        infos = link.get("addr_info")
        for info in infos if isinstance(infos, list) else []:
            if not isinstance(info, dict) or not isinstance(info.get("local"), str):
                continue
            prefix = info.get("prefixlen")
            addresses.append(
                {
                    "family": str(info.get("family", ""))[:16] or None,
                    "address": _clip(info["local"]),
                    "prefixLength": prefix if isinstance(prefix, int) else None,
                    "scope": str(info["scope"])[:32] if "scope" in info else None,
                }
            )
        flags = link.get("flags")
        mtu = link.get("mtu")
        interfaces.append(
            {
                "name": _clip(link["ifname"]),
                "state": str(link.get("operstate", ""))[:32] or None,
                "mac": str(link["address"])[:64] if isinstance(link.get("address"), str) else None,
                "mtu": mtu if isinstance(mtu, int) else None,
                "flags": [str(f)[:32] for f in flags] if isinstance(flags, list) else [],
                "addresses": addresses,
            }
        )
    return interfaces


_IP_LINK = re.compile(r"^\d+:\s+([^:@\s]+)(?:@\S+)?:\s+<([^>]*)>(.*)$")
_IP_ADDR = re.compile(r"^\s+(inet6?)\s+([0-9A-Fa-f:.]+)(?:/(\d{1,3}))?(.*)$")
_IP_MAC = re.compile(r"^\s+link/\S+\s+([0-9A-Fa-f:]+)")


def _parse_ip_text(text: str) -> list[dict[str, Any]]:
    interfaces: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for line in text.splitlines():
        link = _IP_LINK.match(line)
        if link:
            rest = link.group(3)
            mtu = re.search(r"\bmtu (\d{1,9})\b", rest)
            state = re.search(r"\bstate (\S+)", rest)
            current = {
                "name": _clip(link.group(1)),
                "state": state.group(1)[:32] if state else None,
                "mac": None,
                "mtu": int(mtu.group(1)) if mtu else None,
                "flags": [f[:32] for f in link.group(2).split(",") if f][:32],
                "addresses": [],
            }
            interfaces.append(current)
            continue
        if current is None:
            continue
        mac = _IP_MAC.match(line)
        if mac:
            current["mac"] = mac.group(1)[:64]
            continue
        address = _IP_ADDR.match(line)
        if address:
            scope = re.search(r"\bscope (\S+)", address.group(4))
            current["addresses"].append(
                {
                    "family": address.group(1),
                    "address": address.group(2),
                    "prefixLength": int(address.group(3)) if address.group(3) else None,
                    "scope": scope.group(1)[:32] if scope else None,
                }
            )
    return interfaces


_IFCONFIG_HEAD = re.compile(r"^([A-Za-z0-9_.:@-]+):?\s+(?:flags=\d+<([^>]*)>)?(.*)$")


def _parse_ifconfig(text: str) -> list[dict[str, Any]]:
    """net-tools / BSD `ifconfig -a`: a line per interface, then indented details."""
    interfaces: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            head = _IFCONFIG_HEAD.match(line)
            if head is None:
                current = None
                continue
            mtu = re.search(r"\bmtu (\d{1,9})\b", line, re.IGNORECASE)
            mac = re.search(r"\bHWaddr ([0-9A-Fa-f:]{17})", line)
            current = {
                "name": _clip(head.group(1).rstrip(":")),
                "state": None,
                "mac": mac.group(1) if mac else None,
                "mtu": int(mtu.group(1)) if mtu else None,
                "flags": [f[:32] for f in (head.group(2) or "").split(",") if f][:32],
                "addresses": [],
            }
            interfaces.append(current)
            continue
        if current is None:
            continue
        words = line.split()
        if words[0] in ("ether", "lladdr") and len(words) > 1:
            current["mac"] = words[1][:64]
        elif words[0] in ("inet", "inet6") and len(words) > 1:
            address = words[1].removeprefix("addr:")
            prefix: int | None = None
            if "/" in address:
                address, _, bits = address.partition("/")
                prefix = _int(bits)
            for index, word in enumerate(words[:-1]):
                if word == "prefixlen":
                    prefix = _int(words[index + 1])
                elif word == "netmask":
                    prefix = _netmask_bits(words[index + 1])
            mask = re.search(r"\bMask:(\S+)", line)
            if mask:
                prefix = _netmask_bits(mask.group(1))
            address = address.split("%", 1)[0]
            if address:
                current["addresses"].append(
                    {
                        "family": words[0],
                        "address": _clip(address),
                        "prefixLength": prefix,
                        "scope": None,
                    }
                )
    return interfaces


def _netmask_bits(mask: str) -> int | None:
    """255.255.255.0 or 0xffffff00 -> 24; None when it is not a netmask."""
    value: int | None = None
    if mask.lower().startswith("0x"):
        digits = mask[2:]
        if 0 < len(digits) <= 8 and all(c in "0123456789abcdefABCDEF" for c in digits):
            value = int(digits, 16)
    else:
        parts = mask.split(".")
        numbers = [_int(p) for p in parts]
        if len(parts) == 4 and all(n is not None and n <= 255 for n in numbers):
            value = 0
            for number in numbers:
                value = value * 256 + (number or 0)
    if value is None:
        return None
    bits = bin(value).count("1")
    return bits if value == (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF else None
