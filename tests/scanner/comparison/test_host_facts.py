"""Host facts compared: two scans summarized by the host engine from the real output of its
commands on this machine, the second with the output changed the way a patched host changes
(packages gained, lost, upgraded, downgraded; a new kernel; a disk filling up; an address)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from scanner.comparison.document import compare_scans
from scanner.comparison.host_facts import package_changes, version_order
from scanner.comparison.snapshot import CompareOptions, ScanSnapshot
from scanner.engine import ItemResult, ScanTarget
from scanner.hosts.commands import commands_for
from scanner.hosts.engine import HostEngineConfig, HostScanEngine, _packages, _parse
from tests.support.memory_store import MemoryStore


@pytest.fixture(scope="module")
def machine() -> dict[str, str]:
    """This machine's answers to the full catalogue (what an SSH scan of it reads)."""
    return {
        command.id: subprocess.run(
            ["sh", "-c", command.script], capture_output=True, text=True, timeout=30
        ).stdout
        for command in commands_for("full")
    }


def host_scan(scan_id: str, outputs: dict[str, str], scan_type: str = "full") -> ScanSnapshot:
    """The snapshot of a scan whose commands printed `outputs`, summarized by the engine."""
    store = MemoryStore(scan_id)
    engine = HostScanEngine(HostEngineConfig(), key=None, known_hosts=None)  # type: ignore[arg-type]
    items = []
    for command in commands_for(scan_type):
        value = _parse(command, outputs[command.id])
        if value is not None and command.id == "packages":
            value = _packages(value, store)
        items.append(
            ItemResult(item_id=command.id, status="passed", data={"exitStatus": 0, "value": value})
        )
    target = ScanTarget(target_type="host", target_id="h-22", config={"scan_type": scan_type})
    summary = engine.summarize(target, {"scanType": scan_type}, items, store)
    return ScanSnapshot(scan_id, "host", "h-22", summary.results, items, store)


def dpkg_lines(output: str) -> list[list[str]]:
    return [line.split("\t") for line in output.splitlines() if line.count("\t") == 3]


def patched(machine: dict[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
    """The machine's outputs after patching, and what changed."""
    outputs = dict(machine)
    header, *_ = machine["packages"].splitlines()
    packages = dpkg_lines(machine["packages"])
    assert len(packages) > 50, "this machine lists its packages with dpkg-query"
    removed, upgraded, downgraded = packages[3], packages[10], packages[20]
    kept = [p for p in packages if p not in (removed, upgraded, downgraded)]
    kept.append([upgraded[0], upgraded[1], upgraded[2] + "+deb12u9", upgraded[3]])
    kept.append([downgraded[0], downgraded[1], "0.0.1-1", downgraded[3]])
    kept.append(["ii ", "zz-new-tool", "2.4.0-1", "amd64"])
    kept.append(["rc ", "zz-purged-later", "1.0-1", "amd64"])  # not installed: not a package
    outputs["packages"] = header + "\n" + "".join("\t".join(p) + "\n" for p in kept)
    uname = machine["kernel"].splitlines()
    outputs["kernel"] = "\n".join([uname[0], uname[1] + "-patched", uname[2]]) + "\n"
    network = json.loads(machine["network"])
    network[0].setdefault("addr_info", []).append(
        {"family": "inet", "local": "198.51.100.7", "prefixlen": 24, "scope": "global"}
    )
    outputs["network"] = json.dumps(network)
    # The root file system fills up: used and available move by a fifth of its size.
    lines = machine["disk"].splitlines()
    for index, line in enumerate(lines[1:], 1):
        fields = line.split()
        if fields[-1] == "/":
            size, used, free = int(fields[2]), int(fields[3]), int(fields[4])
            shift = min(free, size // 5)
            fields[3], fields[4] = str(used + shift), str(free - shift)
            lines[index] = " ".join(fields)
    outputs["disk"] = "\n".join(lines) + "\n"
    expected = {
        "removed": removed[1],
        "upgraded": (upgraded[1], upgraded[2], upgraded[2] + "+deb12u9"),
        "downgraded": (downgraded[1], downgraded[2], "0.0.1-1"),
        "kernel": (uname[1], uname[1] + "-patched"),
    }
    return outputs, expected


def test_a_patched_host(machine: dict[str, str]) -> None:
    outputs, expected = patched(machine)
    before, after = host_scan("scan-1", machine), host_scan("scan-2", outputs)
    document = compare_scans(after, before)
    facts = document["facts"]
    assert document["baseline"] == {"scanId": "scan-1", "completedAt": None}
    assert facts["system"] == [
        {"field": "kernel", "from": expected["kernel"][0], "to": expected["kernel"][1]}
    ]
    packages = facts["packages"]
    assert [p["name"] for p in packages["added"]] == ["zz-new-tool"]
    assert [p["name"] for p in packages["removed"]] == [expected["removed"]]
    name, old, new = expected["upgraded"]
    assert [(p["name"], p["from"], p["to"]) for p in packages["upgraded"]] == [(name, old, new)]
    name, old, new = expected["downgraded"]
    assert [(p["name"], p["from"], p["to"]) for p in packages["downgraded"]] == [(name, old, new)]
    assert packages["changed"] == []
    count = before.results["packages"]["count"]
    assert packages["counts"] == {
        "before": count,
        "after": count,
        "added": 1,
        "removed": 1,
        "upgraded": 1,
        "downgraded": 1,
        "changed": 0,
    }
    interfaces = facts["interfaces"]
    first = json.loads(machine["network"])[0]["ifname"]
    assert interfaces["addressesAdded"] == [{"interface": first, "address": "198.51.100.7/24"}]
    assert interfaces["added"] == interfaces["removed"] == interfaces["addressesRemoved"] == []
    root = [d for d in facts["disk"]["changed"] if d["mount"] == "/"]
    assert len(root) == 1 and root[0]["percent"]["to"] > root[0]["percent"]["from"]
    assert facts["memory"] == {"thresholdPercentPoints": 10.0, "changed": []}
    assert facts["processes"] == {"new": [], "vanished": []}
    assert facts["vulnerabilities"] is None  # no OSV look-up in these scans
    assert facts["notCompared"] == {"vulnerabilities": "neither scan has it"}
    # The same outputs twice: nothing changed.
    again = compare_scans(host_scan("scan-3", outputs), after)["facts"]
    assert again["system"] == [] and again["disk"]["changed"] == []
    assert all(not again["packages"][k] for k in ("added", "removed", "upgraded", "downgraded"))


def test_quick_scans_compare_what_they_have(machine: dict[str, str]) -> None:
    full = host_scan("scan-1", machine)
    quick = host_scan("scan-2", machine, "quick")
    facts = compare_scans(quick, full)["facts"]
    assert facts["packages"] is facts["processes"] is facts["interfaces"] is None
    assert facts["notCompared"]["packages"] == "a quick scan does not collect it"
    assert facts["notCompared"]["interfaces"] == "a quick scan does not collect it"
    assert facts["system"] == [] and facts["disk"]["changed"] == []


def test_new_and_vanished_processes_and_memory_beyond_the_threshold() -> None:
    def scan(scan_id: str, processes: list[str], used_percent: float) -> ScanSnapshot:
        results = {
            "scanType": "full",
            "processes": [
                {"pid": n, "user": "root", "command": c} for n, c in enumerate(processes)
            ],
            "memory": {"totalBytes": 8 << 30, "percent": used_percent},
        }
        return ScanSnapshot(scan_id, "host", "h", results, [], MemoryStore(scan_id))

    before = scan("a", ["/usr/sbin/sshd -D", "postgres:  writer"], 40.0)
    after = scan("b", ["/usr/sbin/sshd   -D", "/usr/bin/python3 app.py"], 55.5)
    facts = compare_scans(after, before, CompareOptions(memory_percent_points=10))["facts"]
    assert facts["processes"] == {
        "new": [{"command": "/usr/bin/python3 app.py", "user": "root"}],
        "vanished": [{"command": "postgres: writer", "user": "root"}],
    }
    assert facts["memory"]["changed"] == [{"field": "percent", "from": 40.0, "to": 55.5}]
    small = compare_scans(scan("c", [], 45.0), before)["facts"]["memory"]["changed"]
    assert small == []  # 5 points: below the threshold


def test_versions_are_ordered_by_each_package_manager() -> None:
    assert version_order("dpkg", "2.36-9+deb12u4", "2.36-9+deb12u10") == 1
    assert version_order("dpkg", "1:1.0-1", "9.9-1") == -1  # the epoch wins
    assert version_order("dpkg", "2.0~rc1-1", "2.0-1") == 1  # a tilde sorts before anything
    assert version_order("rpm", "5.14.0-427.el9", "5.14.0-70.el9") == -1
    assert version_order("apk", "1.36.1-r2", "1.36.1-r15") == 1
    assert version_order("dpkg", "not a version!", "1.0") == 0
    assert version_order("pacman", "1", "2") == 0
    # rpm keeps several kernels at once: versions come and go instead of an upgrade.
    kernels = package_changes(
        [
            {"name": "kernel", "version": "5.14.0-70.el9", "arch": "x86_64"},
            {"name": "kernel", "version": "5.14.0-162.el9", "arch": "x86_64"},
        ],
        [
            {"name": "kernel", "version": "5.14.0-162.el9", "arch": "x86_64"},
            {"name": "kernel", "version": "5.14.0-427.el9", "arch": "x86_64"},
        ],
        "rpm",
    )
    assert [p["version"] for p in kernels["added"]] == ["5.14.0-427.el9"]
    assert [p["version"] for p in kernels["removed"]] == ["5.14.0-70.el9"]
    assert kernels["upgraded"] == []


def test_known_vulnerabilities_new_and_resolved() -> None:
    def scan(scan_id: str, affected: list[dict[str, Any]]) -> ScanSnapshot:
        results = {
            "scanType": "full",
            "vulnerabilities": {"status": "ok", "packages": affected},
        }
        return ScanSnapshot(scan_id, "host", "h", results, [], MemoryStore(scan_id))

    openssl = {"name": "openssl", "version": "3.0.11-1", "ids": ["DSA-1"], "cves": ["CVE-1"]}
    patched_ssl = {"name": "openssl", "version": "3.0.13-1", "ids": ["DSA-2"], "cves": ["CVE-2"]}
    no_cve = {"name": "zlib", "version": "1.2", "ids": ["DEBIAN-CVE-X"], "cves": []}
    facts = compare_scans(scan("b", [patched_ssl, no_cve]), scan("a", [openssl]))["facts"]
    assert facts["vulnerabilities"] == {
        "new": [
            {"id": "CVE-2", "package": "openssl", "version": "3.0.13-1"},
            {"id": "DEBIAN-CVE-X", "package": "zlib", "version": "1.2"},
        ],
        "resolved": [{"id": "CVE-1", "package": "openssl", "version": "3.0.11-1"}],
    }
