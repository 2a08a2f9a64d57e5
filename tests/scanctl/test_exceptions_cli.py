"""`scanctl exceptions ...` against the service: accepting a rule's findings makes a gate pass
that failed on them; removing the exception makes it fail again; mistakes exit 2, a role that
may not accept risks exits 4."""

from __future__ import annotations

from tests.scanctl.conftest import valid_output
from tests.scanctl.test_commands import assert_one_line_error
from tests.support.cli_service import Service
from tests.support.scan_api import ROLE_KEYS


def gate(service: Service, rules: str) -> tuple[int, dict[str, object]]:
    sub = service.subscription_id
    done = service.run(
        *f"scan subscription {sub} --rules {rules} --wait --fail-on low -o json".split()
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, valid_output(done.stdout)


def test_accepted_findings_do_not_reach_the_gate_until_the_exception_is_removed(
    service: Service,
) -> None:
    sub = service.subscription_id
    code, before = gate(service, "ST-001")
    assert code == 1 and "reach --fail-on low" in str(before["gate"])

    added = service.run(
        "exceptions",
        "add",
        "--rule",
        "ST-001",
        "--pattern",
        "*/providers/microsoft.storage/storageaccounts/*",
        "--target",
        sub,
        "--reason",
        "HTTP endpoint kept for a legacy reader until its migration",
        "--owner",
        "storage-team",
        "--expires",
        "30d",
        "-o",
        "json",
    )
    assert added.returncode == 0, added.stderr
    exception = valid_output(added.stdout)["exceptions"][0]
    assert exception["status"] == "active" and exception["targetId"] == sub

    code, after = gate(service, "ST-001")
    assert code == 0, after["gate"]
    assert after["gate"]["passed"] is True  # type: ignore[index]
    table = service.run(
        "scan", "subscription", sub, "--rules", "ST-001", "--wait", "--fail-on", "low"
    )
    assert table.returncode == 0, table.stderr
    assert "accepted" in table.stdout

    listed = service.run("exceptions", "list")
    assert listed.returncode == 0 and "storage-team" in listed.stdout and "active" in listed.stdout
    shown = valid_output(service.run("exceptions", "show", exception["id"], "-o", "json").stdout)
    assert shown["exceptions"][0]["ruleId"] == "ST-001"

    removed = service.run("exceptions", "remove", exception["id"], "-o", "json")
    assert removed.returncode == 0, removed.stderr
    assert valid_output(removed.stdout)["removed"] == {"kind": "exception", "id": exception["id"]}
    code, again = gate(service, "ST-001")
    assert code == 1, again["gate"]
    assert exception["id"] not in service.run("exceptions", "list").stdout


def test_exception_mistakes_exit_2_and_a_reader_exits_4(service: Service) -> None:
    base = ["exceptions", "add", "--reason", "r", "--owner", "o"]
    assert_one_line_error(
        service.run(*base, "--rule", "ST-001", "--expires", "soon"), 2, "--expires"
    )
    assert_one_line_error(
        service.run(*base, "--fingerprint", "0" * 32, "--pattern", "*", "--expires", "1d"),
        2,
        "--pattern goes with --rule",
    )
    assert_one_line_error(
        service.run(*base, "--rule", "ST-001", "--expires", "400d"), 2, "not valid"
    )
    assert_one_line_error(service.run("exceptions", "show", "01ARZ3NDEKTSV4RRFFQ69G5FAV"), 2)
    reader = service.env(SCAN_API_KEY=ROLE_KEYS["reader"])
    refused = service.run(*base, "--rule", "ST-001", "--expires", "1d", env=reader)
    assert_one_line_error(refused, 4, "admin")
    assert service.run("exceptions", "list", "-o", "json", env=reader).returncode == 0
