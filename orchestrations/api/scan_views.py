"""Read views of one scan for people (the dashboard) and scripts: its findings as one flat list,
and a repository scan's trace matrix data.

- `GET /api/v1/scans/{scanId}/findings`: every finding of every item, each with the item it
  came from and, where the engine records them, its service family and framework controls
  (e.g. CIS Microsoft Azure Foundations recommendations);
- `GET /api/v1/scans/{scanId}/trace`: the artifacts of a repository scan (id, type, title,
  status, validation status, file and line at the scanned commit, parents, specifications,
  findings per artifact) and, for repositories hosted on a known service, a link template to
  a file and line at the commit;
- `GET /api/v1/scans/{scanId}/source?path=`: the text of one document of a repository scan at
  the scanned commit (only paths the scan indexed; read from Git objects, size-capped).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any
from urllib.parse import quote

import azure.durable_functions as df
import azure.functions as func
from pydantic import ConfigDict, Field

from orchestrations.api import routes
from orchestrations.api.comparison_models import AcceptedBy
from orchestrations.api.http import ApiError, json_response, route
from orchestrations.api.views import existing_scan
from orchestrations.core.models import ApiModel
from orchestrations.core.settings import get_settings
from orchestrations.engines.repositories import read_document
from orchestrations.scans.exceptions import accepted_items
from orchestrations.state.artifacts import BlobArtifactStore
from orchestrations.state.scans import ScanRecord
from orchestrations.state.stores import Stores
from scanner.engine import ItemResult, ScanError, ScanTarget
from scanner.repository import stored_index
from scanner.repository.documents import DocumentUnavailableError
from scanner.repository.model import ScanIndex

bp = df.Blueprint()


class FindingView(ApiModel):
    item_id: str
    rule_id: str
    title: str
    severity: str
    message: str
    location: dict[str, Any] = Field(default_factory=dict)
    remediation: str = ""
    references: list[str] = Field(default_factory=list)
    fingerprint: str = Field("", description="Stable identity of the finding across scans")
    accepted: AcceptedBy | None = Field(
        None, description="Set when an active exception accepts the finding"
    )
    family: str | None = None
    frameworks: dict[str, list[str]] = Field(default_factory=dict)


class FindingList(ApiModel):
    scan_id: str
    status: str
    total: int = Field(description="Every finding listed, accepted ones included")
    by_severity: dict[str, int] = Field(description="Findings not accepted, per severity")
    accepted: int = Field(0, description="Findings an active exception accepts")
    items: list[FindingView]


class TraceArtifact(ApiModel):
    id: str
    type: str | None
    title: str
    file: str
    line: int
    status: str | None = None
    validation_status: str | None = None
    parents: list[str]
    specifications: list[str]
    findings: int


class SourceView(ApiModel):
    # The document exactly as committed (no trimming of its whitespace).
    model_config = ConfigDict(**{**ApiModel.model_config, "str_strip_whitespace": False})

    scan_id: str
    commit_sha: str
    path: str
    text: str


class TraceView(ApiModel):
    scan_id: str
    artifacts: list[TraceArtifact]
    target_id: str
    repository: str | None = None
    commit_sha: str
    source_url_template: str | None = None
    ref: str


def _record(req: func.HttpRequest) -> tuple[Stores, ScanRecord]:
    stores = Stores.of(get_settings())
    return stores, existing_scan(req, stores)


def _frameworks(data: dict[str, Any]) -> dict[str, list[str]]:
    raw = data.get("frameworks")
    if not isinstance(raw, dict):
        return {}
    return {str(k): [str(c) for c in v] for k, v in raw.items() if isinstance(v, list)}


def finding_views(items: list[ItemResult]) -> list[FindingView]:
    views = []
    for item in sorted(items, key=lambda i: i.item_id):
        family = item.data.get("family")
        frameworks = _frameworks(item.data)
        for finding in item.findings:
            views.append(
                FindingView(
                    item_id=item.item_id,
                    **finding.model_dump(),
                    family=str(family) if family else None,
                    frameworks=frameworks,
                )
            )
    return views


@route(bp, routes.SCAN_FINDINGS)
def scan_findings(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/v1/scans/{scanId}/findings: every finding, flat, with service and controls."""
    stores, record = _record(req)
    items = accepted_items(stores.scans.storage, record, stores.scans.items(record.scan_id))
    views = finding_views(items)
    return json_response(
        FindingList(
            scan_id=record.scan_id,
            status=record.status,
            total=len(views),
            by_severity=dict(Counter(v.severity for v in views if v.accepted is None)),
            accepted=sum(1 for v in views if v.accepted is not None),
            items=views,
        )
    )


# -- trace matrix ---------------------------------------------------------------------------------

_HOSTED = [
    # (pattern of the clone URL, template of a file at a commit; {commit} {path} {line})
    (
        re.compile(r"^https://(?:[^@/]+@)?(github\.com|gitlab\.com)/([^/]+/[^/]+?)(?:\.git)?/?$"),
        "https://{host}/{repo}/blob/{commit}/{path}#L{line}",
    ),
    (
        re.compile(r"^https://(?:[^@/]+@)?(bitbucket\.org)/([^/]+/[^/]+?)(?:\.git)?/?$"),
        "https://{host}/{repo}/src/{commit}/{path}#lines-{line}",
    ),
    (
        re.compile(r"^https://(?:[^@/]+@)?(dev\.azure\.com)/([^/]+/[^/]+/_git/[^/]+?)/?$"),
        "https://{host}/{repo}?path=/{path}&version=GC{commit}&line={line}&lineEnd={line}"
        "&lineStartColumn=1&lineEndColumn=1",
    ),
]


def source_url_template(repository: str | None, commit: str) -> str | None:
    """A link template to `{path}` at `{line}` of the scanned commit on the repository's web
    host, when that host is one we know (GitHub, GitLab, Bitbucket, Azure DevOps)."""
    if not repository or not re.fullmatch(r"[0-9a-f]{7,64}", commit or ""):
        return None
    for pattern, template in _HOSTED:
        found = pattern.match(repository)
        if found:
            host, repo = found.groups()
            return (
                template.replace("{host}", host)
                .replace("{repo}", quote(repo, safe="/_"))
                .replace("{commit}", commit)
            )
    return None


def trace_view(record: ScanRecord, index: ScanIndex, items: list[ItemResult]) -> dict[str, Any]:
    """The TraceView document. Built as plain data: 10,000 artifacts through pydantic models
    cost more than the rest of the request."""
    findings: Counter[str] = Counter()
    for item in items:
        for finding in item.findings:
            artifact_id = finding.location.get("artifactId")
            if artifact_id:
                findings[str(artifact_id)] += 1
    results = record.results if isinstance(record.results, dict) else {}
    repository = str(results["repository"]) if results.get("repository") else None
    return {
        "scanId": record.scan_id,
        "targetId": record.target_id,
        "commitSha": index.commit,
        "ref": index.ref,
        "repository": repository,
        "sourceUrlTemplate": source_url_template(repository, index.commit),
        "artifacts": [
            {
                "id": a.gxp_id,
                "type": a.type,
                "title": a.title,
                "file": a.path,
                "line": a.line_of(None),
                "status": a.value("status"),
                "validationStatus": a.value("validation_status"),
                "parents": list(a.parents),
                "specifications": list(a.spec_refs),
                "findings": findings.get(a.gxp_id, 0),
            }
            for a in index.artifacts
        ],
    }


def _repository_index(stores: Stores, record: ScanRecord) -> ScanIndex:
    if record.target_type != "repository":
        raise ApiError(
            404,
            "not_a_repository_scan",
            f"scan {record.scan_id} is a {record.target_type} scan; "
            "only repository scans have a trace matrix",
        )
    results = record.results if isinstance(record.results, dict) else {}
    reference = results.get("artifactIndex")
    if not reference:
        raise ApiError(409, "trace_not_ready", f"scan {record.scan_id} has no artifact index (yet)")
    store = BlobArtifactStore(stores.scans.storage, record.scan_id)
    document = store.get_json(str(reference))
    index = (
        None if document is None else stored_index.read(document, store.get_json, str(reference))
    )
    if index is None:
        raise ApiError(404, "trace_gone", f"the artifact index of scan {record.scan_id} is gone")
    return index


@route(bp, routes.SCAN_TRACE)
def scan_trace(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/v1/scans/{scanId}/trace: a repository scan's artifacts for the trace matrix."""
    stores, record = _record(req)
    index = _repository_index(stores, record)
    return json_response(trace_view(record, index, stores.scans.items(record.scan_id)))


@route(bp, routes.SCAN_DOCUMENT)
def scan_source(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/v1/scans/{scanId}/source?path=: one indexed document at the scanned commit."""
    stores, record = _record(req)
    path = req.params.get("path") or ""
    index = _repository_index(stores, record)
    # Only what the scan itself read: the API is no general file server for the repository.
    if path not in {a.path for a in index.artifacts} | {p.path for p in index.problems}:
        raise ApiError(404, "document_not_found", "the scan indexed no document at this path")
    target = stores.targets.get("repository", record.target_id)
    if target is None:
        raise ApiError(404, "target_not_found", f"repository {record.target_id!r} is gone")
    scan_target = ScanTarget(
        target_type="repository", target_id=target.target_id, config=target.config
    )
    try:
        text = read_document(get_settings(), scan_target, index.commit, path)
    except DocumentUnavailableError as exc:
        raise ApiError(404, "document_not_found", str(exc)) from exc
    except ScanError as exc:
        raise ApiError(502, "repository_unavailable", str(exc)) from exc
    return json_response(
        SourceView(scan_id=record.scan_id, commit_sha=index.commit, path=path, text=text)
    )
