"""What a comparison reads of one scan, and the knobs it has.

A snapshot is one completed scan as stored: its summary (`results`), its per-item results (with
their findings) and its artifact store, from which large facts (package lists, the artifact
index, inventory sections) are loaded by the references the summary holds. Nothing else: a
comparison never reads other scans or the scanned systems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scanner.engine import ArtifactStore, Finding, ItemResult

# One row of the flat change list (CSV, HTML): section, change, subject, field, from, to.
ChangeRow = tuple[str, str, str, str, Any, Any]
# How a kind's facts become rows: (group, list in the group or None for the group itself,
# change, subject path, field name or None for the entry's `field`, from path, to path).
# A path is "." for the entry itself, a dotted key path into it, or None for no value.
RowSpec = tuple[str, str | None, str, str, str | None, str | None, str | None]


@dataclass(frozen=True)
class CompareOptions:
    """Thresholds below which a measured fact is not called a change."""

    disk_percent_points: float = 5.0
    memory_percent_points: float = 10.0
    commits_listed: int = 500


@dataclass
class ScanSnapshot:
    scan_id: str
    target_type: str
    target_id: str
    results: dict[str, Any]
    items: list[ItemResult]
    store: ArtifactStore
    completed_at: str | None = None
    _loaded: dict[str, Any] = field(default_factory=dict, repr=False)

    def findings(self) -> list[Finding]:
        return [finding for item in self.items for finding in item.findings]

    def load(self, reference: Any) -> Any:
        """A large value the summary refers to (loaded once); None when there is none."""
        if not isinstance(reference, str) or not reference:
            return None
        if reference not in self._loaded:
            self._loaded[reference] = self.store.get_json(reference)
        return self._loaded[reference]


class NotCompared(dict[str, str]):
    """Fact groups that could not be compared, with the reason (shown as `notCompared`)."""

    def note(self, group: str, reason: str) -> None:
        self.setdefault(group, reason)


def changed(field_name: str, before: Any, after: Any) -> dict[str, Any]:
    return {"field": field_name, "from": before, "to": after}


def _value(entry: Any, path: str | None) -> Any:
    if path is None:
        return None
    if path == ".":
        return entry
    for part in path.split("."):
        entry = entry.get(part) if isinstance(entry, dict) else None
    return entry


def rows_from(facts: dict[str, Any], table: tuple[RowSpec, ...]) -> list[ChangeRow]:
    """A kind's facts as flat change rows, by its table of row specs."""
    rows: list[ChangeRow] = []
    for group, listed, change, subject, field_name, before, after in table:
        value = facts.get(group)
        entries = value if listed is None else (value or {}).get(listed, [])
        for entry in entries or []:
            rows.append(
                (
                    group,
                    change,
                    str(_value(entry, subject)),
                    field_name or str(_value(entry, "field")),
                    _value(entry, before),
                    _value(entry, after),
                )
            )
    return rows
