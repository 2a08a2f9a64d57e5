"""How a work item's findings are stored: one compact JSON document per item.

What every finding of an item shares (a rule's id, title, severity, remediation, references)
is written once; the rest is one row per finding, with the fingerprint computed when the
finding was made. Reading it back builds the findings without validating each one again (they
were validated when they were made) and takes the stored fingerprints when they are of the
current fingerprint version, else computes them: findings stored before a change of the
fingerprint rules are compared by the rules of today.

Item rows written before this format hold a plain list of findings; they are read as before.
"""

from __future__ import annotations

import json
from typing import Any

from scanner.engine import Finding
from scanner.fingerprint import VERSION, fingerprint

FORMAT = "findings/2"
# Whether a finding is accepted is never stored: exceptions are applied when findings are read.
_FIELDS = tuple(name for name in Finding.model_fields if name != "accepted")


def encode(findings: list[Finding]) -> str:
    """The JSON text of an item's findings."""
    if not findings:
        return "[]"
    rows = [vars(f) for f in findings]
    first = rows[0]
    shared = {
        n: first[n] for n in _FIELDS if n != "fingerprint" and all(r[n] == first[n] for r in rows)
    }
    varying = [n for n in _FIELDS if n not in shared]
    document = {
        "format": FORMAT,
        "fingerprints": VERSION,
        "shared": shared,
        "fields": varying,
        "rows": [[r[n] for n in varying] for r in rows],
    }
    return json.dumps(document)


def decode(stored: Any) -> list[Finding]:
    """The findings of a decoded item document (this format, or the list written before it)."""
    if not stored:
        return []
    if isinstance(stored, list):  # written before the compact format: validated as before
        return [Finding.model_validate(found) for found in stored]
    if stored.get("format") != FORMAT:
        raise ValueError(f"findings stored in an unknown format {stored.get('format')!r}")
    shared: dict[str, Any] = stored["shared"]
    varying: list[str] = stored["fields"]
    current = stored.get("fingerprints") == VERSION and "fingerprint" in varying
    findings = []
    for row in stored["rows"]:
        values = {**shared, **dict(zip(varying, row, strict=True))}
        if not current:
            values["fingerprint"] = fingerprint(values["rule_id"], values.get("location") or {})
        findings.append(Finding.model_construct(**values))
    return findings


def fingerprints(stored: Any) -> list[str]:
    """The fingerprints of a decoded item document, without building the findings."""
    if not stored:
        return []
    if isinstance(stored, list):
        return [fingerprint(str(f["rule_id"]), f.get("location") or {}) for f in stored]
    if stored.get("format") != FORMAT:
        raise ValueError(f"findings stored in an unknown format {stored.get('format')!r}")
    varying: list[str] = stored["fields"]
    if stored.get("fingerprints") == VERSION and "fingerprint" in varying:
        at = varying.index("fingerprint")
        return [row[at] for row in stored["rows"]]
    return [f.fingerprint for f in decode(stored)]
