"""What a subscription rule is: a small, self-describing unit over the collected inventory.

A rule has an id, title, severity, description (rationale), remediation, its CIS Microsoft Azure
Foundations mapping, the inventory sections it reads, and a pure `check` that yields one `Hit`
per offending resource or object. Simple rules ("every storage account has property X = Y")
are declared as data with `property_rule`; the others are small functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scanner.engine import Severity
from scanner.subscription.inventory import DataUnavailableError, Inventory, dig, resources

CIS_BENCHMARK = "CIS Microsoft Azure Foundations Benchmark v2.0.0"
FAMILIES = (
    "storage",
    "networking",
    "compute",
    "keyvault",
    "sql",
    "appservice",
    "aks",
    "monitoring",
    "defender",
    "identity",
)


@dataclass(frozen=True)
class Hit:
    """One offending resource/object: `subject` locates it (ARM id, or a Graph path such as
    `/users/<id>`); `details` carries structured facts (software, vulnerabilities, ...)."""

    subject: str
    message: str
    name: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)


Check = Callable[[Inventory], Iterable[Hit]]


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: Severity
    family: str
    description: str
    remediation: str
    cis: tuple[str, ...]
    needs: tuple[str, ...]
    check: Check
    references: tuple[str, ...] = ()
    # Other frameworks where CIS Azure Foundations has no recommendation (e.g. the CIS AKS
    # benchmark): framework name -> section ids.
    frameworks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def mapping(self) -> dict[str, list[str]]:
        mapped = {CIS_BENCHMARK: list(self.cis)} if self.cis else {}
        mapped.update({name: list(ids) for name, ids in self.frameworks.items()})
        return mapped

    def metadata(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity,
            "family": self.family,
            "description": self.description,
            "remediation": self.remediation,
            "cis": list(self.cis),
            "frameworks": self.mapping(),
            "needs": list(self.needs),
            "references": list(self.references),
        }


# -- rules declared as data -------------------------------------------------------------------

_OPERATORS = ("equals", "in", "not_in", "present", "nonempty", "contains", "at_least")


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


def condition_holds(resource: Mapping[str, Any], condition: Mapping[str, Any]) -> bool:
    """Whether one data condition holds for a resource (see `property_rule`)."""
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
    raise ValueError(f"condition without an operator ({', '.join(_OPERATORS)}): {condition}")


def _describe(resource: Mapping[str, Any], conditions: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for condition in conditions:
        value = dig(resource, condition["path"])
        shown = "not set" if value is None else repr(value)
        parts.append(f"{condition['path'].removeprefix('properties.')} is {shown}")
    return "; ".join(parts)


def property_rule(
    *,
    id: str,
    title: str,
    severity: Severity,
    family: str,
    resource_type: str = "",
    section: str = "",
    subject_path: str = "id",
    passes_if: Sequence[Mapping[str, Any]],
    message: str,
    description: str,
    remediation: str,
    cis: Sequence[str] = (),
    references: Sequence[str] = (),
    frameworks: Mapping[str, tuple[str, ...]] | None = None,
    applies_if: Sequence[Mapping[str, Any]] = (),
) -> Rule:
    """A rule declared as data: each resource of `resource_type` (or each row of the inventory
    `section`) for which every `applies_if` condition holds passes when ANY of the
    `passes_if` conditions holds. Findings name the row's `subject_path` (default `id`).

    A condition is `{"path": "properties.x.y", <operator>: value, "missing": "pass"|"fail"}`
    with one operator of: equals, in, not_in, present, nonempty, contains, at_least (TLS
    versions). String comparisons ignore case. `missing` says what an absent value means
    (default "fail"; "pass" where the platform default is the secure one).
    """
    for condition in (*passes_if, *applies_if):
        if sum(op in condition for op in _OPERATORS) != 1 or "path" not in condition:
            raise ValueError(f"{id}: each condition needs a path and exactly one operator")
    if bool(resource_type) == bool(section):
        raise ValueError(f"{id}: give either resource_type or section")
    conditions = tuple(dict(c) for c in passes_if)
    scope = tuple(dict(c) for c in applies_if)
    source = section or resources(resource_type)

    def check(inventory: Inventory) -> Iterable[Hit]:
        for resource in inventory.section(source) or []:
            if not all(condition_holds(resource, c) for c in scope):
                continue
            if any(condition_holds(resource, c) for c in conditions):
                continue
            yield Hit(
                subject=str(dig(resource, subject_path) or resource.get("id", "")),
                name=str(resource.get("name", "")),
                message=f"{message} ({_describe(resource, conditions)})",
            )

    return Rule(
        id=id,
        title=title,
        severity=severity,
        family=family,
        description=description,
        remediation=remediation,
        cis=tuple(cis),
        needs=(source,),
        check=check,
        references=tuple(references),
        frameworks=dict(frameworks or {}),
    )


# -- software and known vulnerabilities ---------------------------------------------------------

OSV_VULN_URL = "https://osv.dev/vulnerability/"


def software_details(inventory: Inventory, ref: Any) -> dict[str, Any]:
    """Details of a finding that names software: the software and its known vulnerabilities
    from OSV, or why they are unknown. Enrichment failure annotates the finding, never fails
    the rule."""
    details: dict[str, Any] = {"software": ref.as_dict()}
    try:
        enrichment = inventory.vulnerabilities()
    except DataUnavailableError as exc:
        details["enrichment"] = f"unavailable: {exc}"
        return details
    if enrichment.get("status") != "ok":
        details["enrichment"] = f"unavailable: {enrichment.get('error') or 'not collected'}"
        return details
    details["enrichment"] = "osv"
    details["vulnerabilities"] = list(enrichment.get("bySoftware", {}).get(ref.key, []))
    return details


def known_vulnerabilities(inventory: Inventory, ref: Any) -> list[dict[str, Any]]:
    """The OSV vulnerabilities of one piece of software; raises DataUnavailableError when the
    enrichment failed (a rule about vulnerabilities cannot say "none" then)."""
    enrichment = inventory.vulnerabilities()
    if enrichment.get("status") != "ok":
        raise DataUnavailableError(
            f"CVE enrichment unavailable: {enrichment.get('error') or 'not collected'}"
        )
    return list(enrichment.get("bySoftware", {}).get(ref.key, []))


def describe_vulnerabilities(vulns: Sequence[Mapping[str, Any]], limit: int = 5) -> str:
    names = []
    for vuln in vulns[:limit]:
        cves = [a for a in vuln.get("aliases", []) if str(a).startswith("CVE-")]
        names.append(f"{vuln['id']} ({cves[0]})" if cves else str(vuln["id"]))
    more = f" and {len(vulns) - limit} more" if len(vulns) > limit else ""
    return ", ".join(names) + more
