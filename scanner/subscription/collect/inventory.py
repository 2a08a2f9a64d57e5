"""Collect the inventory sections a scan's rules need, once, with bounded concurrency.

ARM and Resource Graph reads run on a small thread pool (each paged query reads its pages in
order); Microsoft Graph reads run on one event loop with at most `concurrency` requests in
flight. A section that cannot be collected for lack of permission or licence is recorded as
unavailable; any other failure fails the collection (and so the scan) with its message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from scanner.subscription import inventory as inv
from scanner.subscription.collect.arm import ArmCollector, RequestCounter
from scanner.subscription.collect.children import child_read, read_children
from scanner.subscription.collect.errors import SectionUnavailableError
from scanner.subscription.config import ScanConfig

log = logging.getLogger(__name__)

ARM_SECTIONS: dict[str, str] = {
    inv.WEB_CONFIGS: "web_configs",
    inv.DEFENDER_PLANS: "defender_plans",
    inv.CUSTOM_ROLES: "custom_roles",
    inv.LOCATIONS: "locations",
    inv.ACTIVITY_LOG_DIAGNOSTICS: "activity_log_diagnostics",
}
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


@dataclass
class Collected:
    sections: dict[str, Any] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
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


def collect(
    config: ScanConfig,
    credential: Any,
    subscription_id: str,
    sections: set[str],
    progress: Callable[[str], None] | None = None,
) -> Collected:
    """Collect `sections` of one subscription (and its tenant's identities)."""
    counter = RequestCounter()
    out = Collected()
    arm = ArmCollector(config, credential, subscription_id, counter)
    try:
        # First and alone: proves the subscription exists and the identity can read it.
        out.sections[inv.PROVIDERS] = arm.providers()
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
        arm_wanted = sorted(s for s in sections if s in ARM_SECTIONS)
        graph_wanted = sorted(s for s in sections if s in GRAPH_SECTIONS)

        def resources() -> dict[str, Any]:
            grouped = arm.resources_by_type(queried)
            found: dict[str, Any] = {inv.resources(t): grouped[t] for t in types}
            parents = {
                t: [str(r.get("id", "")) for r in grouped[t] if r.get("id")] for t in parent_types
            }
            found.update(
                read_children(config, credential, subscription_id, counter, children, parents)
            )
            return found

        def arm_section(section: str) -> dict[str, Any]:
            try:
                return {section: getattr(arm, ARM_SECTIONS[section])()}
            except SectionUnavailableError as exc:
                return {section: exc}

        def graph() -> dict[str, Any]:
            return asyncio.run(_graph_sections(config, credential, counter, graph_wanted))

        jobs: list[Callable[[], dict[str, Any]]] = []
        if queried or children:
            jobs.append(resources)
        jobs += [partial(arm_section, s) for s in arm_wanted]
        if graph_wanted:
            jobs.insert(0, graph)  # the longest chain of pages: start it first
        if progress:
            progress(
                f"{len(types)} resource type(s), {len(children)} per-resource ARM read(s), "
                f"{len(arm_wanted)} ARM and {len(graph_wanted)} Graph section(s)"
            )
        with ThreadPoolExecutor(max(1, config.concurrency), thread_name_prefix="collect") as pool:
            futures: list[Future[dict[str, Any]]] = [pool.submit(job) for job in jobs]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for future in done:
                error = future.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    raise error
            for future in futures:
                for section, value in future.result().items():
                    if isinstance(value, SectionUnavailableError):
                        out.unavailable[section] = value.reason
                    else:
                        out.sections[section] = value
    finally:
        arm.close()
        out.requests = dict(counter.counts)
    return out
