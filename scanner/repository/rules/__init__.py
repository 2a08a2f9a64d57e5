"""The rules of repository scans: the catalogue (catalogue.yaml) and their implementations.

Every rule's metadata lives in catalogue.yaml. A rule with a `check` there is evaluated by
`declarative.py`; the others by a function registered with `@implements(rule_id)` in the module
of their family (identity.py, links.py, history.py, parsing.py), discovered by walking this
package: no hand-written list. `catalogue()` fails loudly when a rule has no implementation or an
implementation has no catalogue entry.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, get_args

import yaml

from scanner.engine import Severity
from scanner.repository.graph import TraceGraph
from scanner.repository.model import Artifact

CATALOGUE_PATH = Path(__file__).with_name("catalogue.yaml")
SEVERITIES: tuple[str, ...] = get_args(Severity)


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
_IMPLEMENTATIONS: dict[str, Evaluator] = {}


def implements(rule_id: str) -> Callable[[Evaluator], Evaluator]:
    """Register the function that evaluates `rule_id` (its metadata is in the catalogue)."""

    def register(function: Evaluator) -> Evaluator:
        if rule_id in _IMPLEMENTATIONS:
            raise ValueError(f"rule {rule_id} is implemented twice")
        _IMPLEMENTATIONS[rule_id] = function
        return function

    return register


def _load_family_modules() -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def _rule(entry: dict[str, Any]) -> Rule:
    missing = [
        k
        for k in ("id", "family", "title", "severity", "rationale", "remediation")
        if k not in entry
    ]
    if missing:
        raise ValueError(f"catalogue entry {entry.get('id', '?')}: missing {', '.join(missing)}")
    if entry["severity"] not in SEVERITIES:
        raise ValueError(f"rule {entry['id']}: severity {entry['severity']!r} is not valid")
    return Rule(
        id=str(entry["id"]),
        family=str(entry["family"]),
        title=str(entry["title"]),
        severity=entry["severity"],
        rationale=" ".join(str(entry["rationale"]).split()),
        remediation=" ".join(str(entry["remediation"]).split()),
        frameworks={
            str(k): [str(c) for c in v] for k, v in (entry.get("frameworks") or {}).items()
        },
        check=entry.get("check"),
    )


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Rule]:
    """Every rule, in catalogue order; checked against the implementations."""
    _load_family_modules()
    from scanner.repository.rules import declarative

    raw = yaml.safe_load(CATALOGUE_PATH.read_text(encoding="utf-8"))
    rules: dict[str, Rule] = {}
    for entry in raw["rules"]:
        rule = _rule(entry)
        if rule.id in rules:
            raise ValueError(f"rule {rule.id} is in the catalogue twice")
        if rule.check is not None:
            declarative.validate(rule)
            if rule.id in _IMPLEMENTATIONS:
                raise ValueError(f"rule {rule.id} has both a check and an implementation")
        elif rule.id not in _IMPLEMENTATIONS:
            raise ValueError(f"rule {rule.id} has neither a check nor an implementation")
        rules[rule.id] = rule
    unknown = sorted(set(_IMPLEMENTATIONS) - set(rules))
    if unknown:
        raise ValueError(f"implemented rules missing from the catalogue: {', '.join(unknown)}")
    return rules


def evaluate(rule: Rule, graph: TraceGraph) -> list[Hit]:
    """The rule's violations in `graph`, in a stable order."""
    from scanner.repository.rules import declarative

    if rule.check is not None:
        hits = list(declarative.evaluate(rule, graph))
    else:
        hits = list(_IMPLEMENTATIONS[rule.id](graph, rule))
    hits.sort(key=lambda h: (*h.location(), h.message))
    return hits
