"""Parsing family: problems met while reading the tree at the commit (recorded at Parse time in
the index, reported here so they appear under their rule like every other finding)."""

from __future__ import annotations

from collections.abc import Iterator

from scanner.repository.graph import TraceGraph
from scanner.repository.rules.base import Hit, Rule, implements


def _problems(graph: TraceGraph, rule: Rule) -> Iterator[Hit]:
    for problem in graph.index.problems:
        if problem.rule_id == rule.id:
            yield Hit(message=problem.message, path=problem.path, line=problem.line)


implements("GXP-PARSE-FRONT-MATTER")(_problems)
implements("GXP-PARSE-FILE-SIZE")(_problems)
implements("GXP-PARSE-SYMLINK")(_problems)
