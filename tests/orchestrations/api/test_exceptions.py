"""Exceptions (accepted findings) through the API on the standalone host: what they hide from
the counts gates read, in every view and report, until they expire or are deleted; how they
name findings; what the API refuses; who may change them; the audit rows they leave."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.support.host_process import HostProcess
from tests.support.scan_api import ROLE_KEYS, Api, scan_api_env, start_api


@pytest.fixture(scope="module")
def host(azurite: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    process = start_api(tmp_path_factory.mktemp("exceptions"), scan_api_env(azurite))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def api(host: HostProcess) -> Api:
    return Api(host)


def in_(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def scanned(api: Api, name: str, items: int = 2) -> str:
    """A completed synthetic scan: one low finding per item, on `items/item-NNN.md`."""
    started = api.scan(name=name, items=items, itemDelayMs=0)
    assert started.status_code == 202, started.text
    final = api.wait(started.json()["scanId"], timeout=60)
    assert final["status"] == "completed", final.get("errorMessage")
    return str(final["scanId"])


def findings(api: Api, scan_id: str) -> dict[str, Any]:
    answer = api.get(f"/api/v1/scans/{scan_id}/findings")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def report(api: Api, scan_id: str, fmt: str) -> Any:
    answer = api.get(f"/api/v1/scans/{scan_id}/report", params={"format": fmt})
    assert answer.status_code == 200, answer.text
    return answer.json() if fmt in ("json", "sarif") else answer.text


def create(api: Api, **body: Any) -> dict[str, Any]:
    body = {"reason": "compensating control", "owner": "qa-lead", "expiresAt": in_(3600), **body}
    answer = api.post("/api/v1/exceptions", body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def by_file(listed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["location"]["file"]: f for f in listed["items"]}


def test_an_exception_hides_a_finding_from_the_counts_until_it_expires(api: Api) -> None:
    scan_id = scanned(api, "expiring")
    before = by_file(findings(api, scan_id))
    target = before["items/item-000.md"]
    assert target["accepted"] is None

    expires = datetime.now(UTC) + timedelta(seconds=6)
    exception = create(
        api,
        fingerprint=target["fingerprint"],
        reason="fixed in the next release",
        owner="alice",
        expiresAt=expires.isoformat(),
    )
    assert exception["status"] == "active" and exception["createdBy"] == "key tests-admin"

    listed = findings(api, scan_id)
    assert listed["total"] == 2 and listed["accepted"] == 1
    assert listed["bySeverity"] == {"low": 1}
    accepted = by_file(listed)["items/item-000.md"]["accepted"]
    assert accepted["exceptionId"] == exception["id"]
    assert accepted["reason"] == "fixed in the next release" and accepted["owner"] == "alice"
    assert by_file(listed)["items/item-001.md"]["accepted"] is None

    summary = report(api, scan_id, "json")["summary"]
    assert summary["findingsBySeverity"] == {"low": 1}
    assert summary["findings"] == 1 and summary["accepted"] == 1
    results = report(api, scan_id, "sarif")["runs"][0]["results"]
    suppressed = [r for r in results if r.get("suppressions")]
    assert len(results) == 2 and len(suppressed) == 1
    suppression = suppressed[0]["suppressions"][0]
    assert suppression["kind"] == "external" and suppression["status"] == "accepted"
    assert suppression["justification"] == "fixed in the next release"
    assert suppression["properties"]["exceptionId"] == exception["id"]
    rows = list(csv.DictReader(io.StringIO(report(api, scan_id, "csv"))))
    assert [r["accepted_by"] for r in rows] == [exception["id"], ""]
    assert rows[0]["accepted_owner"] == "alice"
    page = report(api, scan_id, "html")
    assert "Accepted (" + exception["id"] in page and "fixed in the next release" in page

    # Past its expiry the finding counts again, with no rescan; the exception is shown expired.
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.5)
    after = findings(api, scan_id)
    assert after["accepted"] == 0 and after["bySeverity"] == {"low": 2}
    assert all(f["accepted"] is None for f in after["items"])
    assert report(api, scan_id, "json")["summary"]["findingsBySeverity"] == {"low": 2}
    assert api.get(f"/api/v1/exceptions/{exception['id']}").json()["status"] == "expired"
    expired = api.get("/api/v1/exceptions", params={"status": "expired"}).json()
    assert exception["id"] in {e["id"] for e in expired["items"]}


def test_a_rule_and_pattern_cover_matching_findings_on_the_target_named(api: Api) -> None:
    scan_id = scanned(api, "patterned", items=3)
    other_id = scanned(api, "elsewhere", items=3)
    exception = create(
        api, ruleId="SYN-001", resourcePattern="ITEMS/item-00[12].md", targetId="patterned"
    )
    listed = by_file(findings(api, scan_id))
    assert {f for f, v in listed.items() if v["accepted"]} == {
        "items/item-001.md",
        "items/item-002.md",
    }
    assert findings(api, other_id)["accepted"] == 0  # another target: not covered

    # Deleting it acts at once.
    assert api.request("DELETE", f"/api/v1/exceptions/{exception['id']}").status_code == 204
    assert findings(api, scan_id)["accepted"] == 0
    assert api.get(f"/api/v1/exceptions/{exception['id']}").status_code == 404
    assert api.request("DELETE", f"/api/v1/exceptions/{exception['id']}").status_code == 404

    # A rule without a pattern covers every finding of the rule, on any target.
    everywhere = create(api, ruleId="SYN-001")
    assert findings(api, other_id)["accepted"] == 3
    assert findings(api, other_id)["bySeverity"] == {}
    api.request("DELETE", f"/api/v1/exceptions/{everywhere['id']}")


def test_the_comparison_lists_accepted_findings_apart(api: Api) -> None:
    first = scanned(api, "compared", items=1)
    second = scanned(api, "compared", items=3)
    exception = create(api, ruleId="SYN-001", resourcePattern="*item-002*", targetId="compared")
    diff = api.get(f"/api/v1/scans/{second}/diff", params={"against": first})
    assert diff.status_code == 200, diff.text
    section = diff.json()["findings"]
    assert section["counts"] == {"new": 1, "resolved": 0, "unchanged": 1}
    assert section["accepted"] == {"new": 1, "resolved": 0, "unchanged": 0}
    assert section["bySeverity"]["new"] == {"low": 1}
    accepted = [f for f in section["new"] if f.get("accepted")]
    assert [f["location"]["file"] for f in accepted] == ["items/item-002.md"]
    assert accepted[0]["accepted"]["exceptionId"] == exception["id"]
    sarif = api.get(f"/api/v1/scans/{second}/diff", params={"against": first, "format": "sarif"})
    assert sum(1 for r in sarif.json()["runs"][0]["results"] if r.get("suppressions")) == 1
    api.request("DELETE", f"/api/v1/exceptions/{exception['id']}")


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"ruleId": "SYN-001", "owner": "x", "expiresAt": in_(600)}, "reason", "required"),
        ({"ruleId": "SYN-001", "reason": "r", "expiresAt": in_(600)}, "owner", "required"),
        ({"ruleId": "SYN-001", "reason": "r", "owner": "x"}, "expiresAt", "required"),
        ({"ruleId": "SYN-001", "reason": "", "owner": "x", "expiresAt": in_(600)}, "reason", ""),
        (
            {"ruleId": "SYN-001", "reason": "r", "owner": "x", "expiresAt": in_(-60)},
            "expiresAt",
            "in the future",
        ),
        (
            {"ruleId": "SYN-001", "reason": "r", "owner": "x", "expiresAt": in_(366 * 86400)},
            "expiresAt",
            "365 days",
        ),
        (
            {"ruleId": "SYN-001", "reason": "r", "owner": "x", "expiresAt": "next week"},
            "expiresAt",
            "",
        ),
        ({"reason": "r", "owner": "x", "expiresAt": in_(600)}, "(body)", "exactly one"),
        (
            {
                "ruleId": "SYN-001",
                "fingerprint": "0" * 32,
                "reason": "r",
                "owner": "x",
                "expiresAt": in_(600),
            },
            "(body)",
            "exactly one",
        ),
        (
            {
                "fingerprint": "0" * 32,
                "resourcePattern": "*",
                "reason": "r",
                "owner": "x",
                "expiresAt": in_(600),
            },
            "(body)",
            "goes with ruleId",
        ),
        (
            {"fingerprint": "not-hex", "reason": "r", "owner": "x", "expiresAt": in_(600)},
            "fingerprint",
            "",
        ),
        (
            {"ruleId": "SYN-001", "reason": "r", "owner": "x", "expiresAt": in_(600), "x": 1},
            "x",
            "",
        ),
    ],
)
def test_invalid_exceptions_are_refused_with_the_field_named(
    api: Api, body: dict[str, Any], field: str, words: str
) -> None:
    answer = api.post("/api/v1/exceptions", body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "validation_failed"
    details = {d["field"]: d["message"] for d in error["details"]}
    assert field in details, details
    assert words.lower() in details[field].lower() or (words == "required" and details[field])


def test_malformed_requests_and_unknown_ids_are_4xx(api: Api) -> None:
    bad = requests.post(
        api.host.base_url + "/api/v1/exceptions",
        data=b"{",
        headers={**api.headers, "Content-Type": "application/json"},
        timeout=30,
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
    for unknown in ("01ARZ3NDEKTSV4RRFFQ69G5FAV", "not-an-id"):
        missing = api.get(f"/api/v1/exceptions/{unknown}")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "exception_not_found"
    assert api.get("/api/v1/exceptions", params={"status": "gone"}).status_code == 400


def test_only_admins_accept_risks_and_readers_see_them(api: Api, host: HostProcess) -> None:
    made = create(api, ruleId="SYN-002")
    body = {"ruleId": "SYN-001", "reason": "r", "owner": "x", "expiresAt": in_(600)}
    for role in ("reader", "operator"):
        caller = Api(host, ROLE_KEYS[role])
        refused = caller.post("/api/v1/exceptions", body)
        assert refused.status_code == 403, refused.text
        assert refused.json()["requiredRole"] == "admin"
        deleting = caller.request("DELETE", f"/api/v1/exceptions/{made['id']}")
        assert deleting.status_code == 403
        listed = caller.get("/api/v1/exceptions")
        assert listed.status_code == 200 and made["id"] in {e["id"] for e in listed.json()["items"]}
        assert caller.get(f"/api/v1/exceptions/{made['id']}").json()["ruleId"] == "SYN-002"
    assert Api(host, "wrong-key").get("/api/v1/exceptions").status_code == 401
    api.request("DELETE", f"/api/v1/exceptions/{made['id']}")


def test_every_change_to_exceptions_is_audited(api: Api) -> None:
    made = create(api, ruleId="SYN-003", owner="bob")
    assert api.request("DELETE", f"/api/v1/exceptions/{made['id']}").status_code == 204
    entries = api.get("/api/v1/audit", params={"limit": 2}).json()["items"]
    assert [(e["action"], e["target"], e["actor"]["name"], e["status"]) for e in entries] == [
        ("exception.deleted", f"exception:{made['id']}", "tests-admin", 204),
        ("exception.created", f"exception:{made['id']}", "tests-admin", 201),
    ]
    assert entries[1]["method"] == "POST" and entries[0]["method"] == "DELETE"
