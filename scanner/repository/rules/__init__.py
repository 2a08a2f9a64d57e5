"""The rules of repository scans: the catalogue (catalogue.yaml) and their implementations.

Every rule's metadata lives in catalogue.yaml. A rule with a `check` there is evaluated by
`declarative.py`; the others by a function registered with `@implements(rule_id)` in the module
of their family (identity.py, links.py, history.py, parsing.py), discovered by walking this
package: no hand-written list. `catalogue()` fails loudly when a rule has no implementation or an
implementation has no catalogue entry.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from pathlib import Path
from typing import Any, get_args

import yaml

from scanner.engine import Severity
from scanner.repository.graph import TraceGraph
from scanner.repository.model import FieldTable
from scanner.repository.rules.base import IMPLEMENTATIONS, Evaluator, Hit, Rule, implements

__all__ = [
    "CATALOGUE_PATH",
    "SEVERITIES",
    "Evaluator",
    "Hit",
    "Rule",
    "catalogue",
    "evaluate",
    "field_table",
    "implements",
]

CATALOGUE_PATH = Path(__file__).with_name("catalogue.yaml")
SEVERITIES: tuple[str, ...] = get_args(Severity)


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
            if rule.id in IMPLEMENTATIONS:
                raise ValueError(f"rule {rule.id} has both a check and an implementation")
        elif rule.id not in IMPLEMENTATIONS:
            raise ValueError(f"rule {rule.id} has neither a check nor an implementation")
        rules[rule.id] = rule
    unknown = sorted(set(IMPLEMENTATIONS) - set(rules))
    if unknown:
        raise ValueError(f"implemented rules missing from the catalogue: {', '.join(unknown)}")
    return rules


@lru_cache(maxsize=1)
def field_table() -> FieldTable:
    """The fields the index must record for the catalogue's checks (collected once)."""
    from scanner.repository.rules import declarative

    return declarative.fields_for(catalogue().values())


def evaluate(rule: Rule, graph: TraceGraph) -> list[Hit]:
    """The rule's violations in `graph`, in a stable order."""
    from scanner.repository.rules import declarative

    if rule.check is not None:
        hits = list(declarative.evaluate(rule, graph))
    else:
        hits = list(IMPLEMENTATIONS[rule.id](graph, rule))
    hits.sort(key=lambda h: (*h.location(), h.message))
    return hits
