"""What changed in a GxP repository between two scans: artifacts added, removed and changed
(with each field's transition), trace links added and removed, and the commits in between.

Artifacts are matched by their gxp_id (a document keeps its identity when its file moves); a
duplicated id is matched by id and path. The commits come from the newer scan's recorded commit
log: those reachable from its commit and not from the baseline's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from operator import itemgetter
from typing import Any

from scanner.comparison.snapshot import (
    ChangeRow,
    CompareOptions,
    NotCompared,
    ScanSnapshot,
    changed,
    rows_from,
)
from scanner.repository import stored_index
from scanner.repository.model import Artifact, ScanIndex

# The artifact index is columnar (ScanIndex.to_json in scanner/repository/model.py). To compare
# 10,000 artifacts quickly, rows are compared as stored, ignoring the columns that move without
# a change (line numbers, history rank); only rows that differ are decoded into artifacts, by
# ScanIndex.from_json itself. The columns read here are those of index version 2.
_INDEX_VERSION = 2
_ID, _PATH, _PARENTS, _LINES, _SPEC_REFS, _CHANGED = 0, 2, 3, 7, 10, 11
_COMPARED = itemgetter(0, 1, 3, 4, 5, 6, 8, 9, 10)  # all but path, lines and history rank


class _StoredIndex:
    """One scan's artifact index: rows by artifact key (the gxp_id, or id@path when the id is
    duplicated), decoded on demand."""

    def __init__(self, doc: dict[str, Any]) -> None:
        if doc.get("version") != _INDEX_VERSION:
            raise ValueError(f"artifact index version {doc.get('version')!r} is not supported")
        self.doc = doc
        self.paths: list[str] = doc["paths"]
        rows: list[list[Any]] = doc["rows"]
        seen = Counter(row[_ID] for row in rows)
        self.rows = {
            row[_ID]
            if seen[row[_ID]] == 1 and row[_ID]
            else f"{row[_ID]}@{self.paths[row[_PATH]]}": row
            for row in rows
        }
        self.layout = (doc["keys"], doc["values"])

    def essence(self, key: str) -> tuple[Any, ...]:
        """The row as compared: every column but line numbers and history rank, its path
        resolved (the path numbering differs between indexes)."""
        row = self.rows[key]
        return self.paths[row[_PATH]], _COMPARED(row)

    def artifacts(self, keys: Iterable[str]) -> dict[str, Artifact]:
        keys = list(keys)
        # the history stays: a row's last change is a position in it
        subset = {**self.doc, "rows": [self.rows[k] for k in keys], "problems": []}
        return dict(zip(keys, ScanIndex.from_json(subset).artifacts, strict=True))

    def links(self, ids: set[str]) -> set[tuple[str, str, str]]:
        """The trace links of the documents with these ids."""
        links: set[tuple[str, str, str]] = set()
        for row in self.rows.values():
            if row[_ID] not in ids:
                continue
            links.update((row[_ID], parent, "parent") for parent in row[_PARENTS])
            links.update((row[_ID], spec, "specification") for spec in row[_SPEC_REFS])
        return links


def _summary(artifact: Artifact) -> dict[str, Any]:
    return {
        "id": artifact.gxp_id,
        "type": artifact.type,
        "path": artifact.path,
        "title": artifact.title,
        "status": artifact.value("status"),
        "validationStatus": artifact.value("validation_status"),
    }


def artifact_changes(before: Artifact, after: Artifact) -> list[dict[str, Any]]:
    """Each field whose value differs: recorded front matter values, title, type, file, the
    presence of recorded fields, and the acceptance criteria and test scenario counts."""
    changes = []
    for name in ("title", "type", "path"):
        if getattr(before, name) != getattr(after, name):
            changes.append(changed(name, getattr(before, name), getattr(after, name)))
    for name in sorted(before.values.keys() | after.values.keys()):
        if before.values.get(name) != after.values.get(name):
            changes.append(changed(name, before.values.get(name), after.values.get(name)))
    for name in sorted(
        (before.present ^ after.present) - before.values.keys() - after.values.keys()
    ):
        changes.append(
            changed(
                name,
                "set" if name in before.present else None,
                "set" if name in after.present else None,
            )
        )
    for name, attribute in (
        ("acceptanceCriteria", "acceptance_criteria"),
        ("testScenarios", "scenarios"),
    ):
        if getattr(before, attribute) != getattr(after, attribute):
            changes.append(changed(name, getattr(before, attribute), getattr(after, attribute)))
    return changes


def _link(link: tuple[str, str, str]) -> dict[str, str]:
    return {"from": link[0], "to": link[1], "kind": link[2]}


def commits_between(log: list[Any], baseline_sha: str, limit: int) -> dict[str, Any]:
    """Commits of `log` (newest first, with parents) not reachable from `baseline_sha`."""
    shas = {entry.get("sha") for entry in log if isinstance(entry, dict)}
    if baseline_sha not in shas:
        return {
            "complete": False,
            "count": None,
            "items": [],
            "note": f"the baseline commit is not among the last {len(log)} commits of this "
            "scan's history (history rewritten, or further apart)",
        }
    parents = {e["sha"]: e.get("parents") or [] for e in log if isinstance(e, dict)}
    reachable, pending = set(), [baseline_sha]
    while pending:
        sha = pending.pop()
        if sha in reachable or sha not in parents:
            continue
        reachable.add(sha)
        pending.extend(parents[sha])
    between = [
        {key: e.get(key) for key in ("sha", "time", "author", "subject")}
        for e in log
        if isinstance(e, dict) and e.get("sha") not in reachable
    ]
    return {"complete": True, "count": len(between), "items": between[:limit], "note": None}


def _artifact_delta(old: _StoredIndex, new: _StoredIndex) -> tuple[dict[str, Any], set[str]]:
    """The artifacts delta, and the ids of the documents whose rows differ (only their links
    can have changed)."""
    common = old.rows.keys() & new.rows.keys()
    if old.layout == new.layout:
        common = {k for k in common if old.essence(k) != new.essence(k)}
    added_keys = sorted(new.rows.keys() - old.rows.keys())
    removed_keys = sorted(old.rows.keys() - new.rows.keys())
    before = old.artifacts([*removed_keys, *sorted(common)])
    after = new.artifacts([*added_keys, *sorted(common)])
    changes = []
    for key in sorted(common):
        fields = artifact_changes(before[key], after[key])
        if fields:
            changes.append({**_summary(after[key]), "changes": fields})
    added = [_summary(after[k]) for k in added_keys]
    removed = [_summary(before[k]) for k in removed_keys]
    touched = {a.gxp_id for a in (*before.values(), *after.values())}
    return {
        "counts": {
            "before": len(old.rows),
            "after": len(new.rows),
            "added": len(added),
            "removed": len(removed),
            "changed": len(changes),
        },
        "added": added,
        "removed": removed,
        "changed": changes,
    }, touched


def _stored_indexes(
    baseline: ScanSnapshot, current: ScanSnapshot
) -> tuple[_StoredIndex, _StoredIndex] | str:
    """Both scans' artifact indexes, or why they cannot be compared."""
    old_ref = baseline.results.get("artifactIndex")
    new_ref = current.results.get("artifactIndex")
    old_doc = stored_index.expand(baseline.load(old_ref), baseline.load, old_ref)
    new_doc = stored_index.expand(current.load(new_ref), current.load, new_ref)
    if not isinstance(old_doc, dict) or not isinstance(new_doc, dict):
        return "the artifact index of one of the scans is gone"
    try:
        return _StoredIndex(old_doc), _StoredIndex(new_doc)
    except ValueError as exc:
        return str(exc)


def repository_facts(
    baseline: ScanSnapshot, current: ScanSnapshot, options: CompareOptions
) -> dict[str, Any]:
    skipped = NotCompared()
    old_sha, new_sha = baseline.results.get("commitSha"), current.results.get("commitSha")
    facts: dict[str, Any] = {"commit": {"from": old_sha, "to": new_sha}}
    log = current.load(current.results.get("commitLog"))
    if not isinstance(log, list) or not old_sha:
        facts["commits"] = None
        skipped.note("commits", "the commit log of this scan is not recorded")
    elif old_sha == new_sha:
        facts["commits"] = {"complete": True, "count": 0, "items": [], "note": None}
    else:
        facts["commits"] = commits_between(log, str(old_sha), options.commits_listed)

    indexes = _stored_indexes(baseline, current)
    if isinstance(indexes, str):
        facts["artifacts"] = facts["links"] = None
        skipped.note("artifacts", indexes)
        skipped.note("links", indexes)
    else:
        old_index, new_index = indexes
        facts["artifacts"], touched = _artifact_delta(old_index, new_index)
        old_links, new_links = old_index.links(touched), new_index.links(touched)
        facts["links"] = {
            "added": [_link(link) for link in sorted(new_links - old_links)],
            "removed": [_link(link) for link in sorted(old_links - new_links)],
        }
    facts["notCompared"] = dict(skipped)
    return facts


REPOSITORY_ROWS = (
    ("commits", "items", "commit", "sha", "subject", None, "subject"),
    ("artifacts", "added", "added", "id", "path", None, "path"),
    ("artifacts", "removed", "removed", "id", "path", "path", None),
)


def repository_rows(facts: dict[str, Any]) -> list[ChangeRow]:
    """The repository's changes as flat rows: one per commit, artifact, field change, link."""
    rows = rows_from(facts, REPOSITORY_ROWS)
    links = facts.get("links") or {}
    rows += [
        ("links", "added", k["from"], k["kind"], None, k["to"]) for k in links.get("added", [])
    ]
    rows += [
        ("links", "removed", k["from"], k["kind"], k["to"], None) for k in links.get("removed", [])
    ]
    for artifact in (facts.get("artifacts") or {}).get("changed", []):
        rows += [
            ("artifacts", "changed", artifact["id"], c["field"], c["from"], c["to"])
            for c in artifact["changes"]
        ]
    return rows
