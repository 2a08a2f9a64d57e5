"""Every rule case of this folder (README.md): one tenant with each case's planted resource
and its clean twin, one scan of all their rules through the real SDK clients against the TLS
fakes; each case passes when its rule flags the planted resource and not the clean twin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.engine import ItemResult, ScanTarget
from scanner.subscription.engine import SubscriptionEngine
from scanner.subscription.rules import all_rules
from tests.scanner.subscription.rule_cases.cases import (
    Case,
    CaseError,
    edit,
    load,
    rounds,
    tenant_for,
    tenant_pair,
)
from tests.scanner.subscription.test_collect import MemoryStore, config_for
from tests.support.azure_fakes import FakeAzure

CASES = load()
RESOURCE_CASES = [c for c in CASES if not c.tenant]
TENANT_CASES = [c for c in CASES if c.tenant]


class Scanned:
    def __init__(self, results: dict[str, ItemResult], ids: dict[str, tuple[str, str]]) -> None:
        self.results = results
        self.ids = ids


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scanned]:
    tenant, ids = tenant_for(RESOURCE_CASES)
    fake = FakeAzure(tenant, tmp_path_factory.mktemp("rule-cases"))
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in fake.env().items():
                patch.setenv(name, value)
            results = scan(fake, sorted({case.rule for case in RESOURCE_CASES}))
        yield Scanned(results, ids)
    finally:
        fake.stop()


def scan(fake: FakeAzure, rules: list[str]) -> dict[str, ItemResult]:
    """One scan of `rules` over the tenant the fake serves, through the real SDK clients."""
    engine = SubscriptionEngine(config_for(fake))
    target = ScanTarget(
        target_type="subscription",
        target_id=fake.tenant.subscription_id,
        config={"rules": rules},
    )
    store = MemoryStore()
    plan = engine.plan(target, store, lambda phase, step: None)
    return {i.item_id: engine.run(target, i, plan.context, store) for i in plan.items}


@pytest.fixture(scope="module")
def tenant_scans(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, tuple[ItemResult, ItemResult]]]:
    """Tenant-level cases: per round of cases that share no section, one scan of a tenant
    holding their planted variants and one of a tenant holding their clean ones; for each
    case (by `where`) its rule's result in both."""
    verdicts: dict[str, tuple[ItemResult, ItemResult]] = {}
    fake: FakeAzure | None = None
    try:
        with pytest.MonkeyPatch.context() as patch:
            for group in rounds(TENANT_CASES):
                planted, clean = tenant_pair(group)
                if fake is None:
                    fake = FakeAzure(planted, tmp_path_factory.mktemp("tenant-cases"))
                    for name, value in fake.env().items():
                        patch.setenv(name, value)
                rules = sorted({case.rule for case in group})
                fake.use(planted)
                found = scan(fake, rules)
                fake.use(clean)
                twin = scan(fake, rules)
                for case in group:
                    verdicts[case.where] = (found[case.rule], twin[case.rule])
        yield verdicts
    finally:
        if fake is not None:
            fake.stop()


def flagged(result: ItemResult, resource_id: str) -> bool:
    """A finding names the resource or something under it (a child the rule reports)."""
    wanted = resource_id.lower()
    return any(
        str(f.location.get("resourceId", "")).lower() in (wanted,)
        or str(f.location.get("resourceId", "")).lower().startswith(wanted + "/")
        for f in result.findings
    )


@pytest.mark.parametrize(
    "case", RESOURCE_CASES, ids=[f"{c.rule}:{c.where}" for c in RESOURCE_CASES]
)
def test_rule_flags_the_planted_resource_and_not_its_clean_twin(
    scanned: Scanned, case: Case
) -> None:
    result = scanned.results[case.rule]
    assert result.status != "error", f"{case.where}: {case.rule} errored: {result.error}"
    planted, clean = scanned.ids[case.where]
    subjects = sorted(str(f.location.get("resourceId")) for f in result.findings)
    assert flagged(result, planted), f"{case.where}: {case.rule} missed {planted}; got {subjects}"
    assert not flagged(result, clean), f"{case.where}: {case.rule} flagged the clean twin {clean}"


@pytest.mark.parametrize("case", TENANT_CASES, ids=[f"{c.rule}:{c.where}" for c in TENANT_CASES])
def test_rule_flags_the_planted_tenant_and_not_its_clean_twin(
    tenant_scans: dict[str, tuple[ItemResult, ItemResult]], case: Case
) -> None:
    planted, clean = tenant_scans[case.where]
    for result in (planted, clean):
        assert result.status != "error", f"{case.where}: {case.rule} errored: {result.error}"
    assert planted.findings, f"{case.where}: {case.rule} found nothing in the planted tenant"
    subjects = sorted(str(f.location.get("resourceId")) for f in clean.findings)
    assert not clean.findings, f"{case.where}: {case.rule} flagged the clean tenant: {subjects}"


def test_every_rule_of_the_catalogue_has_a_case() -> None:
    uncovered = sorted(set(all_rules()) - {c.rule for c in CASES})
    assert not uncovered, f"rules without a rule case: {uncovered}"


def test_malformed_cases_are_refused_with_the_case_named(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(
        "cases:\n  - rule: ST-001\n    resource_type: microsoft.storage/storageaccounts\n"
        "    inline: {properties: {}}\n    plant: {}\n"
    )
    with pytest.raises(CaseError, match=r"broken\.yaml#1: an inline resource needs a `note`"):
        load(tmp_path)
    (tmp_path / "broken.yaml").write_text(
        "cases:\n  - rule: ST-001\n    resource_type: microsoft.sql/servers\n"
        "    example: sql/ServerGet.json\n    plant: {}\n"
        "    children: [{path: noSuchChild, inline: {}, note: x}]\n"
    )
    with pytest.raises(CaseError, match="not a known read; add a line to CHILD_READS"):
        load(tmp_path)
    (tmp_path / "broken.yaml").write_text("cases:\n  - rule: XX-999\n    plant: {}\n")
    with pytest.raises(CaseError, match="unknown rule id 'XX-999'"):
        load(tmp_path)


def test_edits_follow_arm_spelling_and_create_what_is_missing() -> None:
    resource = {"properties": {"supportsHttpsTrafficOnly": False, "rules": [{"a": 1}]}}
    edit(resource, "properties.SUPPORTSHTTPSTRAFFICONLY", True)
    edit(resource, "properties.encryption.keySource", "Microsoft.Keyvault")
    edit(resource, "properties.rules.0.a", 2)
    assert resource == {
        "properties": {
            "supportsHttpsTrafficOnly": True,
            "rules": [{"a": 2}],
            "encryption": {"keySource": "Microsoft.Keyvault"},
        }
    }
