"""Links family: parent links point at existing documents of the right type, without cycles,
and every specification or test traces up to a requirement."""

from __future__ import annotations

from collections.abc import Iterator

from scanner.repository.graph import TraceGraph
from scanner.repository.model import schema
from scanner.repository.rules.base import Hit, Rule, implements


@implements("GXP-LINK-UNKNOWN-PARENT")
def unknown_parent(graph: TraceGraph, rule: Rule) -> Iterator[Hit]:
    for artifact in graph.artifacts:
        for parent in artifact.parents:
            if parent not in graph.by_id:
                yield Hit(
                    message=f"{artifact.gxp_id}: parent {parent} does not exist",
                    artifact=artifact,
                    field="parent_id",
                )


@implements("GXP-LINK-PARENT-TYPE")
def parent_type(graph: TraceGraph, rule: Rule) -> Iterator[Hit]:
    types = schema().types
    for artifact in graph.artifacts:
        if artifact.type is None:
            continue
        allowed = types[artifact.type].parents
        for parent_id in artifact.parents:
            parent = graph.get(parent_id)
            if parent is None or parent.type is None or parent.type in allowed:
                continue
            wanted = " or ".join(types[t].name for t in allowed) or "no parent"
            yield Hit(
                message=f"{artifact.gxp_id} ({types[artifact.type].name}) has parent "
                f"{parent_id} ({types[parent.type].name}); expected {wanted}",
                artifact=artifact,
                field="parent_id",
            )


@implements("GXP-LINK-CYCLE")
def cycles(graph: TraceGraph, rule: Rule) -> Iterator[Hit]:
    """Each cycle of parent links once, reported on its smallest id (iterative DFS)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    reported: set[frozenset[str]] = set()
    by_id = graph.by_id

    def parents_of(node: str) -> list[str]:
        artifact = graph.get(node)
        return [p for p in artifact.parents if p in by_id] if artifact is not None else []

    for start in by_id:
        if state.get(start):
            continue
        path: list[str] = []
        stack: list[tuple[str, list[str], int]] = [(start, parents_of(start), 0)]
        while stack:
            node, parents, next_parent = stack.pop()
            if next_parent == 0:
                state[node] = 1
                path.append(node)
            if next_parent < len(parents):
                stack.append((node, parents, next_parent + 1))
                parent = parents[next_parent]
                if state.get(parent) == 1:
                    loop = path[path.index(parent) :]
                    key = frozenset(loop)
                    if key not in reported:
                        reported.add(key)
                        first = min(loop)
                        turn = loop.index(first)
                        ordered = loop[turn:] + loop[:turn]
                        document = graph.get(first)
                        yield Hit(
                            message="parent links form a cycle: " + " -> ".join([*ordered, first]),
                            artifact=document,
                            field="parent_id",
                            related=ordered,
                        )
                elif not state.get(parent):
                    stack.append((parent, parents_of(parent), 0))
            else:
                state[node] = 2
                path.pop()


@implements("GXP-LINK-SPEC-MISSING")
def specification_missing(graph: TraceGraph, rule: Rule) -> Iterator[Hit]:
    for artifact in graph.artifacts:
        for spec_id in artifact.spec_refs:
            if spec_id not in graph.by_id:
                yield Hit(
                    message=f"{artifact.gxp_id} names implementing specification {spec_id}, "
                    "which does not exist",
                    artifact=artifact,
                    field="gxp_id",
                )


@implements("GXP-LINK-ORPHAN")
def orphans(graph: TraceGraph, rule: Rule) -> Iterator[Hit]:
    traced = graph.traced_to_requirement
    for artifact in graph.artifacts:
        if artifact.type in ("SPEC", "TC") and artifact.gxp_id not in traced:
            why = (
                "its parent links do not lead to one"
                if artifact.parents
                else "it has no parent and no story names it"
            )
            yield Hit(
                message=f"{schema().types[artifact.type].name} {artifact.gxp_id} does not trace "
                f"up to a requirement ({why})",
                artifact=artifact,
                field="parent_id",
            )


@implements("GXP-LINK-RETIRED-PARENT")
def retired_parent(graph: TraceGraph, rule: Rule) -> Iterator[Hit]:
    retired = set(schema().vocabularies.get("retired_status_values", ()))
    for artifact in graph.artifacts:
        if artifact.value("status") in retired:
            continue
        for parent_id in artifact.parents:
            parent = graph.get(parent_id)
            if parent is not None and parent.value("status") in retired:
                yield Hit(
                    message=f"{artifact.gxp_id} is {artifact.value('status') or 'active'} but its "
                    f"parent {parent_id} is {parent.value('status')}",
                    artifact=artifact,
                    field="parent_id",
                )
