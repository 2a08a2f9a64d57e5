"""Rules declared as data: the `check` of a catalogue entry, evaluated per artifact.

A check has `applies_to` (artifact types; default all), an optional `when` condition, a
`require` condition and `locate` (the field whose line a finding points at). The condition
language is described at the top of catalogue.yaml. `evaluate_condition` returns the reasons a
condition fails (empty when it holds), so findings say exactly what is missing or wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from scanner.repository.graph import TraceGraph
from scanner.repository.model import Artifact, FieldTable, schema
from scanner.repository.rules.base import Hit, Rule

_OPERATORS = ("present", "present_by_type", "in", "matches", "min", "all", "any", "not")
# Fields every index records, whatever the rules say.
CORE_KEYS = (
    "gxp_id",
    "title",
    "parent_id",
    "status",
    "validation_status",
    "acceptance_criteria",
    "test_scenarios",
)
CORE_VALUES = ("status", "validation_status")
DERIVED_COUNTS = (
    "acceptance_criteria",
    "test_scenarios",
    "implementing_specifications",
    "stories",
    "tests",
)


def _values(raw: Any) -> tuple[str, ...]:
    """A value list, or `$name`: the vocabulary of that name in artifact_schema.yaml."""
    if isinstance(raw, str) and raw.startswith("$"):
        vocabularies = schema().vocabularies
        if raw[1:] not in vocabularies:
            raise ValueError(f"unknown vocabulary {raw}")
        return vocabularies[raw[1:]]
    if not isinstance(raw, list):
        raise ValueError(f"expected a list of values, got {raw!r}")
    return tuple(str(v) for v in raw)


def _fields(condition: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(keys, values) a condition reads: presence/line of keys, text of values."""
    keys: set[str] = set()
    values: set[str] = set()
    if len(condition) != 1:
        raise ValueError(f"a condition has exactly one operator: {condition!r}")
    op, arg = next(iter(condition.items()))
    if op not in _OPERATORS:
        raise ValueError(f"unknown operator {op!r}")
    if op == "present":
        keys.update(arg)
    elif op == "present_by_type":
        for type_code, names in arg.items():
            if type_code not in schema().types:
                raise ValueError(f"unknown artifact type {type_code!r}")
            keys.update(names)
    elif op in ("in", "matches"):
        for name, expected in arg.items():
            keys.add(name)
            values.add(name)
            if op == "in":
                _values(expected)
            else:
                re.compile(expected)
    elif op == "min":
        for name, minimum in arg.items():
            if not isinstance(minimum, int):
                raise ValueError(f"min of {name} must be an integer")
            if name not in DERIVED_COUNTS:
                keys.add(name)
    elif op in ("all", "any"):
        for part in arg:
            k, v = _fields(part)
            keys |= k
            values |= v
    else:  # not
        k, v = _fields(arg)
        keys |= k
        values |= v
    return keys, values


def validate(rule: Rule) -> None:
    """Raise ValueError when the rule's check is not well formed."""
    check = rule.check or {}
    unknown = set(check) - {"applies_to", "when", "require", "locate"}
    if unknown or "require" not in check:
        raise ValueError(f"rule {rule.id}: a check has require (and applies_to, when, locate)")
    for type_code in check.get("applies_to") or ():
        if type_code not in schema().types:
            raise ValueError(f"rule {rule.id}: unknown artifact type {type_code!r}")
    _fields(check["require"])
    if "when" in check:
        _fields(check["when"])


def fields_for(rules: Iterable[Rule]) -> FieldTable:
    """The fields the index must record for the checks of `rules`."""
    keys: set[str] = set(CORE_KEYS)
    values: set[str] = set(CORE_VALUES)
    for rule in rules:
        if rule.check is None:
            continue
        for part in ("require", "when"):
            if part in rule.check:
                k, v = _fields(rule.check[part])
                keys |= k
                values |= v
        if rule.check.get("locate"):
            keys.add(rule.check["locate"])
    return FieldTable(keys=tuple(sorted(keys)), values=tuple(sorted(values)))


def _count(artifact: Artifact, name: str, graph: TraceGraph) -> int:
    derived = graph.count(artifact, name)
    if derived is not None:
        return derived
    return 1 if name in artifact.present else 0


def evaluate_condition(
    condition: dict[str, Any], artifact: Artifact, graph: TraceGraph
) -> list[str]:
    """Why `condition` does not hold for `artifact` (empty list: it holds)."""
    op, arg = next(iter(condition.items()))
    if op == "present":
        missing = [name for name in arg if name not in artifact.present]
        return [f"missing {', '.join(missing)}"] if missing else []
    if op == "present_by_type":
        names = arg.get(artifact.type or "", ())
        missing = [name for name in names if name not in artifact.present]
        return [f"missing {', '.join(missing)}"] if missing else []
    if op == "in":
        reasons = []
        for name, expected in arg.items():
            allowed = _values(expected)
            value = artifact.value(name)
            if value not in allowed:
                shown = repr(value) if value is not None else "not set"
                reasons.append(f"{name} is {shown}, expected one of {', '.join(allowed)}")
        return reasons
    if op == "matches":
        reasons = []
        for name, pattern in arg.items():
            value = artifact.value(name)
            if value is None or not re.search(pattern, value):
                shown = repr(value) if value is not None else "not set"
                reasons.append(f"{name} is {shown}, does not match {pattern}")
        return reasons
    if op == "min":
        reasons = []
        for name, minimum in arg.items():
            found = _count(artifact, name, graph)
            if found < minimum:
                reasons.append(f"{name}: {found} found, at least {minimum} required")
        return reasons
    if op == "all":
        return [reason for part in arg for reason in evaluate_condition(part, artifact, graph)]
    if op == "any":
        reasons = []
        for part in arg:
            failed = evaluate_condition(part, artifact, graph)
            if not failed:
                return []
            reasons += failed
        return [" or ".join(reasons)] if reasons else []
    # not
    return ["condition holds"] if not evaluate_condition(arg, artifact, graph) else []


def evaluate(rule: Rule, graph: TraceGraph) -> Iterator[Hit]:
    check = rule.check or {}
    applies_to = set(check.get("applies_to") or schema().types)
    when = check.get("when")
    require = check["require"]
    locate = check.get("locate")
    for artifact in graph.artifacts:
        if artifact.type not in applies_to:
            continue
        if when is not None and evaluate_condition(when, artifact, graph):
            continue
        reasons = evaluate_condition(require, artifact, graph)
        if reasons:
            name = schema().types[artifact.type].name if artifact.type else "document"
            label = artifact.gxp_id or artifact.path
            yield Hit(
                message=f"{rule.title}: {name} {label}: {'; '.join(reasons)}",
                artifact=artifact,
                field=locate,
            )
