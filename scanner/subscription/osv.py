"""CVE enrichment from OSV (https://osv.dev): batch queries, cached, never fatal.

`enrich` takes (ecosystem, name, version) tuples from anywhere: the subscription engine's
software (AKS, App Service runtimes, VM images) or a host scan's package list. It asks OSV's
`/v1/querybatch` (up to 1000 queries a request) only for what the cache does not know,
fetches details (aliases such as CVE ids, summary, severity) for at most `max_details`
distinct vulnerabilities, and returns what it learned. If OSV fails, the result says so
(status "error" and why) instead of raising: enrichment annotates findings, it never fails
a scan. The cache is a small protocol (get_many/put_many of JSON values by key) that the
wiring layer implements on Table Storage.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from scanner.subscription.software import SoftwareRef

log = logging.getLogger(__name__)

OSV = "OSV"
QUERY_KEY = "q:"
VULN_KEY = "v:"
_MAX_PAGES_PER_QUERY = 20


class OsvCache(Protocol):
    """Cached OSV answers by key (`q:<ecosystem>|<name>|<version>` -> list of vulnerability
    ids, `v:<id>` -> vulnerability summary). Implementations drop entries older than their
    time to live."""

    def get_many(self, keys: list[str]) -> dict[str, Any]: ...

    def put_many(self, values: Mapping[str, Any]) -> None: ...


class NoCache:
    def get_many(self, keys: list[str]) -> dict[str, Any]:
        return {}

    def put_many(self, values: Mapping[str, Any]) -> None:
        return None


class OsvError(Exception):
    """OSV failed after the client's retries."""


def summarize_vulnerability(record: Mapping[str, Any]) -> dict[str, Any]:
    """The part of an OSV record a finding carries."""
    severity = (record.get("database_specific") or {}).get("severity")
    if not severity:
        scores = [s.get("score") for s in record.get("severity") or [] if isinstance(s, dict)]
        severity = next((s for s in scores if s), None)
    return {
        "id": str(record.get("id", "")),
        "aliases": [str(a) for a in record.get("aliases") or []],
        "summary": str(record.get("summary") or "")[:300],
        "severity": severity,
        "modified": record.get("modified"),
    }


class OsvClient:
    """OSV's HTTP API through an azure-core pipeline (retries 429/5xx, honours Retry-After)."""

    def __init__(
        self, endpoint: str, retries: int = 4, backoff_s: float = 0.8, timeout_s: float = 60.0
    ) -> None:
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import HeadersPolicy, RetryPolicy, UserAgentPolicy

        self.endpoint = endpoint.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self.requests = 0
        self._client: Any = PipelineClient(
            base_url=self.endpoint,
            policies=[
                HeadersPolicy({"Accept": "application/json"}),
                UserAgentPolicy(base_user_agent="scan-orchestrator-osv"),
                RetryPolicy(retry_total=retries, retry_backoff_factor=backoff_s),
            ],
        )

    def close(self) -> None:
        self._client.close()

    def _send(self, method: str, path: str, body: Any = None) -> Any:
        from azure.core.exceptions import AzureError
        from azure.core.rest import HttpRequest

        request = HttpRequest(method, f"{self.endpoint}{path}", json=body)
        self.requests += 1
        try:
            response = self._client.send_request(
                request, connection_timeout=min(self.timeout_s, 30.0), read_timeout=self.timeout_s
            )
        except AzureError as exc:
            raise OsvError(f"{OSV} did not answer {method} {path}: {exc}") from exc
        if response.status_code >= 400:
            attempts = f" after {self.retries + 1} attempts" if response.status_code >= 429 else ""
            raise OsvError(
                f"{OSV} answered HTTP {response.status_code} to {method} {path}{attempts}"
            )
        try:
            return response.json()
        except (ValueError, json.JSONDecodeError) as exc:
            raise OsvError(f"{OSV} answered {method} {path} with invalid JSON") from exc

    def query_batch(self, refs: list[SoftwareRef]) -> list[list[str]]:
        """Vulnerability ids affecting each ref (same order), following next_page_token."""
        found: list[list[str]] = [[] for _ in refs]
        pending: list[tuple[int, str | None]] = [(i, None) for i in range(len(refs))]
        for _ in range(_MAX_PAGES_PER_QUERY):
            if not pending:
                break
            queries = []
            for index, token in pending:
                query: dict[str, Any] = {
                    "package": {"ecosystem": refs[index].ecosystem, "name": refs[index].name},
                    "version": refs[index].version,
                }
                if token:
                    query["page_token"] = token
                queries.append(query)
            body = self._send("POST", "/v1/querybatch", {"queries": queries})
            results = body.get("results") if isinstance(body, dict) else None
            if not isinstance(results, list) or len(results) != len(queries):
                raise OsvError(
                    f"{OSV} answered /v1/querybatch with {len(results or [])} results "
                    f"for {len(queries)} queries"
                )
            following: list[tuple[int, str | None]] = []
            for (index, _), result in zip(pending, results, strict=True):
                for vuln in (result or {}).get("vulns") or []:
                    if isinstance(vuln, dict) and vuln.get("id"):
                        found[index].append(str(vuln["id"]))
                token = (result or {}).get("next_page_token")
                if token:
                    following.append((index, str(token)))
            pending = following
        return [sorted(set(ids)) for ids in found]

    def vulnerability(self, vuln_id: str) -> dict[str, Any]:
        record = self._send("GET", f"/v1/vulns/{vuln_id}")
        return summarize_vulnerability(record if isinstance(record, dict) else {"id": vuln_id})


@dataclass
class Enrichment:
    """What enrichment learned: per software key its vulnerabilities, or why it could not."""

    status: str  # "ok" | "error" | "disabled"
    by_software: dict[str, list[dict[str, Any]]]
    error: str | None = None
    queried: int = 0
    from_cache: int = 0
    requests: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "error": self.error,
            "bySoftware": self.by_software,
            "queried": self.queried,
            "fromCache": self.from_cache,
            "requests": self.requests,
        }


def _cache_get(cache: OsvCache, keys: list[str]) -> dict[str, Any]:
    if not keys:
        return {}
    try:
        return cache.get_many(keys)
    except Exception as exc:  # a cache problem only costs OSV requests
        log.warning("OSV cache read failed (%s); asking OSV", exc)
        return {}


def _cache_put(cache: OsvCache, values: Mapping[str, Any]) -> None:
    if not values:
        return
    try:
        cache.put_many(values)
    except Exception as exc:
        log.warning("OSV cache write failed: %s", exc)


def enrich(
    software: Iterable[SoftwareRef | tuple[str, str, str] | Mapping[str, Any]],
    client: OsvClient | None,
    cache: OsvCache | None = None,
    *,
    batch_size: int = 1000,
    max_details: int = 200,
    concurrency: int = 4,
) -> Enrichment:
    """Known vulnerabilities of each distinct (ecosystem, name, version). Never raises for
    OSV or cache failures: the result's status says "error" and why."""
    cache = cache or NoCache()
    refs = sorted({SoftwareRef.of(s) if not isinstance(s, SoftwareRef) else s for s in software})
    if client is None:
        return Enrichment("disabled", {}, "CVE enrichment is disabled (OSV_ENRICHMENT=false)")
    requests_before = client.requests
    ids_by_key: dict[str, list[str]] = {}
    cached = _cache_get(cache, [QUERY_KEY + r.key for r in refs])
    for ref in refs:
        hit = cached.get(QUERY_KEY + ref.key)
        if isinstance(hit, list):
            ids_by_key[ref.key] = [str(i) for i in hit]
    from_cache = len(ids_by_key)
    missing = [r for r in refs if r.key not in ids_by_key]
    try:
        fresh: dict[str, Any] = {}
        for start in range(0, len(missing), max(1, batch_size)):
            chunk = missing[start : start + batch_size]
            for ref, ids in zip(chunk, client.query_batch(chunk), strict=True):
                ids_by_key[ref.key] = ids
                fresh[QUERY_KEY + ref.key] = ids
        _cache_put(cache, fresh)

        all_ids = sorted({i for ids in ids_by_key.values() for i in ids})
        details: dict[str, dict[str, Any]] = {}
        known = _cache_get(cache, [VULN_KEY + i for i in all_ids[:max_details]])
        for vuln_id in all_ids[:max_details]:
            value = known.get(VULN_KEY + vuln_id)
            if isinstance(value, dict):
                details[vuln_id] = value
        to_fetch = [i for i in all_ids[:max_details] if i not in details]
        if to_fetch:
            with ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="osv") as pool:
                fetched = list(pool.map(client.vulnerability, to_fetch))
            for vuln_id, value in zip(to_fetch, fetched, strict=True):
                details[vuln_id] = value
            _cache_put(cache, {VULN_KEY + v["id"]: v for v in fetched if v.get("id")})
    except OsvError as exc:
        log.warning("CVE enrichment failed: %s", exc)
        return Enrichment(
            "error",
            {},
            str(exc),
            queried=len(refs),
            from_cache=from_cache,
            requests=client.requests - requests_before,
        )
    by_software = {
        key: [
            details.get(i, {"id": i, "aliases": [], "summary": "", "severity": None}) for i in ids
        ]
        for key, ids in sorted(ids_by_key.items())
    }
    return Enrichment(
        "ok",
        by_software,
        queried=len(refs),
        from_cache=from_cache,
        requests=client.requests - requests_before,
    )
