"""Identity family: every document has one id, unique and in the scheme of its type."""

from __future__ import annotations

from collections.abc import Iterator

from scanner.repository.graph import TraceGraph
from scanner.repository.model import schema
from scanner.repository.rules.base import Hit, Rule, implements


@implements("GXP-ID-DUPLICATE")
def duplicate_ids(graph: TraceGraph, rule: Rule) -> Iterator[Hit]:
    for gxp_id, positions in graph.by_id.items():
        if len(positions) < 2:
            continue
        documents = [graph.artifacts[i] for i in positions]
        paths = sorted(d.path for d in documents)
        for document in documents:
            others = [p for p in paths if p != document.path]
            yield Hit(
                message=f"id {gxp_id} is used by {len(documents)} documents; also in "
                + ", ".join(others[:5])
                + (" ..." if len(others) > 5 else ""),
                artifact=document,
                field="gxp_id",
                related=others,
            )


@implements("GXP-ID-FORMAT")
def id_format(graph: TraceGraph, rule: Rule) -> Iterator[Hit]:
    types = schema().types
    prefixes = ", ".join(f"{code}-" for code in types)
    for artifact in graph.artifacts:
        if not artifact.gxp_id:
            yield Hit(message="gxp_id is empty", artifact=artifact, field="gxp_id")
        elif artifact.type is None:
            yield Hit(
                message=f"id {artifact.gxp_id!r} has no known type prefix ({prefixes})",
                artifact=artifact,
                field="gxp_id",
            )
        elif not types[artifact.type].id_pattern.match(artifact.gxp_id):
            pattern = types[artifact.type].id_pattern.pattern
            yield Hit(
                message=f"id {artifact.gxp_id!r} does not follow the {types[artifact.type].name} "
                f"scheme {pattern}",
                artifact=artifact,
                field="gxp_id",
            )
