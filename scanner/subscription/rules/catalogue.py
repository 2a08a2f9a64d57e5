"""Loads catalogue.yaml into `Rule`s: validated with pydantic (unknown keys, bad operators and
missing fields fail), data rules given their check from their conditions, code rules joined to
the function registered for their id. Any mismatch fails loudly when the rules are loaded."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from scanner.subscription.frameworks import cis_azure
from scanner.subscription.inventory import Inventory, dig, resources
from scanner.subscription.rules import conditions
from scanner.subscription.rules.base import (
    FAMILIES,
    Check,
    Evaluates,
    Hit,
    Reads,
    RegisteredCheck,
    Rule,
    section_counter,
)

CATALOGUE_PATH = Path(__file__).with_name("catalogue.yaml")
_ID = re.compile(r"[A-Z]+-\d{3}")
_SECTION_ID = re.compile(r"\d+(\.\d+)*")


class CatalogueError(ValueError):
    """The catalogue and the registered checks do not agree, or an entry is malformed."""


class _ReadsEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    api: str = Field(min_length=3)
    fields: list[str] = Field(min_length=1)


class Entry(BaseModel):
    """One catalogue entry, as written in catalogue.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    family: str
    title: str = Field(min_length=10)
    severity: Literal["critical", "high", "medium", "low", "info"]
    rationale: str = Field(min_length=20)
    remediation: str = Field(min_length=10)
    cis: list[str]
    frameworks: dict[str, list[str]] = Field(default_factory=dict)
    references: list[str] = Field(default_factory=list)
    reads: _ReadsEntry | list[_ReadsEntry]
    resource_type: str | None = None
    section: str | None = None
    subject: str | None = None
    when: dict[str, Any] | None = None
    require: dict[str, Any] | None = None
    message: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.fullmatch(value):
            raise ValueError("an id is FAMILYPREFIX-NNN, e.g. ST-001")
        return value

    @field_validator("family")
    @classmethod
    def _family(cls, value: str) -> str:
        if value not in FAMILIES:
            raise ValueError(f"unknown family (known: {', '.join(FAMILIES)})")
        return value

    @field_validator("cis")
    @classmethod
    def _cis(cls, value: list[str]) -> list[str]:
        bad = [c for c in value if not _SECTION_ID.fullmatch(c)]
        if bad:
            raise ValueError(f"CIS ids are dotted numbers, got {bad}")
        return value

    @model_validator(mode="after")
    def _kind(self) -> Entry:
        data_keys = [
            k
            for k in ("resource_type", "section", "subject", "when", "message")
            if getattr(self, k) is not None
        ]
        if self.require is None:
            if data_keys:
                raise ValueError(f"{', '.join(data_keys)} only belong to a rule with `require`")
            return self
        if (self.resource_type is None) == (self.section is None):
            raise ValueError("a data rule names either resource_type or section")
        if not self.message:
            raise ValueError("a data rule has a message")
        conditions.validate(self.require, "require")
        if self.when is not None:
            conditions.validate(self.when, "when")
        if not self.cis and not self.frameworks:
            raise ValueError("a rule maps to CIS or to another framework")
        return self

    def all_reads(self) -> tuple[Reads, ...]:
        items = self.reads if isinstance(self.reads, list) else [self.reads]
        return tuple(Reads(r.api, tuple(r.fields)) for r in items)


def _clean(text: str) -> str:
    return " ".join(text.split())


def data_check(entry: Entry) -> tuple[Check, tuple[str, ...]]:
    """The check of a data rule and the inventory section it reads."""
    source = entry.section or resources(entry.resource_type or "")
    when, require = entry.when, entry.require or {}
    subject, message = entry.subject or "id", _clean(entry.message or "")

    def check(inventory: Inventory) -> Iterable[Hit]:
        for row in inventory.section(source) or []:
            if when is not None and not conditions.holds(row, when):
                continue
            if conditions.holds(row, require):
                continue
            yield Hit(
                subject=str(dig(row, subject) or row.get("id", "")),
                name=str(row.get("name", "")),
                message=f"{message} ({conditions.describe(row, require)})",
            )

    return check, (source,)


def data_counter(entry: Entry) -> Evaluates:
    """How many rows a data rule evaluates: those of its source that `when` admits."""
    source = entry.section or resources(entry.resource_type or "")
    when = entry.when

    def count(inventory: Inventory) -> int:
        rows = inventory.section(source) or []
        if when is None:
            return len(rows)
        return sum(1 for row in rows if conditions.holds(row, when))

    return count


def load(
    text: str,
    checks: Mapping[str, RegisteredCheck],
    cis_ids: Collection[str] | None = None,
) -> dict[str, Rule]:
    """Every rule of a catalogue text, in file order, joined to the registered `checks`. A rule's
    `cis` ids must be recommendations of the benchmark (`cis_ids`, by default the CIS Azure
    control list in scanner/subscription/frameworks)."""
    known_cis = cis_azure().control_ids() if cis_ids is None else frozenset(cis_ids)
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict) or set(raw) != {"rules"} or not isinstance(raw["rules"], list):
        raise CatalogueError("the catalogue is a mapping with one key, `rules`, holding a list")
    rules: dict[str, Rule] = {}
    for index, item in enumerate(raw["rules"]):
        where = item.get("id", f"entry {index + 1}") if isinstance(item, dict) else index + 1
        try:
            entry = Entry.model_validate(item)
        except (ValidationError, ValueError) as exc:
            raise CatalogueError(f"catalogue rule {where}: {exc}") from exc
        if entry.id in rules:
            raise CatalogueError(f"rule {entry.id} is in the catalogue twice")
        unknown = [c for c in entry.cis if c not in known_cis]
        if unknown:
            raise CatalogueError(
                f"rule {entry.id}: {', '.join(unknown)} is not a recommendation of "
                f"{cis_azure().title} (see scanner/subscription/frameworks)"
            )
        registered = checks.get(entry.id)
        if entry.require is not None:
            if registered is not None:
                raise CatalogueError(
                    f"rule {entry.id} has both `require` and a check in {registered.module}"
                )
            check, needs = data_check(entry)
            kind, evaluates = "data", data_counter(entry)
        elif registered is None:
            raise CatalogueError(f"rule {entry.id} has neither `require` nor a registered check")
        else:
            check, needs, kind = registered.check, registered.needs, "code"
            evaluates = section_counter(registered.evaluates or needs[0])
        rules[entry.id] = Rule(
            id=entry.id,
            title=entry.title,
            severity=entry.severity,
            family=entry.family,
            description=_clean(entry.rationale),
            remediation=_clean(entry.remediation),
            cis=tuple(entry.cis),
            needs=needs,
            check=check,
            references=tuple(entry.references),
            frameworks={k: tuple(v) for k, v in entry.frameworks.items()},
            reads=entry.all_reads(),
            kind=kind,
            evaluates=evaluates,
        )
    orphans = sorted(set(checks) - set(rules))
    if orphans:
        raise CatalogueError(f"registered checks without a catalogue entry: {', '.join(orphans)}")
    return rules
