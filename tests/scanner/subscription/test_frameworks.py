"""The CIS Azure Foundations v3.0.0 control list: its shape, the loader's checks, and the rule
catalogue naming only ids from it."""

from __future__ import annotations

import pytest

from scanner.subscription.frameworks import (
    FrameworkError,
    cis_azure,
    framework,
    known_frameworks,
    parse,
)
from scanner.subscription.rules import all_rules

_MINI = """
framework: cis-azure
name: A benchmark
version: 1.0.0
sections:
  - {id: '4', title: Storage}
controls:
  - {id: '4.1', section: '4', level: 1, assessment: automated, title: Accounts accept HTTPS only}
"""


def test_the_list_holds_every_v3_recommendation() -> None:
    cis = cis_azure()
    assert (cis.name, cis.version) == ("CIS Microsoft Azure Foundations Benchmark", "3.0.0")
    ids = [c.id for c in cis.controls]
    assert len(ids) == len(set(ids)) == 159
    # One from each section and subsection depth, and the ids that YAML would read as numbers.
    for expected in ("2.1.1", "2.26", "3.1.3.1", "3.1.16", "3.3.8", "4.10", "4.17", "5.4.2"):
        assert expected in ids
    assert {"6.2.10", "7.7", "8.11", "9.12", "10.1"} <= set(ids)
    assert "1.1" not in ids and "3.1.2.1" not in ids
    by_id = {c.id: c for c in cis.controls}
    assert (by_id["4.1"].level, by_id["4.1"].assessment, by_id["4.1"].section) == (
        1,
        "automated",
        "4",
    )
    assert (by_id["2.1.1"].assessment, by_id["3.1.3.1"].section) == ("manual", "3.1.3")
    assert cis.section_title("5.4") == "Azure Cosmos DB"
    automated = [c for c in cis.controls if c.assessment == "automated"]
    assert 90 < len(automated) < 120


def test_every_rule_names_listed_controls_and_db_014_checks_cosmos_private_endpoints() -> None:
    ids = cis_azure().control_ids()
    for rule in all_rules().values():
        assert set(rule.cis) <= ids, rule.id
    assert all_rules()["DB-014"].cis == ("5.4.2",)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (_MINI.replace("id: '4.1'", "id: 4.1"), "string"),
        (_MINI.replace("section: '4'", "section: '5'"), "does not sit under"),
        (_MINI.replace("level: 1", "level: 3"), "level"),
        (_MINI.replace("automated", "scripted"), "assessment"),
        (_MINI + _MINI.split("controls:\n")[1], "twice"),
        (_MINI.replace("framework: cis-azure", "framework: other"), "names itself other"),
        (_MINI.replace("title: Storage", "title: Storage, colour: blue"), "colour"),
    ],
)
def test_the_loader_refuses_a_bad_list(text: str, error: str) -> None:
    with pytest.raises(FrameworkError, match=error):
        parse(text, "cis-azure")


def test_an_unknown_framework_names_the_known_ones() -> None:
    assert known_frameworks() == ("cis-azure",)
    with pytest.raises(FrameworkError, match="known: cis-azure"):
        framework("pci")
