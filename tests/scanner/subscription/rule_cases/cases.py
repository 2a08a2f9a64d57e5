"""Load the rule cases of this folder (see README.md) and build the tenant they describe."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from scanner.subscription import inventory as inv
from scanner.subscription.collect.children import child_read
from tests.support.azure_fakes.dataset import SUBSCRIPTION_ID, Builder, Tenant

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[2] / "support" / "azure_fakes" / "examples"
DEFAULT_BODY = "responses.200.body"
GROUP = "rg-rule-cases"
# A site's web configuration is a row of Resource Graph's appserviceresources table, with the
# id `<site id>/config/web`; a case of it plants the row and answers for the site.
SITE_CONFIG = "microsoft.web/sites/config"
_DAYS_AGO = re.compile(r"\{now-(\d+)d\}")

_CASE_KEYS = {
    "rule",
    "example",
    "inline",
    "note",
    "body",
    "resource_type",
    "children",
    "plant",
    "clean",
    "osv",
}
_CHILD_KEYS = {"path", "example", "inline", "note", "body", "plant", "clean"}
_TENANT_KEYS = {"section", "example", "inline", "note", "body", "plant", "clean", "only"}


class CaseError(ValueError):
    """A case file that does not follow the format: the message names the file and case."""


@dataclass
class Source:
    """Where a resource comes from: a published example (and the path to the resource in
    it) or an inline dict, plus the edits that make its planted and clean variants."""

    example: str | None
    inline: dict[str, Any] | None
    body: str
    plant: dict[str, Any]
    clean: dict[str, Any]

    def published(self) -> dict[str, Any]:
        if self.inline is not None:
            return copy.deepcopy(self.inline)
        assert self.example is not None
        document = json.loads((EXAMPLES / self.example).read_text())
        found = _walk(document, self.body)
        if not isinstance(found, dict):
            raise CaseError(f"{self.example}: {self.body} is not an object")
        return found

    def variant(self, twin: str) -> dict[str, Any]:
        resource = self.published()
        for path, value in (self.plant if twin == "planted" else self.clean).items():
            edit(resource, path, _substituted(value))
        return resource


def _substituted(value: Any) -> Any:
    """`{subscriptionId}` in an edit's strings names the scanned subscription (e.g. an
    activity log alert's scope); `{now-5d}` is the moment five days before the scan."""
    if isinstance(value, str):
        value = value.replace("{subscriptionId}", SUBSCRIPTION_ID)
        return _DAYS_AGO.sub(
            lambda m: (datetime.now(UTC) - timedelta(days=int(m.group(1)))).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            value,
        )
    if isinstance(value, list):
        return [_substituted(v) for v in value]
    if isinstance(value, dict):
        return {k: _substituted(v) for k, v in value.items()}
    return value


@dataclass
class Child:
    path: str
    source: Source


@dataclass
class Planted:
    """One object of a tenant-level section (a Defender plan, a Graph user, ...); `only`
    ("planted" or "clean") puts it in that tenant alone (e.g. a resource whose absence is the
    finding)."""

    section: str
    source: Source
    only: str | None = None


@dataclass
class Case:
    rule: str
    where: str  # "<file>#<n>": how failures name the case
    resource_type: str
    source: Source | None
    children: list[Child] = field(default_factory=list)
    # Tenant-level sections: the case's verdict is about the whole subscription or tenant,
    # so its planted and clean variants are scanned as two tenants of their own.
    tenant: list[Planted] = field(default_factory=list)
    # Software the planted variant runs that OSV knows vulnerabilities of:
    # (ecosystem, name, version) as the rules ask OSV (scanner/subscription/software.py).
    osv: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.where.replace(".yaml#", "-").replace("_", "-").lower()


def _walk(value: Any, path: str) -> Any:
    """The value at a dotted path; the empty path is the whole document (a Graph example
    file holds the response body itself)."""
    for part in path.split(".") if path else []:
        if isinstance(value, list) and part.isdigit():
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value[part]
        else:
            raise KeyError(path)
    return value


def edit(resource: dict[str, Any], path: str, value: Any) -> None:
    """Set `a.b.0.c` in a resource: keys match existing ones case-insensitively (ARM's
    spelling wins), missing objects are created, digits index lists."""
    parts = path.split(".")
    current: Any = resource
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if isinstance(current, list):
            position = int(part)
            if last:
                current[position] = value
            else:
                current = current[position]
            continue
        key = next((k for k in current if k.lower() == part.lower()), part)
        if last:
            current[key] = value
        else:
            if not isinstance(current.get(key), dict | list):
                current[key] = {}
            current = current[key]


def _source(entry: dict[str, Any], where: str, keys: set[str]) -> Source:
    unknown = set(entry) - keys
    if unknown:
        raise CaseError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(keys)}")
    if ("example" in entry) == ("inline" in entry):
        raise CaseError(f"{where}: give either `example` (a published file) or `inline`")
    if "inline" in entry and not entry.get("note"):
        raise CaseError(f"{where}: an inline resource needs a `note` saying why no example")
    example = entry.get("example")
    if example is not None:
        file = EXAMPLES / example
        if not file.is_file():
            raise CaseError(f"{where}: no example file {file}")
        notes = file.parent / "SOURCE.md"
        if not notes.is_file() or file.name not in notes.read_text():
            raise CaseError(f"{where}: {notes} must list {file.name} (origin path, licence)")
    for key in ("plant", "clean"):
        if not isinstance(entry.get(key, {}), dict):
            raise CaseError(f"{where}: `{key}` is a mapping of dotted.path: value")
    source = Source(
        example=example,
        inline=entry.get("inline"),
        body=str(entry.get("body", DEFAULT_BODY)),
        plant=dict(entry.get("plant") or {}),
        clean=dict(entry.get("clean") or {}),
    )
    source.published()  # fails here, with the case named, when the body path is wrong
    return source


def load(folder: Path = HERE) -> list[Case]:
    """Every case of every `*.yaml` in the folder, validated."""
    from scanner.subscription.rules import all_rules

    rules = all_rules()
    cases: list[Case] = []
    for file in sorted(folder.glob("*.yaml")):
        document = yaml.safe_load(file.read_text()) or {}
        entries = document.get("cases") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise CaseError(f"{file.name}: expected a top-level `cases:` list")
        for number, entry in enumerate(entries, start=1):
            where = f"{file.name}#{number}"
            if not isinstance(entry, dict):
                raise CaseError(f"{where}: a case is a mapping")
            rule = str(entry.get("rule", ""))
            if rule not in rules:
                raise CaseError(f"{where}: unknown rule id {rule!r}")
            if "tenant" in entry:
                cases.append(_tenant_case(entry, rule, where))
                continue
            if "plant" not in entry:
                raise CaseError(f"{where}: `plant` is required ({{}} when the example as "
                                "published already breaks the rule)")  # fmt: skip
            resource_type = str(entry.get("resource_type", "")).lower()
            if resource_type.count("/") < 1:
                raise CaseError(
                    f"{where}: `resource_type` (e.g. microsoft.storage/storageaccounts)"
                )
            children = []
            for index, child in enumerate(entry.get("children") or [], start=1):
                child_where = f"{where} child {index}"
                if not isinstance(child, dict) or not child.get("path"):
                    raise CaseError(f"{child_where}: a child needs a `path`")
                section = inv.children(resource_type, str(child["path"]))
                if child_read(section) is None:
                    raise CaseError(
                        f"{child_where}: {section} is not a known read; add a line to "
                        "CHILD_READS in scanner/subscription/collect/children.py"
                    )
                children.append(Child(str(child["path"]), _source(child, child_where, _CHILD_KEYS)))
            osv = []
            for item in entry.get("osv") or []:
                if not isinstance(item, dict) or set(item) != {"ecosystem", "name", "version"}:
                    raise CaseError(f"{where}: an `osv` item is {{ecosystem, name, version}}")
                osv.append((str(item["ecosystem"]), str(item["name"]), str(item["version"])))
            source = _source(
                {
                    k: v
                    for k, v in entry.items()
                    if k not in ("rule", "resource_type", "children", "osv")
                },
                where,
                _CASE_KEYS - {"rule", "resource_type", "children", "osv"},
            )
            cases.append(Case(rule, where, resource_type, source, children, osv=osv))
    return cases


def _tenant_case(entry: dict[str, Any], rule: str, where: str) -> Case:
    unknown = set(entry) - {"rule", "tenant", "note"}
    if unknown:
        raise CaseError(
            f"{where}: a tenant-level case has `rule`, `tenant` (and `note`); not {sorted(unknown)}"
        )
    planted = []
    for index, item in enumerate(entry.get("tenant") or [], start=1):
        item_where = f"{where} tenant {index}"
        if not isinstance(item, dict) or not item.get("section"):
            raise CaseError(f"{item_where}: an entry needs a `section`")
        section = str(item["section"])
        if not _plantable(section):
            raise CaseError(
                f"{item_where}: unknown section {section!r}; known: {sorted(TENANT_SECTIONS)}, "
                "resources:<type> and the subscription-level reads of CHILD_READS"
            )
        if "plant" not in item:
            raise CaseError(f"{item_where}: `plant` is required ({{}}: as published)")
        only = item.get("only")
        if only not in (None, "planted", "clean"):
            raise CaseError(f"{item_where}: `only` is planted or clean")
        fields = {k: v for k, v in item.items() if k != "only"}
        planted.append(Planted(section, _source(fields, item_where, _TENANT_KEYS), only))
    if not planted:
        raise CaseError(f"{where}: `tenant` lists at least one section entry")
    return Case(rule, where, "", None, tenant=planted)


# Tenant-level sections a case can plant: section -> Tenant attribute (a list the object is
# appended to, or a single object it replaces).
TENANT_SECTIONS: dict[str, str] = {
    inv.DEFENDER_PLANS: "securityresources",
    inv.CUSTOM_ROLES: "authorizationresources",
    inv.PROVIDERS: "providers",
    inv.ACTIVITY_LOG_DIAGNOSTICS: "diagnostic_settings",
    inv.USERS: "users",
    inv.REGISTRATION_DETAILS: "registration_details",
    inv.ROLE_ASSIGNMENTS: "role_assignments",
    inv.CONDITIONAL_ACCESS: "conditional_access",
    inv.SECURITY_DEFAULTS: "security_defaults_policy",
    inv.NAMED_LOCATIONS: "named_locations",
    inv.AUTHORIZATION_POLICY: "authorization_policy",
}
_SINGLE = {"security_defaults_policy", "authorization_policy"}
# Resource Graph tables: rows need an ARM id and type the fake's queries filter on.
_GRAPH_TYPES = {
    inv.DEFENDER_PLANS: "microsoft.security/pricings",
    inv.CUSTOM_ROLES: "microsoft.authorization/roledefinitions",
}


def _plantable(section: str) -> bool:
    return (
        section in TENANT_SECTIONS
        or section.startswith(inv.RESOURCE_PREFIX)
        or (section.startswith(inv.SUBSCRIPTION_PREFIX) and child_read(section) is not None)
    )


def occupied(case: Case) -> set[str]:
    """The sections a tenant-level case decides: its rule's and those it plants. Cases that
    share none can share a tenant (and so a scan)."""
    from scanner.subscription.rules import all_rules

    planted = {p.section.lower() for p in case.tenant}
    if any(s.startswith(inv.RESOURCE_PREFIX) for s in planted):
        # The regions in use are summarized from every resource of the subscription.
        planted.add(inv.LOCATIONS.lower())
    return {s.lower() for s in all_rules()[case.rule].needs} | planted


def rounds(cases: list[Case]) -> list[list[Case]]:
    """Tenant-level cases packed into as few tenants as their sections allow."""
    packed: list[tuple[set[str], list[Case]]] = []
    for case in cases:
        needs = occupied(case)
        slot = next((p for p in packed if not p[0] & needs), None)
        if slot is None:
            packed.append((set(needs), [case]))
        else:
            slot[0].update(needs)
            slot[1].append(case)
    return [group for _, group in packed]


def plant_tenant_object(
    tenant: Tenant, planted: Planted, twin: str, n: int, parents: dict[str, str] | None = None
) -> None:
    """Put one variant of a tenant-level object where the fake serves it. `parents` holds the
    ids of the case's resources planted so far by type: a resource of a nested type (e.g.
    microsoft.compute/virtualmachines/extensions) goes under its parent type's one."""
    body = planted.source.variant(twin)
    sub = f"/subscriptions/{tenant.subscription_id}"
    section = planted.section
    if section.startswith(inv.RESOURCE_PREFIX):
        resource_type = section.removeprefix(inv.RESOURCE_PREFIX)
        published_type = str(body.get("type", ""))
        arm_type = published_type if published_type.lower() == resource_type else resource_type
        # The example's own name: another planted object (a diagnostic setting's storage
        # account, ...) can point to it; cases of one round never share a resource type.
        name = str(body.get("name") or f"tenant-{n}")
        parent = (parents or {}).get(resource_type.rpartition("/")[0])
        if parent:
            rid = f"{parent}/{arm_type.rsplit('/', 1)[-1]}/{name}"
        else:
            rid = resource_id(tenant, arm_type, name)
        if parents is not None:
            parents[resource_type] = rid
        tenant.resources.append(
            {
                "kind": "",
                "location": "global",
                "sku": None,
                "identity": None,
                "tags": {},
                **body,
                "id": rid,
                "name": rid.rsplit("/", 1)[-1],
                "type": resource_type,
                "resourceGroup": GROUP,
                "subscriptionId": tenant.subscription_id,
            }
        )
        return
    if section.startswith(inv.SUBSCRIPTION_PREFIX):
        read = child_read(section)
        assert read is not None
        if read.single:
            tenant.attach(sub, read.path, body)
        else:
            where = f"{sub}/{read.path}".lower()
            listed = tenant.arm_children.setdefault(where, [])
            body.setdefault("name", f"item{len(listed)}")
            body["id"] = f"{sub}/{read.path}/{body['name']}"
            listed.append(body)
        return
    attribute = TENANT_SECTIONS[section]
    if section in _GRAPH_TYPES:
        # A Resource Graph row of this subscription, whatever subscription the example names.
        name = str(body.get("name") or f"item{n}")
        provider_type = "/".join(_GRAPH_TYPES[section].split("/")[:2])
        body = {
            **body,
            "id": f"{sub}/providers/{provider_type}/{name}",
            "type": _GRAPH_TYPES[section],
        }
    if attribute in _SINGLE:
        setattr(tenant, attribute, body)
    else:
        getattr(tenant, attribute).append(body)


def tenant_pair(cases: list[Case]) -> tuple[Tenant, Tenant]:
    """The planted and the clean tenant of one round of tenant-level cases."""
    pair = []
    for twin in ("planted", "clean"):
        tenant = Tenant(resource_graph_page_size=50, arm_page_size=50)
        if not any(p.section == inv.PROVIDERS for c in cases for p in c.tenant):
            tenant.providers = [
                {"namespace": "Microsoft.Security", "registrationState": "Registered"}
            ]
        for n, case in enumerate(cases):
            parents: dict[str, str] = {}
            for index, planted in enumerate(case.tenant):
                if planted.only in (None, twin):
                    plant_tenant_object(tenant, planted, twin, n * 100 + index, parents)
        pair.append(tenant)
    return pair[0], pair[1]


def resource_id(tenant: Tenant, resource_type: str, name: str) -> str:
    """An ARM id of `resource_type` (nested types repeat the name at each level)."""
    namespace, *types = resource_type.split("/")
    segments = "/".join(f"{t}/{name}" for t in types)
    return (
        f"/subscriptions/{tenant.subscription_id}/resourceGroups/{GROUP}/providers/"
        f"{namespace}/{segments}"
    )


def plant(tenant: Tenant, case: Case, twin: str) -> str:
    """Add one variant ("planted" or "clean") of a case to the tenant; its resource id."""
    assert case.source is not None
    body = case.source.variant(twin)
    if case.resource_type == SITE_CONFIG:
        return _plant_site_config(tenant, case, twin, body)
    published_type = str(body.get("type", ""))
    arm_type = (
        published_type if published_type.lower() == case.resource_type else case.resource_type
    )
    rid = resource_id(tenant, arm_type, f"{case.slug}-{twin}")
    row = {
        "kind": "",
        "location": "westeurope",
        "sku": None,
        "identity": None,
        "tags": {},
        **body,
        "id": rid,
        "name": rid.rsplit("/", 1)[-1],
        "type": case.resource_type,
        "resourceGroup": GROUP,
        "subscriptionId": tenant.subscription_id,
    }
    tenant.resources.append(row)
    for child in case.children:
        item = child.source.variant(twin)
        read = child_read(inv.children(case.resource_type, child.path))
        assert read is not None
        if read.single:
            item["id"] = f"{rid}/{child.path}"
            tenant.attach(rid, child.path, item)
        else:
            item["id"] = f"{rid}/{child.path}/{item.get('name') or 'child'}"
            tenant.attach(rid, child.path, [item])
    return rid


def _plant_site_config(tenant: Tenant, case: Case, twin: str, body: dict[str, Any]) -> str:
    """A web configuration row; a published SiteConfig (e.g. a site's `properties.siteConfig`)
    becomes the row's `properties`. Returns the site's id, which the rules report."""
    site = resource_id(tenant, "Microsoft.Web/sites", f"{case.slug}-{twin}")
    properties = body["properties"] if isinstance(body.get("properties"), dict) else body
    tenant.appserviceresources.append(
        {
            "id": f"{site}/config/web",
            "name": "web",
            "type": SITE_CONFIG,
            "location": "westeurope",
            "resourceGroup": GROUP,
            "subscriptionId": tenant.subscription_id,
            "properties": properties,
        }
    )
    return site


def tenant_for(cases: list[Case]) -> tuple[Tenant, dict[str, tuple[str, str]]]:
    """One tenant holding every case's planted resource and its clean twin; for each case
    (by `where`) the ids of both."""
    tenant = Tenant(resource_graph_page_size=50, arm_page_size=50)
    tenant.providers = [{"namespace": "Microsoft.Security", "registrationState": "Registered"}]
    ids = {
        case.where: (plant(tenant, case, "planted"), plant(tenant, case, "clean"))
        for case in cases
        if not case.tenant
    }
    builder = Builder(tenant)
    for case in cases:
        for number, key in enumerate(case.osv, start=1):
            builder.vulnerability(key, f"CASE-{case.slug}-{number}", f"CVE-2024-{number:04d}")
    return tenant, ids
