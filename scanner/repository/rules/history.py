"""History family: links whose parent changed after the child (from the walk of the Git
history at Parse time: each document's last change, ranked by its position in the walk,
0 = newest)."""

from __future__ import annotations

from collections.abc import Iterator

from scanner.repository.graph import TraceGraph
from scanner.repository.model import Artifact
from scanner.repository.rules.base import Hit, Rule, implements


@implements("GXP-LINK-SUSPECT")
def suspect_links(graph: TraceGraph, rule: Rule) -> Iterator[Hit]:
    index = graph.index
    history = index.history
    unknown = len(history)  # beyond the walked history: older than every walked commit
    ranks = index.ranks()

    def rank(artifact: Artifact) -> int:
        value = index.rank_of(artifact, ranks)
        return unknown if value < 0 else value

    for artifact in graph.artifacts:
        for parent_id in artifact.parents:
            parent = graph.get(parent_id)
            if parent is None or parent.path == artifact.path:
                continue
            parent_rank, child_rank = rank(parent), rank(artifact)
            if parent_rank < child_rank:
                parent_commit = history[parent_rank]["sha"][:12] if parent_rank < unknown else "?"
                child_commit = (
                    history[child_rank]["sha"][:12] if child_rank < unknown else "an older commit"
                )
                yield Hit(
                    message=f"{artifact.gxp_id}: parent {parent_id} changed in commit "
                    f"{parent_commit}, after {artifact.gxp_id} last changed ({child_commit}); "
                    "review the link",
                    artifact=artifact,
                    field="parent_id",
                )
