"""What a subscription rule is: a small, self-describing unit over the collected inventory.

A rule's metadata (id, title, severity, rationale, remediation, CIS Microsoft Azure Foundations
mapping, what it reads) lives in catalogue.yaml. Its `check` is pure: it yields one `Hit` per
offending resource or object. Data rules get their check from the catalogue's conditions; code
rules register a function here with `@check("ID", needs=[...])` from their family's module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scanner.engine import Severity
from scanner.subscription.inventory import DataUnavailableError, Inventory

CIS_BENCHMARK = "CIS Microsoft Azure Foundations Benchmark v3.0.0"
FAMILIES = (
    "storage",
    "networking",
    "compute",
    "keyvault",
    "sql",
    "databases",
    "appservice",
    "aks",
    "containerregistry",
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

    @classmethod
    def of(
        cls, resource: Mapping[str, Any], message: str, details: Mapping[str, Any] | None = None
    ) -> Hit:
        """A hit on one ARM resource or Graph object, located by its id and named by its name."""
        return cls(
            subject=str(resource.get("id", "")),
            message=message,
            name=str(resource.get("name", "")),
            details=details or {},
        )

    @classmethod
    def on_subscription(
        cls, inventory: Inventory, message: str, details: Mapping[str, Any] | None = None
    ) -> Hit:
        """A hit on the subscription as a whole (a setting it lacks rather than a resource)."""
        return cls(
            subject=f"/subscriptions/{inventory.subscription_id}",
            message=message,
            name=inventory.subscription_id,
            details=details or {},
        )

    @classmethod
    def on_setting(
        cls, inventory: Inventory, found: Mapping[str, Any] | None, path: str, message: str
    ) -> Hit:
        """A hit on a subscription-level setting: its id when ARM reported it, else the id it
        would have (`path` under the subscription), so that an absent setting is still named."""
        subject = (found or {}).get("id") or f"/subscriptions/{inventory.subscription_id}/{path}"
        return cls(subject=str(subject), message=message, name=path.rsplit("/", 1)[-1])


Check = Callable[[Inventory], Iterable[Hit]]
# How many resources or objects a rule looked at in an inventory (0: nothing to evaluate).
Evaluates = Callable[[Inventory], int]
# A code rule's `evaluates` when it judges the subscription or tenant as a whole (a setting that
# is always there to judge, e.g. a Defender plan or the activity log export): one object.
WHOLE_SCOPE = "scope"


def count_rows(value: Any) -> int:
    """The rows of a section's JSON: a list's items, a Graph-style {"items": [...]}, one for
    any other non-empty object."""
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict):
        items = value.get("items")
        return len(items) if isinstance(items, list) else (1 if value else 0)
    return 0


def section_counter(section: str) -> Evaluates:
    """Counts the rows of `section`; WHOLE_SCOPE counts one."""
    if section == WHOLE_SCOPE:
        return lambda inventory: 1
    return lambda inventory: count_rows(inventory.section(section))


@dataclass(frozen=True)
class Reads:
    """What a rule reads: one API (with its version) and the fields it looks at."""

    api: str
    fields: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"api": self.api, "fields": list(self.fields)}


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
    reads: tuple[Reads, ...] = ()
    # "data" (evaluated from the catalogue's conditions) or "code" (a registered check).
    kind: str = "code"
    # What the rule looked at in an inventory; a compliance view tells "passed" (something
    # evaluated, nothing found) from "not applicable" (nothing to evaluate) by it.
    evaluates: Evaluates | None = None

    def evaluated(self, inventory: Inventory) -> int | None:
        return None if self.evaluates is None else self.evaluates(inventory)

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
            "reads": [r.as_dict() for r in self.reads],
        }


# -- code rules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisteredCheck:
    check: Check
    needs: tuple[str, ...]
    module: str
    # The section whose rows the rule evaluates (default: the first of `needs`), or WHOLE_SCOPE.
    evaluates: str | None = None


CHECKS: dict[str, RegisteredCheck] = {}


def check(
    rule_id: str, needs: Sequence[str], evaluates: str | None = None
) -> Callable[[Check], Check]:
    """Register `function` as the check of catalogue rule `rule_id`, reading the inventory
    sections `needs` (the engine collects exactly those). `evaluates` names what it judges, for
    the count of evaluated objects: one of `needs` (its rows; default the first) or WHOLE_SCOPE
    (the subscription or tenant as a whole)."""
    if not needs:
        raise ValueError(f"{rule_id}: a check names the inventory sections it reads")
    if evaluates is not None and evaluates != WHOLE_SCOPE and evaluates not in needs:
        raise ValueError(f"{rule_id}: evaluates {evaluates!r} is not one of its needs")

    def register(function: Check) -> Check:
        if rule_id in CHECKS:
            raise ValueError(f"rule {rule_id} has two registered checks")
        CHECKS[rule_id] = RegisteredCheck(
            function, tuple(needs), str(getattr(function, "__module__", "")), evaluates
        )
        return function

    return register


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


def vulnerable_software_rule(
    resource_type: str, software_of: Callable[[Any], Any], what: Callable[[Any], str]
) -> Check:
    """The check of a "the software this resource runs has known vulnerabilities" rule:
    `software_of` names a resource's software (None: unknown, skipped), `what` says it."""

    def evaluate(inventory: Inventory) -> Iterable[Hit]:
        for resource in inventory.resources(resource_type):
            ref = software_of(resource)
            if ref is None:
                continue
            vulns = known_vulnerabilities(inventory, ref)
            if vulns:
                yield Hit.of(
                    resource,
                    f"{what(ref)} has {len(vulns)} known vulnerabilities: "
                    f"{describe_vulnerabilities(vulns)}",
                    details={"software": ref.as_dict(), "vulnerabilities": vulns},
                )

    return evaluate
