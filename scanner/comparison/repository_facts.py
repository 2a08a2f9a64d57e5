"""What changed in a GxP repository between two scans: artifacts added, removed and changed
(with each field's transition), trace links added and removed, and the commits in between.

Artifacts are matched by their gxp_id (a document keeps its identity when its file moves); a
duplicated id is matched by id and path. The commits come from the newer scan's recorded commit
log: those reachable from its commit and not from the baseline's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from scanner.comparison.snapshot import (
    ChangeRow,
    CompareOptions,
    NotCompared,
    ScanSnapshot,
    changed,
    rows_from,
)
from scanner.repository.model import Artifact, ScanIndex


def _keyed(artifacts: Iterable[Artifact]) -> dict[str, Artifact]:
    artifacts = list(artifacts)
    seen: dict[str, int] = {}
    for artifact in artifacts:
        seen[artifact.gxp_id] = seen.get(artifact.gxp_id, 0) + 1
    return {
        a.gxp_id if seen[a.gxp_id] == 1 and a.gxp_id else f"{a.gxp_id}@{a.path}": a
        for a in artifacts
    }


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


def _links(index: ScanIndex) -> set[tuple[str, str, str]]:
    links: set[tuple[str, str, str]] = set()
    for artifact in index.artifacts:
        links.update((artifact.gxp_id, parent, "parent") for parent in artifact.parents)
        links.update((artifact.gxp_id, spec, "specification") for spec in artifact.spec_refs)
    return links


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

    old_doc = baseline.load(baseline.results.get("artifactIndex"))
    new_doc = current.load(current.results.get("artifactIndex"))
    if not isinstance(old_doc, dict) or not isinstance(new_doc, dict):
        facts["artifacts"] = facts["links"] = None
        skipped.note("artifacts", "the artifact index of one of the scans is gone")
        skipped.note("links", "the artifact index of one of the scans is gone")
        facts["notCompared"] = dict(skipped)
        return facts
    old_index, new_index = ScanIndex.from_json(old_doc), ScanIndex.from_json(new_doc)
    before, after = _keyed(old_index.artifacts), _keyed(new_index.artifacts)
    changes = []
    for key in sorted(before.keys() & after.keys()):
        fields = artifact_changes(before[key], after[key])
        if fields:
            changes.append({**_summary(after[key]), "changes": fields})
    added = [_summary(after[k]) for k in sorted(after.keys() - before.keys())]
    removed = [_summary(before[k]) for k in sorted(before.keys() - after.keys())]
    facts["artifacts"] = {
        "counts": {
            "before": len(before),
            "after": len(after),
            "added": len(added),
            "removed": len(removed),
            "changed": len(changes),
        },
        "added": added,
        "removed": removed,
        "changed": changes,
    }
    old_links, new_links = _links(old_index), _links(new_index)
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
