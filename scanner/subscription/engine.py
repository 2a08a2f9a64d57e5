"""The subscription scan engine: collect once in `plan`, evaluate one rule per work item.

`plan` collects the inventory sections the selected rules need (Resource Graph, ARM,
Microsoft Graph), enriches the software it names with OSV, stores every section in the
artifact store and plans one work item per rule. `run` loads the sections its rule reads
(cached per process: items of one scan share them) and evaluates the rule, which never calls
Azure, and records how many resources or objects it evaluated (so a compliance view can tell
"passed" from "nothing to evaluate"). `summarize` counts findings by severity, family and CIS
recommendation.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
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
from scanner.subscription import inventory as inv
from scanner.subscription.collect.credentials import build_credential
from scanner.subscription.collect.inventory import collect, collectable
from scanner.subscription.config import ScanConfig
from scanner.subscription.inventory import DataUnavailableError, Inventory, parse_time
from scanner.subscription.osv import NoCache, OsvCache, OsvClient, enrich
from scanner.subscription.rules import Rule, all_rules
from scanner.subscription.rules.base import CIS_BENCHMARK, OSV_VULN_URL, Hit
from scanner.subscription.software import software_in
from scanner.subscription.target import ENGINE_INFO

log = logging.getLogger(__name__)

_CACHE_ENTRIES = 48
_MAX_REFERENCES = 20
_SEVERITIES = ("critical", "high", "medium", "low", "info")


def _blob_name(section: str) -> str:
    return "inventory/" + "".join(ch if ch.isalnum() else "_" for ch in section) + ".json"


class SubscriptionEngine(Engine):
    """Scans one Azure subscription (and its tenant's identities) against the rules."""

    info = ENGINE_INFO

    def __init__(
        self,
        config: ScanConfig,
        credential_factory: Callable[[ScanConfig], Any] = build_credential,
        osv_cache_factory: Callable[[], OsvCache] = NoCache,
    ) -> None:
        self.config = config
        self._credential_factory = credential_factory
        self._osv_cache_factory = osv_cache_factory
        self._lock = threading.Lock()
        self._credential: Any = None
        self._osv: OsvClient | None = None
        self._sections: ArtifactCache[Any] = ArtifactCache(_CACHE_ENTRIES)

    # -- shared per process -----------------------------------------------------------------

    def credential(self) -> Any:
        """One credential per engine (per process): its token cache serves every scan and
        refreshes tokens before they expire."""
        with self._lock:
            if self._credential is None:
                self._credential = self._credential_factory(self.config)
            return self._credential

    def osv_client(self) -> OsvClient | None:
        if not self.config.osv_enabled:
            return None
        with self._lock:
            if self._osv is None:
                self._osv = OsvClient(
                    self.config.osv_endpoint,
                    self.config.retries,
                    self.config.retry_backoff_s,
                    self.config.timeout_s,
                )
            return self._osv

    def _load(self, store: ArtifactStore, ref: str) -> Any:
        return self._sections.get(ref, lambda: store.get_json(ref))

    # -- rules ------------------------------------------------------------------------------

    @staticmethod
    def rules_for(target: ScanTarget) -> list[Rule]:
        """The rules a scan runs: all, or the ids the request names (unknown ids fail)."""
        rules = all_rules()
        wanted = target.config.get("rules")
        if not wanted:
            return list(rules.values())
        unknown = sorted({r for r in wanted if r not in rules})
        if unknown:
            raise ScanError(f"unknown rule id(s): {', '.join(unknown)}; known: {', '.join(rules)}")
        return [rules[r] for r in sorted(set(wanted))]

    # -- the three steps ---------------------------------------------------------------------

    def plan(self, target: ScanTarget, store: ArtifactStore, progress: ProgressCallback) -> Plan:
        rules = self.rules_for(target)
        subscription = target.target_id
        needed = {section for rule in rules for section in rule.needs}
        progress("Collect", "Resource Graph, ARM and Microsoft Graph")
        collected = collect(
            self.config,
            self.credential(),
            subscription,
            {s for s in needed if collectable(s)},
            lambda step: progress("Collect", step),
        )
        sections = collected.sections
        enrichment: dict[str, Any] = {"status": "not needed"}
        if inv.VULNERABILITIES in needed:
            progress("Enrich", "OSV known vulnerabilities")
            refs = software_in(
                sections.get(inv.resources("microsoft.containerservice/managedclusters")) or [],
                sections.get(inv.WEB_CONFIGS) or [],
                sections.get(inv.resources("microsoft.compute/virtualmachines")) or [],
            )
            result = enrich(
                refs,
                self.osv_client(),
                self._osv_cache_factory(),
                batch_size=self.config.osv_batch_size,
                max_details=self.config.osv_max_details,
                concurrency=self.config.concurrency,
            )
            sections[inv.VULNERABILITIES] = result.as_json()
            enrichment = {
                k: v for k, v in result.as_json().items() if k != "bySoftware" and v is not None
            }
            collected.requests["OSV"] = result.requests
        progress("Store", f"{len(sections)} inventory section(s)")
        with ThreadPoolExecutor(4, thread_name_prefix="store") as pool:
            names = sorted(sections)
            refs_stored = list(
                pool.map(lambda n: store.put_json(_blob_name(n), sections[n]), names)
            )
        index = {
            "sections": dict(zip(names, refs_stored, strict=True)),
            "unavailable": collected.unavailable,
        }
        index_ref = store.put_json("inventory/index.json", index)
        resource_count = sum(
            len(v) for k, v in sections.items() if k.startswith(inv.RESOURCE_PREFIX)
        )
        users = sections.get(inv.USERS) or {}
        counters = {
            "resourcesCollected": resource_count,
            "usersCollected": len(users.get("items", [])) if isinstance(users, dict) else 0,
            "sectionsUnavailable": len(collected.unavailable),
        }
        if inv.VULNERABILITIES in needed:
            counters["softwareEnriched"] = int(enrichment.get("queried", 0))
        log.info(
            "subscription=%s: collected %d section(s), %d resource(s); requests %s",
            subscription,
            len(sections),
            resource_count,
            collected.requests,
        )
        context = {
            "subscriptionId": subscription,
            "collectedAt": datetime.now(UTC).isoformat(),
            "inventory": index_ref,
            "requests": collected.requests,
            "enrichment": enrichment,
            "unavailable": collected.unavailable,
        }
        items = [WorkItem(item_id=r.id, title=r.title, params={"rule": r.id}) for r in rules]
        return Plan(items=items, context=context, counters=counters)

    def run(
        self, target: ScanTarget, item: WorkItem, context: Context, store: ArtifactStore
    ) -> ItemResult:
        rule = all_rules().get(str(item.params.get("rule")))
        if rule is None:
            raise ScanError(f"unknown rule {item.params.get('rule')!r}")
        index = self._load(store, context["inventory"])
        refs: dict[str, str] = index.get("sections", {})

        def load(name: str) -> Any:
            return self._load(store, refs[name]) if name in refs else None

        inventory = Inventory(
            load=load,
            subscription_id=str(context.get("subscriptionId", target.target_id)),
            now=parse_time(context.get("collectedAt")) or datetime.now(UTC),
            unavailable=index.get("unavailable", {}),
        )
        data: dict[str, Any] = {
            "family": rule.family,
            "severity": rule.severity,
            "frameworks": rule.mapping(),
        }
        try:
            hits = list(rule.check(inventory))
            evaluated = rule.evaluated(inventory)
        except DataUnavailableError as exc:
            return ItemResult(
                item_id=rule.id, title=rule.title, status="error", error=str(exc), data=data
            )
        except Exception as exc:  # a rule must not take the scan down with it
            log.exception("subscription=%s: rule %s failed", target.target_id, rule.id)
            return ItemResult(
                item_id=rule.id,
                title=rule.title,
                status="error",
                error=f"rule failed: {type(exc).__name__}: {exc}",
                data=data,
            )
        findings = [self._finding(rule, hit, inventory.subscription_id) for hit in hits]
        if evaluated is not None:
            data["evaluated"] = evaluated
        return ItemResult(
            item_id=rule.id,
            title=rule.title,
            status="failed" if findings else "passed",
            findings=findings,
            data=data,
        )

    @staticmethod
    def _finding(rule: Rule, hit: Hit, subscription_id: str) -> Finding:
        details = dict(hit.details)
        vulns = details.get("vulnerabilities") or []
        references = list(rule.references) + [
            OSV_VULN_URL + str(v["id"]) for v in vulns if isinstance(v, dict) and v.get("id")
        ]
        location: dict[str, Any] = {
            "resourceId": hit.subject,
            "name": hit.name,
            "subscriptionId": subscription_id,
            **details,
        }
        return Finding(
            rule_id=rule.id,
            title=rule.title,
            severity=rule.severity,
            message=f"{hit.name}: {hit.message}" if hit.name else hit.message,
            location=location,
            remediation=rule.remediation,
            references=references[:_MAX_REFERENCES],
        )

    def summarize(
        self, target: ScanTarget, context: Context, results: list[ItemResult], store: ArtifactStore
    ) -> Summary:
        rules = all_rules()
        by_severity: Counter[str] = Counter()
        by_family: Counter[str] = Counter()
        cis_failed: set[str] = set()
        failed_rules, errors = [], {}
        for result in sorted(results, key=lambda r: r.item_id):
            rule = rules.get(result.item_id)
            if result.status == "error":
                errors[result.item_id] = result.error
            if not result.findings:
                continue
            failed_rules.append(result.item_id)
            by_severity.update(f.severity for f in result.findings)
            if rule:
                by_family[rule.family] += len(result.findings)
                cis_failed.update(rule.cis)
        findings = sum(by_severity.values())
        counters = {
            "findings": findings,
            **{f"findings{s.title()}": by_severity.get(s, 0) for s in _SEVERITIES},
        }
        return Summary(
            results={
                "subscriptionId": target.target_id,
                "collectedAt": context.get("collectedAt"),
                "rules": len(results),
                "rulesFailed": failed_rules,
                "rulesWithErrors": errors,
                "findings": findings,
                "findingsBySeverity": {s: by_severity[s] for s in _SEVERITIES if by_severity[s]},
                "findingsByFamily": dict(sorted(by_family.items())),
                "cisBenchmark": CIS_BENCHMARK,
                "cisRecommendationsFailed": sorted(
                    cis_failed, key=lambda c: [int(p) for p in c.split(".")]
                ),
                "enrichment": context.get("enrichment"),
                "sectionsUnavailable": context.get("unavailable", {}),
                "requests": context.get("requests", {}),
                "inventory": context.get("inventory"),
            },
            counters=counters,
        )
