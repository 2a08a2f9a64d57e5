"""`scanctl scans report SCAN --framework cis-azure`: a subscription scan per CIS control, as a
table for people and as the service's JSON for scripts, against the service on the standalone
host scanning the planted tenant through the Azure fakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.scanctl.test_commands import assert_one_line_error
from tests.support.cli_service import Service


@pytest.fixture(scope="module")
def scan_id(service: Service) -> str:
    done = service.json("scan", "subscription", service.subscription_id, "--wait")
    scan = done["scans"][0]
    assert scan["status"] == "completed"
    return str(scan["scanId"])


def test_the_table_groups_controls_by_section_with_status_and_rules(
    service: Service, scan_id: str
) -> None:
    done = service.run("scans", "report", scan_id, "--framework", "cis-azure")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "CIS Microsoft Azure Foundations Benchmark v3.0.0" in out and scan_id in out
    assert "of 159 controls" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "fail" in rows["2.1.2"] and "ID-002" in rows["2.1.2"] and "L1 manual" in rows["2.1.2"]
    assert "not-checked" in rows["2.5"]
    assert "Storage accounts" in rows["4"]  # the section's heading row
    assert "pass" in rows["6.1.1"] and "MON-001" in rows["6.1.1"]

    failing = service.run(
        "scans", "report", scan_id, "--framework", "cis-azure", "--status", "fail"
    )
    assert failing.returncode == 0, failing.stderr
    assert "2.1.2" in failing.stdout and "not-checked" not in failing.stdout
    assert " 2.5 " not in failing.stdout and "6.1.1" not in failing.stdout


def test_json_to_stdout_and_to_a_file(service: Service, scan_id: str, tmp_path: Path) -> None:
    done = service.run("scans", "report", scan_id, "--framework", "cis-azure", "--format", "json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["framework"]["version"] == "3.0.0"
    assert document["totals"]["controls"] == len(document["controls"]) == 159
    target = tmp_path / "cis.json"
    options = ("--framework", "cis-azure", "--format", "json", "-o", str(target))
    written = service.run("scans", "report", scan_id, *options)
    assert written.returncode == 0, written.stderr
    assert json.loads(target.read_text())["totals"] == document["totals"]


def test_wrong_framework_options_are_one_line_errors(service: Service, scan_id: str) -> None:
    unknown = service.run("scans", "report", scan_id, "--framework", "pci")
    assert_one_line_error(unknown, 2, "pci", "cis-azure")
    csv = service.run("scans", "report", scan_id, "--framework", "cis-azure", "--format", "csv")
    assert_one_line_error(csv, 2, "--format table|json")
    table = service.run("scans", "report", scan_id, "--format", "table")
    assert_one_line_error(table, 2, "--framework")
    to_file = service.run("scans", "report", scan_id, "--framework", "cis-azure", "-o", "x.txt")
    assert_one_line_error(to_file, 2, "--format json")
