"""What changed on a host between two scans: system, packages, processes, interfaces, disk,
memory and known vulnerabilities.

A group is compared only when both scans have it (a quick scan has no packages; a failed
command leaves its fact unknown); otherwise it is null and `notCompared` says why. Package
versions are ordered by the rules of the host's package manager (dpkg, rpm, apk), so a changed
version is an upgrade or a downgrade, not just "different".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from scanner.comparison.snapshot import (
    CompareOptions,
    NotCompared,
    ScanSnapshot,
    changed,
)

# Scalar facts of the system: change name -> (result key, key inside it or None).
_SYSTEM = {
    "os": ("os", "prettyName"),
    "osVersion": ("os", "versionId"),
    "kernel": ("kernel", None),
    "kernelName": ("kernelName", None),
    "architecture": ("architecture", None),
    "hostname": ("hostname", None),
}


def _system_fact(results: dict[str, Any], key: str, inner: str | None) -> Any:
    value = results.get(key)
    if inner is None:
        return value
    return value.get(inner) if isinstance(value, dict) else None


def _system(old: dict[str, Any], new: dict[str, Any], skipped: NotCompared) -> list[dict[str, Any]]:
    changes = []
    for name, (key, inner) in _SYSTEM.items():
        before, after = _system_fact(old, key, inner), _system_fact(new, key, inner)
        if before is None or after is None:
            if before is not None or after is not None:
                skipped.note(name, "unknown in one of the scans")
            continue
        if before != after:
            changes.append(changed(name, before, after))
    return changes


# -- packages -------------------------------------------------------------------------------------


def _version_type(manager: Any) -> Callable[[str], Any] | None:
    from univers.versions import AlpineLinuxVersion, DebianVersion, RpmVersion

    kinds: dict[str, Callable[[str], Any]] = {
        "dpkg": DebianVersion,
        "rpm": RpmVersion,
        "apk": AlpineLinuxVersion,
    }
    return kinds.get(str(manager))


def version_order(manager: Any, before: str, after: str) -> int:
    """1 when `after` is newer than `before` for this package manager, -1 older, 0 unknown."""
    version = _version_type(manager)
    if version is None:
        return 0
    try:
        old, new = version(before), version(after)
    except Exception:  # a version the manager's grammar does not accept: order unknown
        return 0
    return 1 if new > old else -1 if new < old else 0


def _by_name(packages: list[Any]) -> dict[tuple[str, str], list[str]]:
    index: dict[tuple[str, str], list[str]] = defaultdict(list)
    for package in packages:
        if isinstance(package, dict) and package.get("name"):
            key = (str(package["name"]), str(package.get("arch") or ""))
            index[key].append(str(package.get("version") or ""))
    return index


def _package(key: tuple[str, str], version: str) -> dict[str, str]:
    return {"name": key[0], "arch": key[1], "version": version}


def package_changes(old: list[Any], new: list[Any], manager: Any) -> dict[str, Any]:
    """Packages added, removed, upgraded and downgraded, by name and architecture. A package
    installed in several versions at once (rpm kernels) gains and loses versions instead."""
    before, after = _by_name(old), _by_name(new)
    added = [_package(k, v) for k in after.keys() - before.keys() for v in after[k]]
    removed = [_package(k, v) for k in before.keys() - after.keys() for v in before[k]]
    upgraded: list[dict[str, str]] = []
    downgraded: list[dict[str, str]] = []
    changed_: list[dict[str, str]] = []
    for key in before.keys() & after.keys():
        was, now = sorted(set(before[key])), sorted(set(after[key]))
        if was == now:
            continue
        if len(was) == 1 and len(now) == 1:
            move = {"name": key[0], "arch": key[1], "from": was[0], "to": now[0]}
            order = version_order(manager, was[0], now[0])
            (upgraded if order > 0 else downgraded if order < 0 else changed_).append(move)
            continue
        added += [_package(key, v) for v in now if v not in was]
        removed += [_package(key, v) for v in was if v not in now]
    lists = {
        "added": added,
        "removed": removed,
        "upgraded": upgraded,
        "downgraded": downgraded,
        "changed": changed_,
    }
    for entries in lists.values():
        entries.sort(key=lambda p: (p["name"], p["arch"], p.get("version") or p.get("from")))
    counts = {"before": len(old), "after": len(new), **{k: len(v) for k, v in lists.items()}}
    return {"counts": counts, **lists}


def _package_list(scan: ScanSnapshot) -> list[Any] | None:
    packages = scan.results.get("packages")
    if not isinstance(packages, dict):
        return None
    listed = scan.load(packages.get("listRef"))
    return listed if isinstance(listed, list) else None


# -- processes, interfaces, disk, memory ---------------------------------------------------------


def _command(process: dict[str, Any]) -> str:
    return " ".join(str(process.get("command") or "").split())


def process_changes(old: list[Any], new: list[Any]) -> dict[str, Any]:
    """Top processes that appeared or vanished, by command line."""

    def index(processes: list[Any]) -> dict[str, dict[str, Any]]:
        return {
            _command(p): {"command": _command(p), "user": p.get("user")}
            for p in processes
            if isinstance(p, dict) and _command(p)
        }

    before, after = index(old), index(new)
    return {
        "new": [after[c] for c in sorted(after.keys() - before.keys())],
        "vanished": [before[c] for c in sorted(before.keys() - after.keys())],
    }


def _addresses(interface: dict[str, Any]) -> set[str]:
    found = set()
    for address in interface.get("addresses") or []:
        if isinstance(address, dict) and address.get("address"):
            prefix = address.get("prefixLength")
            found.add(
                f"{address['address']}/{prefix}" if prefix is not None else address["address"]
            )
    return found


def interface_changes(old: list[Any], new: list[Any]) -> dict[str, Any]:
    """Interfaces added or removed, addresses added or removed, and state/MAC/MTU changes."""
    before = {i["name"]: i for i in old if isinstance(i, dict) and i.get("name")}
    after = {i["name"]: i for i in new if isinstance(i, dict) and i.get("name")}
    addresses_added, addresses_removed, changes = [], [], []
    for name in sorted(before.keys() | after.keys()):
        was, now = _addresses(before.get(name, {})), _addresses(after.get(name, {}))
        addresses_added += [{"interface": name, "address": a} for a in sorted(now - was)]
        addresses_removed += [{"interface": name, "address": a} for a in sorted(was - now)]
        if name in before and name in after:
            for key in ("state", "mac", "mtu"):
                if before[name].get(key) != after[name].get(key):
                    changes.append(
                        {
                            "interface": name,
                            **changed(key, before[name].get(key), after[name].get(key)),
                        }
                    )
    return {
        "added": sorted(after.keys() - before.keys()),
        "removed": sorted(before.keys() - after.keys()),
        "addressesAdded": addresses_added,
        "addressesRemoved": addresses_removed,
        "changed": changes,
    }


def disk_changes(old: list[Any], new: list[Any], points: float) -> dict[str, Any]:
    """Mounts added or removed; mounts resized or whose use moved by `points` or more."""
    before = {d["mount"]: d for d in old if isinstance(d, dict) and d.get("mount")}
    after = {d["mount"]: d for d in new if isinstance(d, dict) and d.get("mount")}
    moved = []
    for mount in sorted(before.keys() & after.keys()):
        was, now = before[mount], after[mount]
        used_before, used_after = was.get("percent"), now.get("percent")
        resized = was.get("sizeBytes") != now.get("sizeBytes")
        shifted = (
            isinstance(used_before, int | float)
            and isinstance(used_after, int | float)
            and abs(used_after - used_before) >= points
        )
        if resized or shifted:
            moved.append(
                {
                    "mount": mount,
                    "sizeBytes": {"from": was.get("sizeBytes"), "to": now.get("sizeBytes")},
                    "usedBytes": {"from": was.get("usedBytes"), "to": now.get("usedBytes")},
                    "percent": {"from": used_before, "to": used_after},
                }
            )
    return {
        "thresholdPercentPoints": points,
        "added": sorted(after.keys() - before.keys()),
        "removed": sorted(before.keys() - after.keys()),
        "changed": moved,
    }


def memory_changes(old: dict[str, Any], new: dict[str, Any], points: float) -> dict[str, Any]:
    """Memory or swap resized; used share moved by `points` or more."""
    changes = []
    for key in ("totalBytes", "swapTotalBytes"):
        if old.get(key) != new.get(key):
            changes.append(changed(key, old.get(key), new.get(key)))
    used_before, used_after = old.get("percent"), new.get("percent")
    if (
        isinstance(used_before, int | float)
        and isinstance(used_after, int | float)
        and abs(used_after - used_before) >= points
    ):
        changes.append(changed("percent", used_before, used_after))
    return {"thresholdPercentPoints": points, "changed": changes}


# -- known vulnerabilities ------------------------------------------------------------------------


def _vulnerable(scan: ScanSnapshot) -> list[Any] | None:
    found = scan.results.get("vulnerabilities")
    if not isinstance(found, dict) or found.get("status") != "ok":
        return None
    listed = scan.load(found.get("listRef")) if found.get("listRef") else found.get("packages")
    return listed if isinstance(listed, list) else None


def _advisories(affected: list[Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(advisory id, package) -> entry; an advisory is its CVE ids, else OSV's own ids."""
    index = {}
    for package in affected:
        if not isinstance(package, dict):
            continue
        for advisory in package.get("cves") or package.get("ids") or []:
            key = (str(advisory), str(package.get("name")))
            index[key] = {"id": key[0], "package": key[1], "version": package.get("version")}
    return index


def vulnerability_changes(old: list[Any], new: list[Any]) -> dict[str, Any]:
    before, after = _advisories(old), _advisories(new)
    return {
        "new": [after[k] for k in sorted(after.keys() - before.keys())],
        "resolved": [before[k] for k in sorted(before.keys() - after.keys())],
    }


# -- the host's facts ----------------------------------------------------------------------------


def _both(
    old: dict[str, Any],
    new: dict[str, Any],
    key: str,
    kind: type,
    skipped: NotCompared,
    group: str | None = None,
) -> tuple[Any, Any] | None:
    """Both scans' value of `key` when both have one of type `kind`; else the fact `group`
    (default: the key) is noted as not compared, with the reason."""
    before, after = old.get(key), new.get(key)
    if isinstance(before, kind) and isinstance(after, kind):
        return before, after
    group = group or key
    if key in _FULL_ONLY and "quick" in {old.get("scanType"), new.get("scanType")}:
        skipped.note(group, "a quick scan does not collect it")
    elif before is None and after is None:
        skipped.note(group, "neither scan has it")
    else:
        skipped.note(group, "unknown in one of the scans")
    return None


_FULL_ONLY = ("packages", "processes", "network", "vulnerabilities")


def _stored_lists(
    baseline: ScanSnapshot,
    current: ScanSnapshot,
    group: str,
    listed: Callable[[ScanSnapshot], list[Any] | None],
    compare: Callable[[list[Any], list[Any]], dict[str, Any]],
    skipped: NotCompared,
) -> dict[str, Any] | None:
    """A group whose full list the summary refers to (packages, vulnerable packages)."""
    if not _both(baseline.results, current.results, group, dict, skipped):
        return None
    before, after = listed(baseline), listed(current)
    if before is None or after is None:
        skipped.note(group, "its list is missing from one of the scans (not stored or failed)")
        return None
    return compare(before, after)


def host_facts(
    baseline: ScanSnapshot, current: ScanSnapshot, options: CompareOptions
) -> dict[str, Any]:
    old, new = baseline.results, current.results
    skipped = NotCompared()
    facts: dict[str, Any] = {"system": _system(old, new, skipped)}

    manager = (new.get("packages") or {}).get("manager")
    facts["packages"] = _stored_lists(
        baseline,
        current,
        "packages",
        _package_list,
        lambda before, after: package_changes(before, after, manager),
        skipped,
    )
    pair = _both(old, new, "processes", list, skipped)
    facts["processes"] = process_changes(*pair) if pair else None
    pair = _both(old, new, "network", list, skipped, "interfaces")
    facts["interfaces"] = interface_changes(*pair) if pair else None
    pair = _both(old, new, "disk", list, skipped)
    facts["disk"] = disk_changes(*pair, options.disk_percent_points) if pair else None
    pair = _both(old, new, "memory", dict, skipped)
    facts["memory"] = memory_changes(*pair, options.memory_percent_points) if pair else None

    facts["vulnerabilities"] = _stored_lists(
        baseline, current, "vulnerabilities", _vulnerable, vulnerability_changes, skipped
    )
    facts["notCompared"] = dict(skipped)
    return facts


# group, list, change, subject, field, from, to (see snapshot.rows_from)
HOST_ROWS = (
    ("system", None, "changed", "field", None, "from", "to"),
    ("packages", "added", "added", "name", "version", None, "version"),
    ("packages", "removed", "removed", "name", "version", "version", None),
    ("packages", "upgraded", "upgraded", "name", "version", "from", "to"),
    ("packages", "downgraded", "downgraded", "name", "version", "from", "to"),
    ("packages", "changed", "changed", "name", "version", "from", "to"),
    ("processes", "new", "new", "command", "user", None, "user"),
    ("processes", "vanished", "vanished", "command", "user", "user", None),
    ("interfaces", "added", "added", ".", "interface", None, "."),
    ("interfaces", "removed", "removed", ".", "interface", ".", None),
    ("interfaces", "addressesAdded", "address added", "interface", "address", None, "address"),
    ("interfaces", "addressesRemoved", "address removed", "interface", "address", "address", None),
    ("interfaces", "changed", "changed", "interface", None, "from", "to"),
    ("disk", "added", "added", ".", "mount", None, "."),
    ("disk", "removed", "removed", ".", "mount", ".", None),
    ("disk", "changed", "changed", "mount", "percent", "percent.from", "percent.to"),
    ("memory", "changed", "changed", "field", None, "from", "to"),
    ("vulnerabilities", "new", "new", "id", "package", None, "package"),
    ("vulnerabilities", "resolved", "resolved", "id", "package", "package", None),
)
