"""The repository (GxP traceability) scan engine: plan = Fetch, Discover, Parse; one work item
per rule (Evaluate); summarize; reports with the traceability matrix.

The repository is read from a mirror kept between scans (mirrors.py). The parsed artifact
index is built from the previous completed scan's index when it can be (indexing.py: only what
changed is parsed), goes to the artifact store once (plan; on a rescan only its changed parts,
stored_index.py) and every rule item reads it by reference; each process keeps the last few
indexes (and their trace graphs) it loaded, so the rules of one scan running in one worker parse
the JSON once, and a rescan in the same worker starts from the previous index without reading
it back.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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
from scanner.fingerprint import fingerprint
from scanner.repository import collector, git_source, indexing, stored_index
from scanner.repository.git_source import Limits, SecretReader, Source
from scanner.repository.graph import TraceGraph
from scanner.repository.history import HistoryError
from scanner.repository.indexing import Outcome
from scanner.repository.mirrors import DAMAGE, MirrorCache
from scanner.repository.model import ScanIndex
from scanner.repository.rules import SEVERITIES, Rule, catalogue, evaluate
from scanner.repository.target import ENGINE_INFO

log = logging.getLogger(__name__)

INDEX_NAME = "artifact-index.json"
COMMIT_LOG_NAME = "commit-log.json"


@dataclass(frozen=True)
class EngineOptions:
    limits: Limits = field(default_factory=Limits)
    allow_local_paths: bool = False
    token_username: str = "x-access-token"  # noqa: S105 - a user name
    work_dir: str | None = None
    max_findings_per_rule: int = 10_000
    cache_size: int = 4
    # Bare mirrors of the scanned repositories are kept here between scans (at most
    # `mirror_cache_bytes`); None: every scan clones into a temporary folder.
    mirror_dir: str | None = None
    mirror_cache_bytes: int = 2 << 30


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


def scan_repository(
    source: Source,
    commit_sha: str | None,
    options: EngineOptions,
    secrets: SecretReader | None = None,
    progress: ProgressCallback = _noop,
    previous: ScanIndex | None = None,
    mirrors: MirrorCache | None = None,
) -> tuple[ScanIndex, Outcome]:
    """Fetch (into the mirror cache, or a temporary bare copy without one), resolve the commit
    and index its tree, from `previous` when it can be reused."""
    progress("Fetch", git_source.redact(source.url))
    limits = options.limits
    mirrors = mirrors if mirrors is not None else mirrors_of(options)
    with fetched_commit(source, commit_sha, options, secrets, mirrors) as found:
        repo, commit, ref, reused = found
        try:
            return indexing.build(repo, commit, ref, limits, previous, progress)
        except (*DAMAGE, HistoryError) as exc:
            if not reused:
                raise
            log.warning(
                "the cached copy of %s cannot be read (%s: %s); cloning it again",
                git_source.redact(source.url),
                type(exc).__name__,
                git_source.redact(str(exc))[:200],
            )
    progress("Fetch", f"{git_source.redact(source.url)} (again)")
    with fetched_commit(source, commit_sha, options, secrets, mirrors, fresh=True) as found:
        repo, commit, ref, _ = found
        return indexing.build(repo, commit, ref, limits, previous, progress)


def index_repository(
    source: Source,
    commit_sha: str | None,
    options: EngineOptions,
    secrets: SecretReader | None = None,
    progress: ProgressCallback = _noop,
) -> ScanIndex:
    """The full index of the repository at `commit_sha` (default: the branch head)."""
    return scan_repository(source, commit_sha, options, secrets, progress)[0]


def mirrors_of(options: EngineOptions) -> MirrorCache | None:
    if not options.mirror_dir:
        return None
    return MirrorCache(options.mirror_dir, options.mirror_cache_bytes)


@contextlib.contextmanager
def fetched_commit(
    source: Source,
    commit_sha: str | None,
    options: EngineOptions,
    secrets: SecretReader | None = None,
    mirrors: MirrorCache | None = None,
    fresh: bool = False,
) -> Iterator[tuple[Any, Any, str, bool]]:
    """(repository, commit, what was asked, whether a cached mirror was reused): from the
    mirror cache when there is one (`fresh`: cloned again), else a temporary bare fetch that
    is removed on exit."""
    if mirrors is None:
        with git_source.fetched(
            source,
            allow_local_paths=options.allow_local_paths,
            secrets=secrets,
            work_dir=options.work_dir,
        ) as repo:
            commit, ref = git_source.resolve_commit(repo, source.branch, commit_sha)
            yield repo, commit, ref, False
        return
    git_source.check_url(source, options.allow_local_paths)
    with mirrors.checkout(source, secrets, fresh=fresh) as checkout:
        commit, ref = git_source.resolve_commit(checkout.repo, source.branch, commit_sha)
        yield checkout.repo, commit, ref, checkout.reused


# Each rule's findings of the last evaluation in this process, by what they say: a rescan
# finds mostly the same, and takes those findings as they are (they are never changed).
_LAST_FINDINGS: dict[str, tuple[Rule, dict[tuple[Any, ...], Finding]]] = {}
_LAST_FINDINGS_LOCK = threading.Lock()


def rule_findings(rule: Rule, graph: TraceGraph, limit: int = 10_000) -> tuple[list[Finding], int]:
    """(findings, total before the limit) of one rule over the graph."""
    hits = evaluate(rule, graph)
    references = list(rule.references)
    with _LAST_FINDINGS_LOCK:
        last_rule, known = _LAST_FINDINGS.get(rule.id, (None, {}))
    if last_rule != rule:
        known = {}
    made: dict[tuple[Any, ...], Finding] = {}
    findings = []
    for hit in hits[:limit]:
        path, line = hit.location()
        artifact = hit.artifact
        said = (
            hit.message,
            path,
            line,
            hit.field,
            None if artifact is None else artifact.gxp_id,
            None if artifact is None else artifact.type,
        )
        finding = known.get(said)
        if finding is None:
            location: dict[str, Any] = {"file": path, "line": line}
            if artifact is not None:
                location["artifactId"] = artifact.gxp_id
                location["artifactType"] = artifact.type
            if hit.field:
                location["field"] = hit.field
            # Built without validating each one (a rule's fields were checked when the
            # catalogue was loaded); the fingerprint is what validation would compute.
            finding = Finding.model_construct(
                rule_id=rule.id,
                title=rule.title,
                severity=rule.severity,
                message=hit.message,
                location=location,
                remediation=rule.remediation,
                references=references,
                fingerprint=fingerprint(rule.id, location),
            )
        made[said] = finding
        findings.append(finding)
    with _LAST_FINDINGS_LOCK:
        _LAST_FINDINGS[rule.id] = (rule, made)
    return findings, len(hits)


def evaluate_all(index: ScanIndex) -> dict[str, list[Finding]]:
    """Every rule's findings (what the fanned-out items compute, in one call: for tests/bench)."""
    graph = TraceGraph(index)
    return {rule.id: rule_findings(rule, graph)[0] for rule in catalogue().values()}


@dataclass(frozen=True)
class PreviousScan:
    """The last completed scan of a repository: its id, its artifact index reference and its
    commit log reference."""

    scan_id: str
    index: str
    commit_log: str | None = None


# Finds the last completed scan of a target (the service looks in its scan records).
PreviousScanLookup = Callable[[ScanTarget], PreviousScan | None]


class RepositoryEngine(Engine):
    """GxP traceability of a Git repository at a commit."""

    info = ENGINE_INFO

    def __init__(
        self,
        options: EngineOptions | None = None,
        secrets: SecretReader | None = None,
        previous_scan: PreviousScanLookup | None = None,
    ):
        self.options = options or EngineOptions()
        self.secrets = secrets
        self.previous_scan = previous_scan
        self.cache: ArtifactCache[TraceGraph] = ArtifactCache(self.options.cache_size)
        self.rules = catalogue()
        self.mirrors = mirrors_of(self.options)

    # -- plan: Fetch, Discover, Parse ------------------------------------------------------

    def _previous(
        self, target: ScanTarget, store: ArtifactStore
    ) -> tuple[PreviousScan | None, ScanIndex | None]:
        """The last completed scan and its index, when there is one that can still be read."""
        found = self.previous_scan(target) if self.previous_scan is not None else None
        if found is None:
            return None, None
        cached = self.cache.peek(found.index)
        if cached is not None:
            return found, cached.index
        try:
            document = store.get_json(found.index)
            index = (
                None
                if document is None
                else stored_index.read(document, store.get_json, found.index)
            )
            if index is None:
                return found, None
            commit_log = store.get_json(found.commit_log) if found.commit_log else None
            if isinstance(commit_log, list):
                index.log = commit_log
            return found, index
        except (ValueError, KeyError, TypeError) as exc:  # another version, or damaged
            log.info("repository %s: previous index not reused (%s)", target.target_id, exc)
            return found, None

    def plan(self, target: ScanTarget, store: ArtifactStore, progress: ProgressCallback) -> Plan:
        with collector.paused():
            return self._plan(target, store, progress)

    def _plan(self, target: ScanTarget, store: ArtifactStore, progress: ProgressCallback) -> Plan:
        began = time.monotonic()
        source = source_of(target, self.options)
        commit_sha = target.config.get("commit_sha") or None
        previous_scan, previous = self._previous(target, store)
        index, outcome = scan_repository(
            source, commit_sha, self.options, self.secrets, progress, previous, self.mirrors
        )
        # The commit log is written while the index is: two blobs, one wait.
        with ThreadPoolExecutor(1) as writer:
            logged = writer.submit(store.put_json, COMMIT_LOG_NAME, index.log)
            reference = stored_index.put(index, store, INDEX_NAME, previous)
            commit_log = logged.result()
        self.cache.put(reference, TraceGraph(index))
        counts = index.counts_by_type()
        reason = outcome.reason
        if previous_scan is not None and previous is None:
            reason = "the previous scan's artifact index could not be read"
        log.info(
            "repository %s at %s: %d artifacts in %d documents, %d parsed (%s; %.2f s)",
            target.target_id,
            index.commit[:12],
            len(index.artifacts),
            index.files_scanned,
            outcome.reparsed,
            "incremental" if outcome.incremental else f"full: {reason or 'no previous scan'}",
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
            "incremental": outcome.incremental,
            "reparsed": outcome.reparsed,
            "baseline": None
            if previous_scan is None or previous is None
            else {"scanId": previous_scan.scan_id, "commitSha": previous.commit},
            "fullParseReason": None if outcome.incremental else reason,
        }
        counters = {
            "artifactsFound": len(index.artifacts),
            "filesScanned": index.files_scanned,
            "documentsParsed": outcome.reparsed,
        }
        return Plan(items=items, context=context, counters=counters)

    # -- run: one rule ------------------------------------------------------------------------

    def graph(self, reference: str, store: ArtifactStore) -> TraceGraph:
        def load() -> TraceGraph:
            document = store.get_json(reference)
            index = (
                None if document is None else stored_index.read(document, store.get_json, reference)
            )
            if index is None:
                raise ScanError("the scan's artifact index is gone (purged?)")
            return TraceGraph(index)

        return self.cache.get(reference, load)

    def run(
        self, target: ScanTarget, item: WorkItem, context: Context, store: ArtifactStore
    ) -> ItemResult:
        rule = self.rules.get(item.item_id)
        if rule is None:
            raise ScanError(f"unknown rule {item.item_id}")
        with collector.paused():
            graph = self.graph(str(context["index"]), store)
        try:
            with collector.paused():
                findings, total = rule_findings(rule, graph, self.options.max_findings_per_rule)
        except Exception as exc:  # a rule's bug must not hide the other rules' results
            log.exception("repository %s: rule %s failed", target.target_id, rule.id)
            return ItemResult(
                item_id=rule.id,
                title=rule.title,
                status="error",
                error=f"rule {rule.id} could not be evaluated: {type(exc).__name__}",
            )
        # Not validated again: validating a finding would compute its fingerprint once more.
        return ItemResult.model_construct(
            item_id=rule.id,
            title=rule.title,
            status="failed" if total else "passed",
            findings=findings,
            error=None,
            duration_ms=0,
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
            "incremental": bool(context.get("incremental")),
            "reparsed": context.get("reparsed"),
            "baseline": context.get("baseline"),
            "fullParseReason": context.get("fullParseReason"),
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
