"""Collect the inventory sections a scan's rules need, once, with bounded concurrency, for
one subscription or several (a list, or a management group's subscriptions).

Each subscription is read first alone (its provider registrations): one the identity cannot
read (403, 404) is set aside with the reason when the scan covers several, and fails the scan
when it covers one. Resource Graph queries then run once over every readable subscription (rows
name their subscription, which is how they are shared out), per-resource and other ARM reads
run per subscription, and Microsoft Graph (the tenant's identities) once for the tenant.

ARM and Resource Graph reads run on a small thread pool (each paged query reads its pages in
order); Microsoft Graph and per-resource ARM reads run on event loops with at most
`concurrency` requests in flight. A section that cannot be collected for lack of permission or
licence is recorded as unavailable (in the subscription it concerns); any other failure fails
the collection (and so the scan) with its message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from scanner.engine import ScanError
from scanner.subscription import inventory as inv
from scanner.subscription.collect.arm import ArmCollector, RequestCounter, locations_of
from scanner.subscription.collect.children import child_read, read_children_by_subscription
from scanner.subscription.collect.errors import SectionUnavailableError, ServiceFailureError
from scanner.subscription.config import ScanConfig

log = logging.getLogger(__name__)

# Sections Resource Graph answers for every subscription at once (shared out by each row's
# subscription), and ARM reads made once per subscription.
GRAPH_QUERY_SECTIONS: dict[str, str] = {
    inv.WEB_CONFIGS: "web_configs",
    inv.DEFENDER_PLANS: "defender_plans",
    inv.CUSTOM_ROLES: "custom_roles",
    inv.LOCATIONS: "locations",
}
PER_SUBSCRIPTION_SECTIONS: dict[str, str] = {
    inv.ACTIVITY_LOG_DIAGNOSTICS: "activity_log_diagnostics",
}
ARM_SECTIONS: dict[str, str] = {**GRAPH_QUERY_SECTIONS, **PER_SUBSCRIPTION_SECTIONS}
GRAPH_SECTIONS: dict[str, str] = {
    inv.USERS: "users",
    inv.REGISTRATION_DETAILS: "registration_details",
    inv.DIRECTORY_ROLES: "directory_roles",
    inv.ROLE_ASSIGNMENTS: "role_assignments",
    inv.SECURITY_DEFAULTS: "security_defaults",
    inv.CONDITIONAL_ACCESS: "conditional_access",
    inv.NAMED_LOCATIONS: "named_locations",
    inv.AUTHORIZATION_POLICY: "authorization_policy",
}
# What ARM answers for a subscription the identity cannot read (no role on it, or not in
# this tenant): with several subscriptions, that one is set aside and the others scanned.
UNREADABLE_STATUSES = frozenset({401, 403, 404})


@dataclass
class Collected:
    """One subscription's sections and its tenant's (the flat view of a scan of one)."""

    sections: dict[str, Any] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)


@dataclass
class CollectedScope:
    """Several subscriptions' sections, each subscription's apart, and the tenant's once.

    `subscriptions` are the readable ones, in the order given; `unreadable` says why each
    other one could not be read."""

    subscriptions: list[str] = field(default_factory=list)
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    unavailable: dict[str, dict[str, str]] = field(default_factory=dict)
    tenant: dict[str, Any] = field(default_factory=dict)
    tenant_unavailable: dict[str, str] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)


def collectable(section: str) -> bool:
    return (
        section.startswith(inv.RESOURCE_PREFIX)
        or child_read(section) is not None
        or section in ARM_SECTIONS
        or section in GRAPH_SECTIONS
        or section == inv.PROVIDERS
    )


async def _graph_sections(
    config: ScanConfig, credential: Any, counter: RequestCounter, wanted: list[str]
) -> dict[str, Any]:
    from scanner.subscription.collect.graph import GraphCollector

    graph = GraphCollector(config, credential, counter)
    try:

        async def one(section: str) -> Any:
            try:
                return await getattr(graph, GRAPH_SECTIONS[section])()
            except SectionUnavailableError as exc:
                return exc

        results = await asyncio.gather(*(one(s) for s in wanted))
        return dict(zip(wanted, results, strict=True))
    finally:
        await graph.close()


def subscription_of(row: dict[str, Any]) -> str:
    """The subscription a Resource Graph row belongs to: its subscriptionId column, else the
    one its id names; "" when neither says (e.g. a role defined on a management group)."""
    named = str(row.get("subscriptionId") or "").lower()
    if named:
        return named
    parts = str(row.get("id", "")).split("/")
    if len(parts) > 2 and parts[1].lower() == "subscriptions":
        return parts[2].lower()
    return ""


def share_out(
    rows: Iterable[dict[str, Any]], subscriptions: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Rows by subscription. A row that names none of them concerns them all (one scanned
    subscription takes every row, as the query named only it)."""
    out: dict[str, list[dict[str, Any]]] = {s: [] for s in subscriptions}
    for row in rows:
        owner = subscription_of(row) if len(subscriptions) > 1 else subscriptions[0]
        if owner in out:
            out[owner].append(row)
        else:
            for listed in out.values():
                listed.append(row)
    return out


def _probe(
    arm: ArmCollector, subscriptions: Sequence[str], tolerate: bool, concurrency: int
) -> tuple[dict[str, Any], dict[str, str]]:
    """Each subscription's provider registrations (readable ones), and why the others
    could not be read."""

    def one(subscription: str) -> tuple[str, Any]:
        try:
            return subscription, arm.providers(subscription)
        except ServiceFailureError as exc:
            if tolerate and exc.status in UNREADABLE_STATUSES:
                return subscription, exc
            raise

    with ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="probe") as pool:
        answers = list(pool.map(one, subscriptions))
    readable = {s: v for s, v in answers if not isinstance(v, ServiceFailureError)}
    unreadable = {s: str(v) for s, v in answers if isinstance(v, ServiceFailureError)}
    return readable, unreadable


def collect_subscriptions(
    config: ScanConfig,
    credential: Any,
    subscriptions: Sequence[str],
    sections: set[str],
    progress: Callable[[str], None] | None = None,
) -> CollectedScope:
    """Collect `sections` of each subscription (and their tenant's identities, once).

    With more than one subscription, one that cannot be read is recorded in `unreadable`
    and the others are collected; when none can be read the collection fails."""
    if not subscriptions:
        raise ScanError("no subscription to scan")
    counter = RequestCounter()
    out = CollectedScope()
    probe = ArmCollector(config, credential, subscriptions, counter)
    try:
        # First: proves each subscription exists and the identity can read it.
        providers, out.unreadable = _probe(
            probe, subscriptions, len(subscriptions) > 1, config.concurrency
        )
    finally:
        probe.close()
        out.requests = dict(counter.counts)
    readable = [s for s in subscriptions if s in providers]
    if not readable:
        reasons = "; ".join(f"{s}: {r}" for s, r in out.unreadable.items())
        raise ScanError(f"none of the {len(subscriptions)} subscriptions could be read: {reasons}")
    for subscription, reason in out.unreadable.items():
        log.warning("subscription=%s: set aside, it cannot be read: %s", subscription, reason)
    out.subscriptions = readable
    out.sections = {s: {inv.PROVIDERS: providers[s]} for s in readable}
    out.unavailable = {s: {} for s in readable}
    arm = ArmCollector(config, credential, readable, counter)
    try:
        types = sorted(
            s.removeprefix(inv.RESOURCE_PREFIX)
            for s in sections
            if s.startswith(inv.RESOURCE_PREFIX)
        )
        children = {s: read for s in sections if (read := child_read(s)) is not None}
        # Parents come from the same Resource Graph query (one more type, no more pages
        # than its rows need); they are kept as sections only when a rule asked for them.
        parent_types = {r.parent_type for r in children.values()} - {inv.SUBSCRIPTION}
        queried = sorted(set(types) | parent_types)
        query_wanted = sorted(s for s in sections if s in GRAPH_QUERY_SECTIONS)
        arm_wanted = sorted(s for s in sections if s in PER_SUBSCRIPTION_SECTIONS)
        graph_wanted = sorted(s for s in sections if s in GRAPH_SECTIONS)

        def resources() -> list[tuple[str, str, Any]]:
            grouped = arm.resources_by_type(queried)
            shared = {t: share_out(grouped[t], readable) for t in grouped}
            found = [(s, inv.resources(t), shared[t][s]) for t in types for s in readable]
            parents = {
                s: {
                    t: [str(r.get("id", "")) for r in shared[t][s] if r.get("id")]
                    for t in parent_types
                }
                for s in readable
            }
            by_subscription = read_children_by_subscription(
                config, credential, counter, children, parents
            )
            found += [(s, n, v) for s, values in by_subscription.items() for n, v in values.items()]
            return found

        def query_section(section: str) -> list[tuple[str, str, Any]]:
            rows = getattr(arm, GRAPH_QUERY_SECTIONS[section])()
            shared = share_out(rows, readable)
            if section == inv.LOCATIONS:
                return [(s, section, locations_of(shared[s])) for s in readable]
            return [(s, section, shared[s]) for s in readable]

        def arm_section(section: str, subscription: str) -> list[tuple[str, str, Any]]:
            method = getattr(arm, PER_SUBSCRIPTION_SECTIONS[section])
            try:
                return [(subscription, section, method(subscription))]
            except SectionUnavailableError as exc:
                return [(subscription, section, exc)]

        def graph() -> list[tuple[str, str, Any]]:
            found = asyncio.run(_graph_sections(config, credential, counter, graph_wanted))
            return [("", n, v) for n, v in found.items()]

        jobs: list[Callable[[], list[tuple[str, str, Any]]]] = []
        if queried or children:
            jobs.append(resources)
        jobs += [partial(query_section, s) for s in query_wanted]
        jobs += [partial(arm_section, s, sub) for s in arm_wanted for sub in readable]
        if graph_wanted:
            jobs.insert(0, graph)  # the longest chain of pages: start it first
        if progress:
            several = f" in {len(readable)} subscription(s)" if len(subscriptions) > 1 else ""
            progress(
                f"{len(types)} resource type(s), {len(children)} per-resource ARM read(s), "
                f"{len(query_wanted) + len(arm_wanted)} ARM{several} "
                f"and {len(graph_wanted)} Graph section(s)"
            )
        with ThreadPoolExecutor(max(1, config.concurrency), thread_name_prefix="collect") as pool:
            futures: list[Future[list[tuple[str, str, Any]]]] = [pool.submit(j) for j in jobs]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for future in done:
                error = future.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    raise error
            for future in futures:
                for subscription, section, value in future.result():
                    if subscription:
                        target, missing = out.sections[subscription], out.unavailable[subscription]
                    else:
                        target, missing = out.tenant, out.tenant_unavailable
                    if isinstance(value, SectionUnavailableError):
                        missing[section] = value.reason
                    else:
                        target[section] = value
    finally:
        arm.close()
        out.requests = dict(counter.counts)
    return out


def collect(
    config: ScanConfig,
    credential: Any,
    subscription_id: str,
    sections: set[str],
    progress: Callable[[str], None] | None = None,
) -> Collected:
    """Collect `sections` of one subscription (and its tenant's identities)."""
    scope = collect_subscriptions(config, credential, [subscription_id], sections, progress)
    return Collected(
        sections={**scope.sections[subscription_id], **scope.tenant},
        unavailable={**scope.unavailable[subscription_id], **scope.tenant_unavailable},
        requests=scope.requests,
    )


def management_group_subscriptions(
    config: ScanConfig, credential: Any, group_id: str
) -> tuple[list[dict[str, str]], dict[str, int]]:
    """The subscriptions under a management group (`[{"subscriptionId", "displayName"}]`),
    and the requests it took."""
    counter = RequestCounter()
    arm = ArmCollector(config, credential, [], counter)
    try:
        return arm.management_group_subscriptions(group_id), dict(counter.counts)
    finally:
        arm.close()
