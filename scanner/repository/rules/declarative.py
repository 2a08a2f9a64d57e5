"""Rules declared as data: the `check` of a catalogue entry, evaluated per artifact.

A check has `applies_to` (artifact types; default all), an optional `when` condition, a
`require` condition and `locate` (the field whose line a finding points at). The condition
language is described at the top of catalogue.yaml. `evaluate_condition` returns the reasons a
condition fails (empty when it holds), so findings say exactly what is missing or wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
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


# A compiled condition: why it does not hold for an artifact (empty list: it holds).
Condition = Callable[[Artifact, TraceGraph], list[str]]
_HOLDS: list[str] = []


def compile_condition(condition: dict[str, Any]) -> Condition:
    """The condition as a function, its operands resolved once (vocabularies, patterns), so
    evaluating it over 100,000 artifacts does no more than the check itself."""
    op, arg = next(iter(condition.items()))
    if op == "present":
        return _present(tuple(arg))
    if op == "present_by_type":
        by_type = {type_code: _present(tuple(names)) for type_code, names in arg.items()}
        return lambda artifact, graph: (
            by_type[artifact.type](artifact, graph) if artifact.type in by_type else _HOLDS
        )
    if op == "in":
        return _member_of({name: _values(expected) for name, expected in arg.items()})
    if op == "matches":
        return _matching({name: (pattern, re.compile(pattern)) for name, pattern in arg.items()})
    if op == "min":
        return _at_least(dict(arg))
    parts = [compile_condition(part) for part in (arg if op in ("all", "any") else [arg])]
    if op == "all":
        return _all_of(parts)
    if op == "any":
        return _any_of(parts)
    negated = parts[0]  # not
    return lambda artifact, graph: _HOLDS if negated(artifact, graph) else ["condition holds"]


def _present(names: tuple[str, ...]) -> Condition:
    if len(names) == 1:
        (name,) = names
        missing = [f"missing {name}"]
        return lambda artifact, graph: _HOLDS if name in artifact.present else list(missing)

    def check(artifact: Artifact, graph: TraceGraph) -> list[str]:
        if artifact.present.issuperset(names):
            return _HOLDS
        missing = [name for name in names if name not in artifact.present]
        return [f"missing {', '.join(missing)}"]

    return check


def _member_of(allowed: dict[str, tuple[str, ...]]) -> Condition:
    listed = {name: ", ".join(values) for name, values in allowed.items()}

    def check(artifact: Artifact, graph: TraceGraph) -> list[str]:
        reasons = _HOLDS
        for name, values in allowed.items():
            value = artifact.values.get(name)
            if value not in values:
                shown = repr(value) if value is not None else "not set"
                reasons = [*reasons, f"{name} is {shown}, expected one of {listed[name]}"]
        return reasons

    return check


def _matching(patterns: dict[str, tuple[str, re.Pattern[str]]]) -> Condition:
    def check(artifact: Artifact, graph: TraceGraph) -> list[str]:
        reasons = _HOLDS
        for name, (text, pattern) in patterns.items():
            value = artifact.values.get(name)
            if value is None or not pattern.search(value):
                shown = repr(value) if value is not None else "not set"
                reasons = [*reasons, f"{name} is {shown}, does not match {text}"]
        return reasons

    return check


def _at_least(minimums: dict[str, int]) -> Condition:
    def check(artifact: Artifact, graph: TraceGraph) -> list[str]:
        reasons = _HOLDS
        for name, minimum in minimums.items():
            found = _count(artifact, name, graph)
            if found < minimum:
                reasons = [*reasons, f"{name}: {found} found, at least {minimum} required"]
        return reasons

    return check


def _all_of(parts: list[Condition]) -> Condition:
    def check(artifact: Artifact, graph: TraceGraph) -> list[str]:
        reasons = _HOLDS
        for part in parts:
            failed = part(artifact, graph)
            if failed:
                reasons = [*reasons, *failed]
        return reasons

    return check


def _any_of(parts: list[Condition]) -> Condition:
    def check(artifact: Artifact, graph: TraceGraph) -> list[str]:
        reasons: list[str] = []
        for part in parts:
            failed = part(artifact, graph)
            if not failed:
                return _HOLDS
            reasons += failed
        return [" or ".join(reasons)] if reasons else _HOLDS

    return check


def evaluate_condition(
    condition: dict[str, Any], artifact: Artifact, graph: TraceGraph
) -> list[str]:
    """Why `condition` does not hold for `artifact` (empty list: it holds)."""
    return compile_condition(condition)(artifact, graph)


def _reads_the_graph(condition: dict[str, Any]) -> bool:
    """Whether the condition counts links (derived counts); else it reads only the artifact's
    type, field set and field values."""
    op, arg = next(iter(condition.items()))
    if op == "min":
        return any(name in DERIVED_COUNTS for name in arg)
    if op in ("all", "any"):
        return any(_reads_the_graph(part) for part in arg)
    if op == "not":
        return _reads_the_graph(arg)
    return False


def _per_shape(condition: Condition) -> Condition:
    """A condition that reads only type, field set and values, evaluated once per distinct
    combination: artifacts made from one template share those objects (model.Interner)."""
    seen: dict[tuple[str | None, int, int], list[str]] = {}

    def check(artifact: Artifact, graph: TraceGraph) -> list[str]:
        key = (artifact.type, id(artifact.present), id(artifact.values))
        reasons = seen.get(key)
        if reasons is None:
            reasons = seen[key] = condition(artifact, graph)
        return reasons

    return check


def _compiled(condition: dict[str, Any]) -> Condition:
    compiled = compile_condition(condition)
    return compiled if _reads_the_graph(condition) else _per_shape(compiled)


def evaluate(rule: Rule, graph: TraceGraph) -> Iterator[Hit]:
    check = rule.check or {}
    applies_to = set(check.get("applies_to") or schema().types)
    # compiled per evaluation: the per-shape memory lives as long as the graph's artifacts
    when = _compiled(check["when"]) if "when" in check else None
    require = _compiled(check["require"])
    locate = check.get("locate")
    types = schema().types
    for artifact in graph.artifacts:
        if artifact.type not in applies_to:
            continue
        if when is not None and when(artifact, graph):
            continue
        reasons = require(artifact, graph)
        if reasons:
            name = types[artifact.type].name if artifact.type else "document"
            label = artifact.gxp_id or artifact.path
            yield Hit(
                message=f"{rule.title}: {name} {label}: {'; '.join(reasons)}",
                artifact=artifact,
                field=locate,
            )
