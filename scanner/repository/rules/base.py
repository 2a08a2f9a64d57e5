"""What a rule is, what it finds, and how a rule's evaluating function is registered."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from scanner.engine import Severity
from scanner.repository.graph import TraceGraph
from scanner.repository.model import Artifact


@dataclass(frozen=True)
class Rule:
    id: str
    family: str
    title: str
    severity: Severity
    rationale: str
    remediation: str
    frameworks: dict[str, list[str]]
    check: dict[str, Any] | None = None

    @property
    def references(self) -> list[str]:
        return [
            f"{name} {clause}" for name, clauses in self.frameworks.items() for clause in clauses
        ]


@dataclass(slots=True)
class Hit:
    """One violation: the artifact (or a bare file location) and what is wrong."""

    message: str
    artifact: Artifact | None = None
    field: str | None = None
    path: str | None = None
    line: int | None = None
    related: list[str] = dataclasses.field(default_factory=list)

    def location(self) -> tuple[str, int]:
        if self.artifact is not None:
            return self.artifact.path, self.line or self.artifact.line_of(self.field)
        return self.path or "", self.line or 1


Evaluator = Callable[[TraceGraph, Rule], Iterable[Hit]]
IMPLEMENTATIONS: dict[str, Evaluator] = {}


def implements(rule_id: str) -> Callable[[Evaluator], Evaluator]:
    """Register the function that evaluates `rule_id` (its metadata is in the catalogue)."""

    def register(function: Evaluator) -> Evaluator:
        if rule_id in IMPLEMENTATIONS:
            raise ValueError(f"rule {rule_id} is implemented twice")
        IMPLEMENTATIONS[rule_id] = function
        return function

    return register
