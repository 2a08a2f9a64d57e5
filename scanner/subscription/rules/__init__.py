"""The subscription rules: their metadata in catalogue.yaml, the checks of code rules in one
module per family (each registers its functions with `@check`), discovered by walking this
package (no hand-written registry). The catalogue is loaded, and checked against the registered
functions, when this package is imported: a mismatch fails at once."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from scanner.subscription.rules.base import CHECKS, Rule
from scanner.subscription.rules.catalogue import CATALOGUE_PATH, load

_NOT_FAMILIES = frozenset({"base", "catalogue", "conditions"})


@cache
def all_rules() -> dict[str, Rule]:
    """Every rule by id, in id order."""
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name not in _NOT_FAMILIES:
            importlib.import_module(f"{__name__}.{module_info.name}")
    rules = load(CATALOGUE_PATH.read_text(encoding="utf-8"), CHECKS)
    return dict(sorted(rules.items()))


all_rules()

__all__ = ["Rule", "all_rules"]
