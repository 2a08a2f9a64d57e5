"""The host command parsers: real outputs of several systems, odd output, and arbitrary text
(hypothesis): they read what they can and never raise."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.hosts import parsers
from scanner.hosts.commands import CATALOGUE, commands_for

FIXTURES = Path(__file__).parent / "fixtures"

# -- os-release ---------------------------------------------------------------------------------


def test_os_release_debian_with_quotes_and_comments() -> None:
    text = (
        '# comment\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
        'VERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n'
        'HOME_URL="https://www.debian.org/"\n'
    )
    assert parsers.parse_os_release(text) == {
        "name": "Debian GNU/Linux",
        "versionId": "12",
        "id": "debian",
        "prettyName": "Debian GNU/Linux 12 (bookworm)",
        "version": "12 (bookworm)",
        "idLike": None,
        "versionCodename": "bookworm",
    }


def test_os_release_rhel_and_escapes() -> None:
    text = (
        'NAME="Red Hat Enterprise Linux"\nVERSION_ID=\'9.3\'\nID="rhel"\nID_LIKE="fedora"\n'
        'PRETTY_NAME="Say \\"hi\\" \\$HOME"\n'
    )
    parsed = parsers.parse_os_release(text)
    assert parsed is not None
    assert parsed["versionId"] == "9.3"
    assert parsed["idLike"] == "fedora"
    assert parsed["prettyName"] == 'Say "hi" $HOME'


@pytest.mark.parametrize("text", ["", "garbage\n", "name=lowercase-keys-are-ignored"])
def test_os_release_without_fields_is_none(text: str) -> None:
    assert parsers.parse_os_release(text) is None


# -- uname, hostname, uptime ----------------------------------------------------------------------


def test_uname_three_lines_and_short_output() -> None:
    assert parsers.parse_uname("Linux\n6.1.0-18-amd64\nx86_64\n") == {
        "kernelName": "Linux",
        "kernel": "6.1.0-18-amd64",
        "architecture": "x86_64",
    }
    assert parsers.parse_uname("FreeBSD\n") == {
        "kernelName": "FreeBSD",
        "kernel": None,
        "architecture": None,
    }
    assert parsers.parse_uname("\n \n") is None


def test_hostname_and_uptime() -> None:
    assert parsers.parse_hostname("\n  web-01.example.com \n") == "web-01.example.com"
    assert parsers.parse_hostname("") is None
    assert parsers.parse_uptime("350735.47 234388.90\n") == 350735.47
    for odd in ("", "abc def", "-5 1", "nan 1", "inf", "1e400"):
        assert parsers.parse_uptime(odd) is None


# -- df -------------------------------------------------------------------------------------------

DF_GNU = """Filesystem     Type        1-blocks        Used   Available Capacity Mounted on
/dev/vda       ext4    270553174016 26852605952 82091687936      25% /
devtmpfs       devtmpfs 12630458368           0 12630458368       0% /dev
tmpfs          tmpfs    25276063744           0 25276063744       0% /dev/shm
/dev/sdb1      xfs       1073741824   536870912   536870912      50% /srv/my data
/dev/vda       ext4    270553174016 26852605952 82091687936      25% /
"""

DF_BUSYBOX = """Filesystem           1024-blocks    Used Available Capacity Mounted on
/dev/root               102400   51200     51200  50% /
"""


def test_df_gnu_bytes_with_types_skips_pseudo_and_duplicates() -> None:
    mounts = parsers.parse_df(DF_GNU)
    assert [m["mount"] for m in mounts] == ["/", "/srv/my data"]
    root = mounts[0]
    assert root == {
        "mount": "/",
        "filesystem": "/dev/vda",
        "type": "ext4",
        "sizeBytes": 270553174016,
        "usedBytes": 26852605952,
        "availableBytes": 82091687936,
        "percent": 24.6,  # used / (used + available), as df computes it
    }
    assert mounts[1]["percent"] == 50.0


def test_df_posix_kilobytes_without_types() -> None:
    (root,) = parsers.parse_df(DF_BUSYBOX)
    assert root["sizeBytes"] == 102400 * 1024
    assert root["usedBytes"] == 51200 * 1024
    assert root["type"] is None
    assert root["percent"] == 50.0


def test_df_second_table_of_a_fallback_does_not_override_the_first() -> None:
    # `df -B1 ... || df -k` prints two tables when the first df exits non-zero.
    mounts = parsers.parse_df(DF_GNU + DF_BUSYBOX)
    root = next(m for m in mounts if m["mount"] == "/")
    assert root["sizeBytes"] == 270553174016


@pytest.mark.parametrize(
    "text",
    ["", "no header here", "Filesystem Type weird-blocks Used\n/dev/x ext4 1 2 3 4% /"],
)
def test_df_unreadable_is_empty(text: str) -> None:
    assert parsers.parse_df(text) == []


# -- meminfo --------------------------------------------------------------------------------------

MEMINFO = """MemTotal:       16303428 kB
MemFree:         1534984 kB
MemAvailable:   10437860 kB
Buffers:          402188 kB
Cached:          8129460 kB
SwapTotal:       2097148 kB
SwapFree:        2096124 kB
HugePages_Total:       0
"""


def test_meminfo() -> None:
    memory = parsers.parse_meminfo(MEMINFO)
    assert memory == {
        "totalBytes": 16303428 * 1024,
        "usedBytes": (16303428 - 10437860) * 1024,
        "availableBytes": 10437860 * 1024,
        "percent": 36.0,
        "swapTotalBytes": 2097148 * 1024,
        "swapUsedBytes": 1024 * 1024,
    }


def test_free_of_procps_and_of_an_old_busybox() -> None:
    procps = (
        "               total        used        free      shared  buff/cache   available\n"
        "Mem:     25276514304  1576333312 17011458048     8998912  6688722944 23363788800\n"
        "Swap:     2147479552           0  2147479552\n"
    )
    memory = parsers.parse_memory(procps)
    assert memory is not None
    assert (memory["totalBytes"], memory["availableBytes"]) == (25276514304, 23363788800)
    assert memory["usedBytes"] == 25276514304 - 23363788800
    assert (memory["swapTotalBytes"], memory["swapUsedBytes"]) == (2147479552, 0)
    old = (
        "             total       used       free     shared    buffers     cached\n"
        "Mem:       1000000     800000     200000          0      50000     250000\n"
    )
    memory = parsers.parse_memory(old)
    assert memory is not None and memory["availableBytes"] == 500000
    assert memory["swapTotalBytes"] is None
    assert parsers.parse_memory(MEMINFO) == parsers.parse_meminfo(MEMINFO)
    assert parsers.parse_memory("Mem: x y\n") is None


def test_meminfo_of_an_old_kernel_estimates_available() -> None:
    old = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n"
    memory = parsers.parse_meminfo(old)
    assert memory is not None
    assert memory["availableBytes"] == 400 * 1024
    assert memory["percent"] == 60.0
    assert memory["swapUsedBytes"] is None
    assert parsers.parse_meminfo("MemFree: 1 kB\n") is None


# -- packages -------------------------------------------------------------------------------------


def test_packages_dpkg_keeps_installed_only_sorted() -> None:
    text = (
        "manager=dpkg\n"
        "ii \tzlib1g\t1:1.2.13.dfsg-1\tamd64\n"
        "rc \told-removed\t1.0\tamd64\n"
        "ii \tadduser\t3.134\tall\n"
        "hi \theld\t2.0\tamd64\n"
        "broken line\n"
    )
    parsed = parsers.parse_packages(text)
    assert parsed == {
        "manager": "dpkg",
        "packages": [
            {"name": "adduser", "version": "3.134", "arch": "all"},
            {"name": "held", "version": "2.0", "arch": "amd64"},
            {"name": "zlib1g", "version": "1:1.2.13.dfsg-1", "arch": "amd64"},
        ],
    }


def test_packages_dpkg_status_file_without_dpkg_query() -> None:
    status = (
        "Package: zlib1g\nStatus: install ok installed\nPriority: optional\n"
        "Architecture: amd64\nMulti-Arch: same\nVersion: 1:1.2.13.dfsg-1\n"
        "Description: compression library - runtime\n zlib is a library implementing the\n"
        " .\n\n"
        "Package: old-removed\nStatus: deinstall ok config-files\nArchitecture: amd64\n"
        "Version: 1.0\n\n"
        "Package: adduser\nStatus: install ok installed\nArchitecture: all\nVersion: 3.134\n"
    )
    parsed = parsers.parse_packages("manager=dpkg\nformat=dpkg-status\n" + status)
    assert parsed == {
        "manager": "dpkg",
        "packages": [
            {"name": "adduser", "version": "3.134", "arch": "all"},
            {"name": "zlib1g", "version": "1:1.2.13.dfsg-1", "arch": "amd64"},
        ],
    }


def test_packages_rpm() -> None:
    rpm = parsers.parse_packages(
        "manager=rpm\nbash\t5.1.8-6.el9\tx86_64\nkernel\t5.14.0-362.el9\tx86_64\n"
    )
    assert rpm is not None
    assert [p["name"] for p in rpm["packages"]] == ["bash", "kernel"]
    assert parsers.parse_packages("ii \tx\t1\tall\n") is None  # no manager line


def test_packages_apk_installed_database() -> None:
    # /lib/apk/db/installed of an Alpine Linux 3.14 (armv7) root file system, as published in
    # github.com/hizlbuzz/alpine-minirootfs-v3.14 (Alpine's minirootfs plus a few packages);
    # package metadata from Alpine's repositories. Licence: the repository states none; the
    # file is apk's record of open-source packages, each naming its own licence (`L:` lines).
    database = (FIXTURES / "alpine-3.14-armv7-installed").read_text()
    parsed = parsers.parse_packages("manager=apk\n" + database)
    assert parsed is not None and parsed["manager"] == "apk"
    packages = parsed["packages"]
    assert len(packages) == database.count("\nP:") + database.startswith("P:") == 26
    assert {"name": "musl", "version": "1.2.2-r3", "arch": "armv7"} in packages
    assert {"name": "apk-tools", "version": "2.12.6-r0", "arch": "armv7"} in packages
    assert {"name": "libgcc", "version": "10.3.1_git20210424-r2", "arch": "armv7"} in packages
    assert [p["name"] for p in packages] == sorted(p["name"] for p in packages)


def test_packages_none_found_is_said_and_a_failed_query_is_not_a_count_of_zero() -> None:
    assert parsers.parse_packages("manager=none\n") == {"manager": None, "packages": []}
    # A manager that lists nothing did not answer (it is itself an installed package).
    assert parsers.parse_packages("manager=rpm\n") is None
    assert parsers.parse_packages("manager=dpkg\nformat=dpkg-status\n") is None


# -- ps -------------------------------------------------------------------------------------------

PS = """    PID USER                             %CPU %MEM   RSS COMMAND
   1234 postgres                          1.5  2.5 409600 postgres: checkpointer
      1 root                              0.0  0.1 12000 /sbin/init splash
   4321 www-data                          0.2  5.0 819200 /usr/bin/python3 app.py --port 8000
"""


def test_ps_top_by_memory() -> None:
    processes = parsers.parse_ps(PS)
    assert [p["pid"] for p in processes] == [4321, 1234, 1]
    assert processes[0] == {
        "pid": 4321,
        "user": "www-data",
        "cpuPercent": 0.2,
        "memPercent": 5.0,
        "command": "/usr/bin/python3 app.py --port 8000",
        "rssBytes": 819200 * 1024,
        "vszBytes": None,
    }
    assert len(parsers.parse_ps(PS, limit=2)) == 2


def test_ps_busybox_sizes_are_rounded_above_9999_kib() -> None:
    text = (
        "PID   USER     VSZ  RSS  COMMAND\n"
        "    1 root      11g  19m /process_api --firecracker-init\n"
        "  812 hostscan 1.1g 198m python3 -m standalone\n"
        "  930 hostscan 3276 2216 make test\n"
        "    2 root        0    0 [kthreadd]\n"
    )
    processes = parsers.parse_ps(text)
    assert [p["pid"] for p in processes] == [812, 1, 930, 2]
    assert processes[0]["rssBytes"] == 198 * 1024 * 1024
    assert processes[0]["vszBytes"] == int(1.1 * 1024**2) * 1024  # KiB, as ps counts
    assert processes[2]["rssBytes"] == 2216 * 1024
    assert processes[0]["command"] == "python3 -m standalone"


def test_ps_busybox_header_and_limit_of_twenty() -> None:
    lines = ["PID   USER     TIME  COMMAND"] + [f"{i} root 0:00 proc{i}" for i in range(1, 40)]
    processes = parsers.parse_ps("\n".join(lines))
    assert len(processes) == 20
    assert processes[0]["rssBytes"] is None
    assert processes[0]["command"] == "proc1"


# -- network --------------------------------------------------------------------------------------

IP_JSON = json.dumps(
    [
        {
            "ifindex": 1,
            "ifname": "lo",
            "flags": ["LOOPBACK", "UP"],
            "mtu": 65536,
            "operstate": "UNKNOWN",
            "address": "00:00:00:00:00:00",
            "addr_info": [
                {"family": "inet", "local": "127.0.0.1", "prefixlen": 8, "scope": "host"},
                {"family": "inet6", "local": "::1", "prefixlen": 128, "scope": "host"},
            ],
        },
        {"ifindex": 2, "ifname": "eth0", "mtu": 1500, "addr_info": [{"family": "inet"}]},
        "junk",
    ]
)

IP_TEXT = """1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
2: eth0@if7: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default
    link/ether 02:42:ac:11:00:02 brd ff:ff:ff:ff:ff:ff link-netnsid 0
    inet 172.17.0.2/16 brd 172.17.255.255 scope global eth0
    inet6 fe80::42:acff:fe11:2/64 scope link
"""

IFCONFIG_NET_TOOLS = """eth0: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1500
        inet 10.0.0.5  netmask 255.255.255.0  broadcast 10.0.0.255
        inet6 fe80::1  prefixlen 64  scopeid 0x20<link>
        ether 52:54:00:12:34:56  txqueuelen 1000  (Ethernet)

lo: flags=73<UP,LOOPBACK,RUNNING>  mtu 65536
        inet 127.0.0.1  netmask 255.0.0.0
"""

IFCONFIG_BSD = """em0: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> metric 0 mtu 1500
\tether 08:00:27:aa:bb:cc
\tinet 192.168.1.10 netmask 0xffffff00 broadcast 192.168.1.255
\tinet6 fe80::a00:27ff:feaa:bbcc%em0 prefixlen 64 scopeid 0x1
"""

IFCONFIG_OLD = """eth0      Link encap:Ethernet  HWaddr 00:11:22:33:44:55
          inet addr:192.168.0.2  Bcast:192.168.0.255  Mask:255.255.255.0
"""


def test_network_ip_json() -> None:
    interfaces = parsers.parse_network(IP_JSON)
    assert [i["name"] for i in interfaces] == ["lo", "eth0"]
    lo = interfaces[0]
    assert lo["mtu"] == 65536
    assert lo["mac"] == "00:00:00:00:00:00"
    assert lo["addresses"] == [
        {"family": "inet", "address": "127.0.0.1", "prefixLength": 8, "scope": "host"},
        {"family": "inet6", "address": "::1", "prefixLength": 128, "scope": "host"},
    ]
    assert interfaces[1]["addresses"] == []


def test_network_ip_text() -> None:
    interfaces = parsers.parse_network(IP_TEXT)
    assert [i["name"] for i in interfaces] == ["lo", "eth0"]
    eth0 = interfaces[1]
    assert eth0["state"] == "UP"
    assert eth0["mac"] == "02:42:ac:11:00:02"
    assert [(a["address"], a["prefixLength"]) for a in eth0["addresses"]] == [
        ("172.17.0.2", 16),
        ("fe80::42:acff:fe11:2", 64),
    ]


@pytest.mark.parametrize(
    ("text", "name", "address", "prefix", "mac"),
    [
        (IFCONFIG_NET_TOOLS, "eth0", "10.0.0.5", 24, "52:54:00:12:34:56"),
        (IFCONFIG_BSD, "em0", "192.168.1.10", 24, "08:00:27:aa:bb:cc"),
        (IFCONFIG_OLD, "eth0", "192.168.0.2", 24, "00:11:22:33:44:55"),
    ],
)
def test_network_ifconfig_variants(
    text: str, name: str, address: str, prefix: int, mac: str
) -> None:
    interfaces = parsers.parse_network(text)
    first = interfaces[0]
    assert first["name"] == name
    assert first["mac"] == mac
    assert first["addresses"][0]["address"] == address
    assert first["addresses"][0]["prefixLength"] == prefix


def test_network_bsd_inet6_drops_the_zone() -> None:
    em0 = parsers.parse_network(IFCONFIG_BSD)[0]
    assert em0["addresses"][1] == {
        "family": "inet6",
        "address": "fe80::a00:27ff:feaa:bbcc",
        "prefixLength": 64,
        "scope": None,
    }


def test_network_broken_json_falls_back_to_text() -> None:
    assert parsers.parse_network("[{not json") == []
    assert parsers.parse_network("") == []


# -- every parser, arbitrary text -----------------------------------------------------------------

PARSERS: list[Callable[[str], Any]] = [c.parse for c in commands_for("full")]

# Text shaped like command output: lines of tokens from the outputs' vocabularies.
TOKENS = st.sampled_from(
    [
        "Filesystem",
        "Type",
        "1-blocks",
        "1024-blocks",
        "1K-blocks",
        "Used",
        "Available",
        "Capacity",
        "Mounted",
        "on",
        "/",
        "/dev/sda1",
        "ext4",
        "tmpfs",
        "12%",
        "PID",
        "USER",
        "%CPU",
        "%MEM",
        "RSS",
        "VSZ",
        "COMMAND",
        "MemTotal:",
        "MemAvailable:",
        "SwapTotal:",
        "SwapFree:",
        "kB",
        "manager=dpkg",
        "manager=rpm",
        "manager=apk",
        "manager=none",
        "format=dpkg-status",
        "Package:",
        "Status:",
        "installed",
        "P:",
        "V:",
        "A:",
        "19m",
        "1.1g",
        "Mem:",
        "total",
        "available",
        "ii",
        "rc",
        "\t",
        "[installed]",
        "1:",
        "lo:",
        "<UP,LOOPBACK>",
        "mtu",
        "state",
        "inet",
        "inet6",
        "link/ether",
        "netmask",
        "0xffffff00",
        "255.255.255.0",
        "prefixlen",
        "ether",
        "flags=4163<UP>",
        "HWaddr",
        "Mask:255.0.0.0",
        "addr:10.0.0.1",
        "NAME=",
        'ID="x"',
        "VERSION_ID='1'",
        "[",
        "]",
        "{",
        "}",
        '"ifname"',
        '"addr_info"',
        ":",
        ",",
        "-1",
        "0",
        "999999999999999999999999999999999",
        "1e999",
        "nan",
        "-",
        "\u212a",
        "\u00b2",
        "١٢",
        "/proc",
        "\x00",
        "\r",
    ]
)
SHAPED = st.lists(
    st.lists(st.one_of(TOKENS, st.text(max_size=8)), max_size=12).map(" ".join), max_size=25
).map("\n".join)


@settings(max_examples=150, deadline=None)
@given(text=st.one_of(st.text(), SHAPED))
def test_no_parser_raises_on_arbitrary_text(text: str) -> None:
    for parse in PARSERS:
        parse(text)
    parsers.parse_ps(text, limit=3)


@settings(max_examples=60, deadline=None)
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(["ifname", "addr_info", "local", "prefixlen", "mtu", "flags", "x"]),
                inner,
                max_size=5,
            )
        ),
        max_leaves=20,
    )
)
def test_network_parser_survives_any_json(value: Any) -> None:
    text = json.dumps(value)
    result = parsers.parse_network(text if text.startswith("[") else f"[{text}]")
    assert isinstance(result, list)
    json.dumps(result)  # plain JSON-able data


def test_every_command_is_a_fixed_string_with_a_parser() -> None:
    quick = [c.id for c in commands_for("quick")]
    assert quick == ["os", "kernel", "hostname", "uptime", "disk", "memory"]
    assert [c.id for c in commands_for("full")] == [*quick, "packages", "processes", "network"]
    for command in CATALOGUE.values():
        assert isinstance(command.script, str)
        assert callable(command.parse)
