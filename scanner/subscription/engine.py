"""The subscription scan engine: collect once in `plan`, evaluate one rule per work item.

A scan covers one subscription, a list of them, or a management group's (found when the scan
starts). `plan` collects the inventory sections the selected rules need (Resource Graph over
every subscription at once, ARM per subscription, Microsoft Graph once for the tenant),
enriches the software it names with OSV, stores every section in the artifact store and plans
one work item per rule. `run` loads the sections its rule reads (cached per process: items of
one scan share them) and evaluates the rule in each subscription (a rule over the tenant's
identities alone, once), which never calls Azure; each finding names its subscription, and
the item records how many resources or objects the rule evaluated (so a compliance view can
tell "passed" from "nothing to evaluate"). `summarize` counts findings by severity, family,
CIS recommendation and subscription, and lists the subscriptions that could not be read.
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
from scanner.subscription.collect.inventory import (
    collect_subscriptions,
    collectable,
    management_group_subscriptions,
)
from scanner.subscription.config import ScanConfig
from scanner.subscription.inventory import DataUnavailableError, parse_time
from scanner.subscription.osv import NoCache, OsvCache, OsvClient, enrich
from scanner.subscription.rules import Rule, all_rules
from scanner.subscription.rules.base import CIS_BENCHMARK, OSV_VULN_URL, Hit
from scanner.subscription.software import software_in
from scanner.subscription.stored import INDEX_LAYOUT, StoredInventory
from scanner.subscription.target import (
    ENGINE_INFO,
    MANAGEMENT_GROUP,
    MAX_GROUP_SUBSCRIPTIONS,
    SINGLE,
    SubscriptionTarget,
)

log = logging.getLogger(__name__)

_CACHE_ENTRIES = 48
_MAX_REFERENCES = 20
_SEVERITIES = ("critical", "high", "medium", "low", "info")


def _blob_name(section: str) -> str:
    return "inventory/" + "".join(ch if ch.isalnum() else "_" for ch in section) + ".json"


class SubscriptionEngine(Engine):
    """Scans Azure subscriptions (and their tenant's identities) against the rules."""

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
        typed = SubscriptionTarget.model_validate(target.config)
        scope, subscriptions = typed.scope(target.target_id)
        names: dict[str, str] = {}
        requests: dict[str, int] = {}
        if scope == MANAGEMENT_GROUP:
            group = str(typed.management_group_id)
            progress("Collect", f"management group {group}: its subscriptions")
            found, requests = management_group_subscriptions(self.config, self.credential(), group)
            if not found:
                raise ScanError(f"management group {group!r} holds no subscription")
            if len(found) > MAX_GROUP_SUBSCRIPTIONS:
                raise ScanError(
                    f"management group {group!r} holds {len(found)} subscriptions; a scan "
                    f"covers at most {MAX_GROUP_SUBSCRIPTIONS} (register smaller groups)"
                )
            subscriptions = [f["subscriptionId"] for f in found]
            names = {f["subscriptionId"]: f["displayName"] for f in found if f["displayName"]}
        needed = {section for rule in rules for section in rule.needs}
        progress("Collect", "Resource Graph, ARM and Microsoft Graph")
        collected = collect_subscriptions(
            self.config,
            self.credential(),
            subscriptions,
            {s for s in needed if collectable(s)},
            lambda step: progress("Collect", step),
        )
        for service, n in requests.items():
            collected.requests[service] = collected.requests.get(service, 0) + n
        readable = collected.subscriptions
        per_subscription = collected.sections
        tenant = collected.tenant

        def every(name: str) -> list[Any]:
            return [row for s in readable for row in per_subscription[s].get(name) or []]

        enrichment: dict[str, Any] = {"status": "not needed"}
        if inv.VULNERABILITIES in needed:
            progress("Enrich", "OSV known vulnerabilities")
            refs = software_in(
                every(inv.resources("microsoft.containerservice/managedclusters")),
                every(inv.WEB_CONFIGS),
                every(inv.resources("microsoft.compute/virtualmachines")),
            )
            result = enrich(
                refs,
                self.osv_client(),
                self._osv_cache_factory(),
                batch_size=self.config.osv_batch_size,
                max_details=self.config.osv_max_details,
                concurrency=self.config.concurrency,
            )
            tenant[inv.VULNERABILITIES] = result.as_json()
            enrichment = {
                k: v for k, v in result.as_json().items() if k != "bySoftware" and v is not None
            }
            collected.requests["OSV"] = result.requests
        # One blob per section: a subscription's section holds every subscription's value
        # by subscription id, so a rule loads its sections once for all of them.
        blobs: dict[str, Any] = {}
        for subscription in readable:
            for name, value in per_subscription[subscription].items():
                blobs.setdefault(name, {})[subscription] = value
        tenant_names = sorted(tenant)
        names_stored = sorted(blobs)
        progress("Store", f"{len(names_stored) + len(tenant_names)} inventory section(s)")
        with ThreadPoolExecutor(4, thread_name_prefix="store") as pool:
            section_refs = list(
                pool.map(lambda n: store.put_json(_blob_name(n), blobs[n]), names_stored)
            )
            tenant_refs = list(
                pool.map(lambda n: store.put_json(_blob_name(n), tenant[n]), tenant_names)
            )
        unavailable = dict(collected.tenant_unavailable)
        if scope == SINGLE:
            unavailable.update(collected.unavailable[readable[0]])
        index = {
            "layout": INDEX_LAYOUT,
            "scope": scope,
            "subscriptions": readable,
            "sections": dict(zip(names_stored, section_refs, strict=True)),
            "tenantSections": dict(zip(tenant_names, tenant_refs, strict=True)),
            "unavailable": collected.tenant_unavailable,
            "unavailableBySubscription": collected.unavailable,
        }
        index_ref = store.put_json("inventory/index.json", index)
        resources_by_subscription = {
            s: sum(
                len(v) for k, v in per_subscription[s].items() if k.startswith(inv.RESOURCE_PREFIX)
            )
            for s in readable
        }
        resource_count = sum(resources_by_subscription.values())
        users = tenant.get(inv.USERS) or {}
        counters = {
            "resourcesCollected": resource_count,
            "usersCollected": len(users.get("items", [])) if isinstance(users, dict) else 0,
            "sectionsUnavailable": len(collected.tenant_unavailable)
            + sum(len(v) for v in collected.unavailable.values()),
        }
        if scope != SINGLE:
            counters["subscriptionsScanned"] = len(readable)
            counters["subscriptionsUnreadable"] = len(collected.unreadable)
        if inv.VULNERABILITIES in needed:
            counters["softwareEnriched"] = int(enrichment.get("queried", 0))
        log.info(
            "subscription target=%s: collected %d subscription(s) (%d unreadable), "
            "%d section(s), %d resource(s); requests %s",
            target.target_id,
            len(readable),
            len(collected.unreadable),
            len(names_stored) + len(tenant_names),
            resource_count,
            collected.requests,
        )
        context: dict[str, Any] = {
            "scope": scope,
            "collectedAt": datetime.now(UTC).isoformat(),
            "inventory": index_ref,
            "requests": collected.requests,
            "enrichment": enrichment,
            "unavailable": unavailable,
            "subscriptions": [
                {
                    "subscriptionId": s,
                    **({"displayName": names[s]} if s in names else {}),
                    "status": "scanned",
                    "resources": resources_by_subscription[s],
                    "sectionsUnavailable": collected.unavailable[s],
                }
                for s in readable
            ]
            + [
                {
                    "subscriptionId": s,
                    **({"displayName": names[s]} if s in names else {}),
                    "status": "unreadable",
                    "reason": reason,
                }
                for s, reason in collected.unreadable.items()
            ],
        }
        if scope == SINGLE:
            context["subscriptionId"] = readable[0]
        if scope == MANAGEMENT_GROUP:
            context["managementGroupId"] = typed.management_group_id
        items = [WorkItem(item_id=r.id, title=r.title, params={"rule": r.id}) for r in rules]
        return Plan(items=items, context=context, counters=counters)

    def _stored(self, store: ArtifactStore, context: Context) -> StoredInventory:
        index = self._load(store, context["inventory"])
        return StoredInventory(index, lambda ref: self._load(store, ref))

    def run(
        self, target: ScanTarget, item: WorkItem, context: Context, store: ArtifactStore
    ) -> ItemResult:
        rule = all_rules().get(str(item.params.get("rule")))
        if rule is None:
            raise ScanError(f"unknown rule {item.params.get('rule')!r}")
        stored = self._stored(store, context)
        now = parse_time(context.get("collectedAt")) or datetime.now(UTC)
        data: dict[str, Any] = {
            "family": rule.family,
            "severity": rule.severity,
            "frameworks": rule.mapping(),
        }
        several = stored.scope != SINGLE
        # Identity rules read only the tenant's sections: once per scan, not per subscription.
        tenant_wide = several and bool(rule.needs) and set(rule.needs) <= inv.GRAPH_SECTIONS
        single = str(context.get("subscriptionId") or target.target_id)
        subscriptions = stored.subscriptions or [single]
        if tenant_wide:
            subscriptions = subscriptions[:1]
        findings: list[Finding] = []
        seen: set[str] = set()
        errors: dict[str, str] = {}
        evaluated: int | None = None
        for subscription in subscriptions:
            inventory = stored.inventory(subscription, now)
            try:
                hits = list(rule.check(inventory))
                counted = rule.evaluated(inventory)
            except DataUnavailableError as exc:
                errors[subscription] = str(exc)
                continue
            except Exception as exc:  # a rule must not take the scan down with it
                log.exception(
                    "subscription=%s: rule %s failed (target %s)",
                    subscription,
                    rule.id,
                    target.target_id,
                )
                errors[subscription] = f"rule failed: {type(exc).__name__}: {exc}"
                continue
            if counted is not None:
                evaluated = (evaluated or 0) + counted
            for hit in hits:
                finding = self._finding(rule, hit, None if tenant_wide else subscription)
                # A row several subscriptions share (e.g. a role defined above them) is one
                # finding, attributed to the first subscription that reported it.
                if finding.fingerprint not in seen:
                    seen.add(finding.fingerprint)
                    findings.append(finding)
        if errors and len(errors) == len(subscriptions):
            error = errors[subscriptions[0]] if len(errors) == 1 else _per_subscription(errors)
            if several:
                data["subscriptionErrors"] = errors
            return ItemResult(
                item_id=rule.id, title=rule.title, status="error", error=error, data=data
            )
        if errors:
            data["subscriptionErrors"] = errors
        if evaluated is not None:
            data["evaluated"] = evaluated
        return ItemResult(
            item_id=rule.id,
            title=rule.title,
            status="failed" if findings else "passed",
            findings=findings,
            error=_per_subscription(errors) if errors else None,
            data=data,
        )

    @staticmethod
    def _finding(rule: Rule, hit: Hit, subscription_id: str | None) -> Finding:
        details = dict(hit.details)
        vulns = details.get("vulnerabilities") or []
        references = list(rule.references) + [
            OSV_VULN_URL + str(v["id"]) for v in vulns if isinstance(v, dict) and v.get("id")
        ]
        # A tenant-wide finding (Microsoft Graph, in a scan of several subscriptions) names
        # no subscription.
        scope = {"subscriptionId": subscription_id} if subscription_id else {"scope": "tenant"}
        location: dict[str, Any] = {
            "resourceId": hit.subject,
            "name": hit.name,
            **scope,
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
        by_subscription: dict[str, Counter[str]] = {}
        tenant_findings = 0
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
            for finding in result.findings:
                subscription = finding.location.get("subscriptionId")
                if subscription:
                    counter = by_subscription.setdefault(str(subscription), Counter())
                    counter[finding.severity] += 1
                else:
                    tenant_findings += 1
            if rule:
                by_family[rule.family] += len(result.findings)
                cis_failed.update(rule.cis)
        findings = sum(by_severity.values())
        counters = {
            "findings": findings,
            **{f"findings{s.title()}": by_severity.get(s, 0) for s in _SEVERITIES},
        }
        scope = str(context.get("scope") or SINGLE)
        subscriptions = []
        for entry in context.get("subscriptions") or []:
            entry = dict(entry)
            if entry.get("status") == "scanned":
                counted = by_subscription.get(str(entry["subscriptionId"]), Counter())
                entry["findings"] = sum(counted.values())
                entry["findingsBySeverity"] = {s: counted[s] for s in _SEVERITIES if counted[s]}
            subscriptions.append(entry)
        scanned = [s["subscriptionId"] for s in subscriptions if s.get("status") == "scanned"]
        unreadable = {
            s["subscriptionId"]: s.get("reason")
            for s in subscriptions
            if s.get("status") == "unreadable"
        }
        scope_results: dict[str, Any] = {"scope": scope}
        if scope == SINGLE:
            scope_results["subscriptionId"] = context.get("subscriptionId", target.target_id)
        else:
            scope_results.update(
                subscriptionIds=scanned,
                subscriptionsScanned=len(scanned),
                subscriptionsUnreadable=unreadable,
                tenantFindings=tenant_findings,
            )
            if context.get("managementGroupId"):
                scope_results["managementGroupId"] = context["managementGroupId"]
        return Summary(
            results={
                **scope_results,
                "collectedAt": context.get("collectedAt"),
                "rules": len(results),
                "rulesFailed": failed_rules,
                "rulesWithErrors": errors,
                "findings": findings,
                "findingsBySeverity": {s: by_severity[s] for s in _SEVERITIES if by_severity[s]},
                "findingsByFamily": dict(sorted(by_family.items())),
                "findingsBySubscription": {
                    s: sum(by_subscription.get(s, Counter()).values()) for s in scanned
                },
                "subscriptions": subscriptions,
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


def _per_subscription(errors: dict[str, str]) -> str:
    """One line for a rule's errors in several subscriptions (the first few, then a count)."""
    shown = [f"{s}: {e}" for s, e in list(errors.items())[:3]]
    more = len(errors) - len(shown)
    text = f"in {len(errors)} subscription(s): " + "; ".join(shown)
    return (text + (f"; and {more} more" if more else ""))[:2000]
