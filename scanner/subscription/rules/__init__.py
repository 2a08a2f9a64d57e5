"""The subscription rules: one module per family, each exporting `RULES`; discovered here by
walking this package (no hand-written registry)."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from scanner.subscription.rules.base import Rule


@cache
def all_rules() -> dict[str, Rule]:
    """Every rule by id, in id order."""
    found: dict[str, Rule] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for rule in getattr(module, "RULES", ()):
            if rule.id in found:
                raise ValueError(f"duplicate rule id {rule.id}")
            found[rule.id] = rule
    return dict(sorted(found.items()))


__all__ = ["Rule", "all_rules"]
