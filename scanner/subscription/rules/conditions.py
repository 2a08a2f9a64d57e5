"""The condition language of the subscription rule catalogue (see catalogue.yaml's header).

A condition is evaluated over one resource's JSON (an ARM GET body, a Resource Graph row, a
Graph object): a leaf names a dotted `path` (keys matched case-insensitively) and one operator;
`all`, `any` and `not` combine conditions. `validate` checks a condition's shape when the
catalogue is loaded, so a typo fails at import rather than silently passing every resource.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from scanner.subscription.inventory import dig

OPERATORS = ("equals", "in", "not_in", "present", "nonempty", "contains", "at_least", "min", "max")
COMBINATORS = ("all", "any", "not")
_MISSING = ("pass", "fail")


def validate(condition: Any, where: str) -> None:
    """Raise ValueError unless `condition` is well formed."""
    if not isinstance(condition, Mapping) or not condition:
        raise ValueError(f"{where}: a condition is a mapping, got {condition!r}")
    combinators = [k for k in COMBINATORS if k in condition]
    if combinators:
        if len(condition) != 1:
            raise ValueError(f"{where}: {combinators[0]} stands alone, got {sorted(condition)}")
        key = combinators[0]
        inner = condition[key]
        if key == "not":
            validate(inner, f"{where}.not")
            return
        if not isinstance(inner, list) or not inner:
            raise ValueError(f"{where}: {key} takes a non-empty list of conditions")
        for index, child in enumerate(inner):
            validate(child, f"{where}.{key}[{index}]")
        return
    unknown = sorted(set(condition) - {"path", "missing", *OPERATORS})
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")
    operators = [op for op in OPERATORS if op in condition]
    if len(operators) != 1 or not isinstance(condition.get("path"), str):
        raise ValueError(
            f"{where}: a condition needs a path and exactly one operator of "
            f"{', '.join(OPERATORS)} (or one of {', '.join(COMBINATORS)})"
        )
    op = operators[0]
    value = condition[op]
    if op in ("in", "not_in") and not (isinstance(value, list) and value):
        raise ValueError(f"{where}: {op} takes a non-empty list")
    if op in ("present", "nonempty") and not isinstance(value, bool):
        raise ValueError(f"{where}: {op} takes true or false")
    if op in ("min", "max") and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ValueError(f"{where}: {op} takes a number")
    if op == "at_least" and _tls_rank(value) is None:
        raise ValueError(f"{where}: at_least takes a version such as TLS1_2 or 1.2")
    if condition.get("missing", "fail") not in _MISSING:
        raise ValueError(f"{where}: missing is pass or fail")


def _norm(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _tls_rank(value: Any) -> tuple[int, ...] | None:
    """`TLS1_2`, `1.2`, `Tls12` -> (1, 2): minimum-TLS settings are spelled many ways."""
    if not isinstance(value, str):
        return None
    digits = [ch for ch in value if ch.isdigit()]
    if len(digits) < 2:
        return None
    return (int(digits[0]), int(digits[1]))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def holds(resource: Mapping[str, Any], condition: Mapping[str, Any]) -> bool:
    """Whether a (validated) condition holds for one resource."""
    if "all" in condition:
        return all(holds(resource, c) for c in condition["all"])
    if "any" in condition:
        return any(holds(resource, c) for c in condition["any"])
    if "not" in condition:
        return not holds(resource, condition["not"])
    value = dig(resource, condition["path"])
    if value is None or value == "" or value == []:
        if "present" in condition:
            return not condition["present"]
        if "nonempty" in condition:
            return not condition["nonempty"]
        return bool(condition.get("missing", "fail") == "pass")
    if "equals" in condition:
        return bool(_norm(value) == _norm(condition["equals"]))
    if "in" in condition:
        return _norm(value) in {_norm(v) for v in condition["in"]}
    if "not_in" in condition:
        return _norm(value) not in {_norm(v) for v in condition["not_in"]}
    if "present" in condition:
        return bool(condition["present"])
    if "nonempty" in condition:
        return bool(condition["nonempty"]) == bool(value)
    if "contains" in condition:
        wanted = _norm(condition["contains"])
        if isinstance(value, str):
            return wanted in {_norm(part.strip()) for part in value.split(",")}
        return isinstance(value, list) and wanted in {_norm(v) for v in value}
    if "at_least" in condition:
        have, need = _tls_rank(value), _tls_rank(condition["at_least"])
        return have is not None and need is not None and have >= need
    number = _number(value)
    if "min" in condition:
        return number is not None and number >= condition["min"]
    if "max" in condition:
        return number is not None and number <= condition["max"]
    raise ValueError(f"condition without an operator ({', '.join(OPERATORS)}): {condition}")


def paths(condition: Mapping[str, Any]) -> Iterator[str]:
    """The paths a condition reads, in order, each once."""
    seen: set[str] = set()

    def walk(node: Mapping[str, Any]) -> Iterator[str]:
        if "not" in node:
            yield from walk(node["not"])
        for key in ("all", "any"):
            for child in node.get(key, ()):
                yield from walk(child)
        if "path" in node and node["path"] not in seen:
            seen.add(node["path"])
            yield node["path"]

    yield from walk(condition)


def describe(resource: Mapping[str, Any], condition: Mapping[str, Any]) -> str:
    """What a resource holds at the paths a failed condition reads, for the finding's message."""
    parts = []
    for path in paths(condition):
        value = dig(resource, path)
        shown = "not set" if value is None else repr(value)
        parts.append(f"{path.removeprefix('properties.')} is {shown}")
    return "; ".join(parts)
