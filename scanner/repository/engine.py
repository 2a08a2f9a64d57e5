"""The repository (GxP traceability) scan engine: plan = Fetch, Discover, Parse; one work item
per rule (Evaluate); summarize; reports with the traceability matrix.

The parsed artifact index goes to the artifact store once (plan) and every rule item reads it
by reference; each process keeps the last few indexes (and their trace graphs) it loaded, so
the rules of one scan running in one worker parse the JSON once.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from scanner.cache import ArtifactCache
from scanner.engine import (
    ArtifactStore,
    Context,
    Engine,
    Finding,
    ItemResult,
    Plan,
    ProgressCallback,
    ScanError,
    ScanTarget,
    Summary,
    WorkItem,
)
from scanner.repository import git_source
from scanner.repository.git_source import Limits, SecretReader, Source
from scanner.repository.graph import TraceGraph
from scanner.repository.model import Problem, ScanIndex, document_artifact
from scanner.repository.rules import SEVERITIES, Rule, catalogue, evaluate, field_table
from scanner.repository.target import ENGINE_INFO

log = logging.getLogger(__name__)

INDEX_NAME = "artifact-index.json"
COMMIT_LOG_NAME = "commit-log.json"
_PROGRESS_EVERY = 500  # documents between Parse progress calls


@dataclass(frozen=True)
class EngineOptions:
    limits: Limits = field(default_factory=Limits)
    allow_local_paths: bool = False
    token_username: str = "x-access-token"  # noqa: S105 - a user name
    work_dir: str | None = None
    max_findings_per_rule: int = 10_000
    cache_size: int = 4


def source_of(target: ScanTarget, options: EngineOptions) -> Source:
    config = target.config
    url = config.get("url")
    if not url:
        raise ScanError(f"repository {target.target_id} has no url")
    return Source(
        url=str(url),
        branch=str(config.get("default_branch") or "main"),
        credentials_ref=config.get("credentials_ref") or None,
        token_username=options.token_username,
    )


def _noop(phase: str, step: str | None) -> None:
    return None


def index_tree(
    repo: Any,
    commit: Any,
    ref: str,
    limits: Limits,
    progress: ProgressCallback = _noop,
) -> ScanIndex:
    """Discover and parse the documents of `commit`'s tree, then place each artifact in the
    history (one walk for all paths). Pure with respect to the service: reads Git objects only."""
    progress("Discover", None)
    listing = git_source.list_tree(repo, commit.tree, limits)
    fields = field_table()
    problems: list[Problem] = [
        Problem(
            "GXP-PARSE-SYMLINK",
            path,
            1,
            f"{path} is a symbolic link; links are never followed, so it is not scanned",
        )
        for path in listing.symlinks
    ]
    skipped = {"oversized": 0, "binary": 0, "symlink": len(listing.symlinks)}
    artifacts = []
    total = len(listing.documents)
    progress("Parse", f"0/{total} documents")
    for number, (path, oid) in enumerate(listing.documents, 1):
        text, why, size = git_source.read_text(repo, oid, limits)
        if text is None:
            skipped[why or "binary"] += 1
            if why == "oversized":
                problems.append(
                    Problem(
                        "GXP-PARSE-FILE-SIZE",
                        path,
                        1,
                        f"{path} has {size} bytes, more than the limit of "
                        f"{limits.max_file_bytes}; it was not scanned",
                    )
                )
            continue
        artifact, error = document_artifact(path, text, fields)
        if error is not None:
            message, line = error
            problems.append(Problem("GXP-PARSE-FRONT-MATTER", path, line, f"{path}: {message}"))
        elif artifact is not None:
            artifacts.append(artifact)
        if number % _PROGRESS_EVERY == 0:
            progress("Parse", f"{number}/{total} documents, {len(artifacts)} artifacts found")
    progress("Parse", f"history of {len(artifacts)} artifacts")
    ranks, history = git_source.last_changes(
        repo, commit, {a.path for a in artifacts}, limits.max_history_commits
    )
    for artifact in artifacts:
        artifact.changed = ranks.get(artifact.path, -1)
    progress("Parse", f"{len(artifacts)} artifacts found")
    return ScanIndex(
        log=git_source.commit_log(repo, commit, limits.max_log_commits),
        commit=str(commit.id),
        ref=ref,
        artifacts=artifacts,
        problems=problems,
        history=history,
        files_scanned=total,
        skipped=skipped,
        fields=fields,
    )


def index_repository(
    source: Source,
    commit_sha: str | None,
    options: EngineOptions,
    secrets: SecretReader | None = None,
    progress: ProgressCallback = _noop,
) -> ScanIndex:
    """Fetch (bare, temporary), resolve the commit and index its tree."""
    progress("Fetch", git_source.redact(source.url))
    with fetched_commit(source, commit_sha, options, secrets) as (repo, commit, ref):
        return index_tree(repo, commit, ref, options.limits, progress)


@contextlib.contextmanager
def fetched_commit(
    source: Source,
    commit_sha: str | None,
    options: EngineOptions,
    secrets: SecretReader | None = None,
) -> Iterator[tuple[Any, Any, str]]:
    """(repository, commit, what was asked) of a temporary bare fetch, removed on exit."""
    with git_source.fetched(
        source,
        allow_local_paths=options.allow_local_paths,
        secrets=secrets,
        work_dir=options.work_dir,
    ) as repo:
        commit, ref = git_source.resolve_commit(repo, source.branch, commit_sha)
        yield repo, commit, ref


def rule_findings(rule: Rule, graph: TraceGraph, limit: int = 10_000) -> tuple[list[Finding], int]:
    """(findings, total before the limit) of one rule over the graph."""
    hits = evaluate(rule, graph)
    findings = []
    for hit in hits[:limit]:
        path, line = hit.location()
        location: dict[str, Any] = {"file": path, "line": line}
        if hit.artifact is not None:
            location["artifactId"] = hit.artifact.gxp_id
            location["artifactType"] = hit.artifact.type
        if hit.field:
            location["field"] = hit.field
        findings.append(
            Finding(
                rule_id=rule.id,
                title=rule.title,
                severity=rule.severity,
                message=hit.message,
                location=location,
                remediation=rule.remediation,
                references=rule.references,
            )
        )
    return findings, len(hits)


def evaluate_all(index: ScanIndex) -> dict[str, list[Finding]]:
    """Every rule's findings (what the fanned-out items compute, in one call: for tests/bench)."""
    graph = TraceGraph(index)
    return {rule.id: rule_findings(rule, graph)[0] for rule in catalogue().values()}


class RepositoryEngine(Engine):
    """GxP traceability of a Git repository at a commit."""

    info = ENGINE_INFO

    def __init__(self, options: EngineOptions | None = None, secrets: SecretReader | None = None):
        self.options = options or EngineOptions()
        self.secrets = secrets
        self.cache: ArtifactCache[TraceGraph] = ArtifactCache(self.options.cache_size)
        self.rules = catalogue()

    # -- plan: Fetch, Discover, Parse ------------------------------------------------------

    def plan(self, target: ScanTarget, store: ArtifactStore, progress: ProgressCallback) -> Plan:
        began = time.monotonic()
        source = source_of(target, self.options)
        commit_sha = target.config.get("commit_sha") or None
        index = index_repository(source, commit_sha, self.options, self.secrets, progress)
        reference = store.put_json(INDEX_NAME, index.to_json())
        commit_log = store.put_json(COMMIT_LOG_NAME, index.log)
        self.cache.put(reference, TraceGraph(index))
        counts = index.counts_by_type()
        log.info(
            "repository %s at %s: %d artifacts in %d documents (%.2f s)",
            target.target_id,
            index.commit[:12],
            len(index.artifacts),
            index.files_scanned,
            time.monotonic() - began,
        )
        items = [WorkItem(item_id=rule.id, title=rule.title) for rule in self.rules.values()]
        context = {
            "index": reference,
            "commitLog": commit_log,
            "commit": index.commit,
            "ref": index.ref,
            "branch": source.branch,
            "repository": git_source.redact(source.url),
            "artifactsByType": counts,
            "files": {"scanned": index.files_scanned, "skipped": index.skipped},
        }
        counters = {
            "artifactsFound": len(index.artifacts),
            "filesScanned": index.files_scanned,
        }
        return Plan(items=items, context=context, counters=counters)

    # -- run: one rule ------------------------------------------------------------------------

    def graph(self, reference: str, store: ArtifactStore) -> TraceGraph:
        def load() -> TraceGraph:
            document = store.get_json(reference)
            if document is None:
                raise ScanError("the scan's artifact index is gone (purged?)")
            return TraceGraph(ScanIndex.from_json(document))

        return self.cache.get(reference, load)

    def run(
        self, target: ScanTarget, item: WorkItem, context: Context, store: ArtifactStore
    ) -> ItemResult:
        rule = self.rules.get(item.item_id)
        if rule is None:
            raise ScanError(f"unknown rule {item.item_id}")
        graph = self.graph(str(context["index"]), store)
        try:
            findings, total = rule_findings(rule, graph, self.options.max_findings_per_rule)
        except Exception as exc:  # a rule's bug must not hide the other rules' results
            log.exception("repository %s: rule %s failed", target.target_id, rule.id)
            return ItemResult(
                item_id=rule.id,
                title=rule.title,
                status="error",
                error=f"rule {rule.id} could not be evaluated: {type(exc).__name__}",
            )
        return ItemResult(
            item_id=rule.id,
            title=rule.title,
            status="failed" if total else "passed",
            findings=findings,
            data={
                "severity": rule.severity,
                "findingsTotal": total,
                "truncated": total > len(findings),
            },
        )

    # -- summarize: Report --------------------------------------------------------------------

    def summarize(
        self, target: ScanTarget, context: Context, results: list[ItemResult], store: ArtifactStore
    ) -> Summary:
        by_rule = {rule_id: 0 for rule_id in self.rules}
        by_severity = {severity: 0 for severity in SEVERITIES}
        statuses = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
        for result in results:
            total = int(result.data.get("findingsTotal", len(result.findings)))
            by_rule[result.item_id] = total
            rule = self.rules.get(result.item_id)
            if rule is not None:
                by_severity[rule.severity] += total
            statuses[result.status] = statuses.get(result.status, 0) + 1
        total_findings = sum(by_rule.values())
        by_type = dict(context.get("artifactsByType") or {})
        results_doc = {
            "commitSha": context.get("commit"),
            "ref": context.get("ref"),
            "branch": context.get("branch"),
            "repository": context.get("repository"),
            "artifacts": {"total": sum(by_type.values()), "byType": by_type},
            "files": context.get("files") or {},
            "findings": {
                "total": total_findings,
                "bySeverity": by_severity,
                "byRule": by_rule,
            },
            "rules": {"total": len(self.rules), "evaluated": len(results), **statuses},
            "compliant": total_findings == 0 and statuses["error"] == 0,
            "artifactIndex": context.get("index"),
            "commitLog": context.get("commitLog"),
        }
        return Summary(
            results=results_doc,
            counters={"findings": total_findings, "artifactsFound": sum(by_type.values())},
        )

    # -- reports ------------------------------------------------------------------------------

    def report(
        self, fmt: str, scan: dict[str, Any], items: list[ItemResult], store: ArtifactStore
    ) -> tuple[str, str] | None:
        from scanner.repository import reports

        results = scan.get("results") or {}
        reference = results.get("artifactIndex")
        graph = self.graph(str(reference), store) if reference else None
        return reports.render(fmt, scan, items, graph, self.rules)
