"""The published example payloads under examples/<provider>/ (their origins and licence are in
each folder's SOURCE.md): the body a service returns, ready to be edited into test data."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).with_name("examples")


@cache
def _document(provider: str, name: str) -> dict[str, Any]:
    return dict(json.loads((EXAMPLES / provider / name).read_text(encoding="utf-8")))


def example_body(provider: str, name: str) -> dict[str, Any]:
    """A fresh copy of the example's `responses.200.body`."""
    return copy.deepcopy(_document(provider, name)["responses"]["200"]["body"])


def example_list(provider: str, name: str) -> list[dict[str, Any]]:
    """The items of a list example (`responses.200.body.value`)."""
    return list(example_body(provider, name)["value"])


def edited(values: dict[str, Any], /, **changes: Any) -> dict[str, Any]:
    """`values` with `changes` applied; a change to None removes the property (what a
    resource that never set it returns)."""
    out = dict(values)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out
