"""Scans of several subscriptions as one target, end to end: the HTTP API on the standalone
host, the real SDK clients in its worker, the TLS fakes serving a tenant of three readable
subscriptions and one this identity cannot read, under one management group (its descendants
from the published example)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.azure_fakes import (
    MANAGEMENT_GROUP_ID,
    SECOND_SUBSCRIPTION_ID,
    SUBSCRIPTION_ID,
    THIRD_SUBSCRIPTION_ID,
    UNREADABLE_SUBSCRIPTION_ID,
    FakeAzure,
    multi_subscription_tenant,
)
from tests.support.scan_api import Api, scan_api_env, start_api

RULES = ["DEF-007", "DEF-008", "ID-001", "ID-009", "ST-001"]
READABLE = [SUBSCRIPTION_ID, SECOND_SUBSCRIPTION_ID, THIRD_SUBSCRIPTION_ID]
EVERY = [*READABLE, UNREADABLE_SUBSCRIPTION_ID]
UNKNOWN_SUBSCRIPTION_ID = "0badc0de-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeAzure]:
    with FakeAzure(multi_subscription_tenant(), tmp_path_factory.mktemp("fake-azure")) as fake:
        yield fake


@pytest.fixture(scope="module")
def api(azurite: str, fake: FakeAzure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    env = scan_api_env(
        azurite,
        **fake.env(),
        SUBSCRIPTION_HTTP_RETRIES="1",
        SUBSCRIPTION_HTTP_RETRY_BACKOFF_S="0.05",
        OSV_ENRICHMENT="false",
        SCAN_SCHEDULER_CRON="*/2 * * * * *",
    )
    host = start_api(tmp_path_factory.mktemp("multi-subscription-api"), env)
    yield Api(host)
    host.stop()


def findings(api: Api, scan_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(rule id, finding) of every finding in the scan's JSON report."""
    report = api.get(f"/api/v1/scans/{scan_id}/report", params={"format": "json"})
    assert report.status_code == 200, report.text
    return [(item["itemId"], f) for item in report.json()["items"] for f in item["findings"]]


def expected() -> dict[str, set[str]]:
    planted = multi_subscription_tenant().expected
    return {rule: set(planted[rule]) for rule in RULES if planted[rule]}


def check_per_subscription(api: Api, final: dict[str, Any]) -> None:
    """Every planted finding, each named with the subscription it is in (identity findings
    once, for the tenant), and the per-subscription summary that says so."""
    assert final["status"] == "completed", final.get("errorMessage")
    assert final["totalRules"] == final["rulesCompleted"] == len(RULES)
    assert final["progress"] == 100
    assert {i["status"] for i in final["items"]} == {"failed"}  # no rule errored
    found = findings(api, final["scanId"])
    by_rule: dict[str, set[str]] = {}
    for rule, finding in found:
        location = finding["location"]
        by_rule.setdefault(rule, set()).add(location["resourceId"])
        if rule == "ID-001":
            assert location["scope"] == "tenant" and "subscriptionId" not in location
        else:
            assert (
                location["resourceId"]
                .lower()
                .startswith(f"/subscriptions/{location['subscriptionId']}/")
            )
    assert by_rule == expected()
    assert len(found) == sum(len(v) for v in expected().values())  # identity: once, not 3x

    results = final["results"]
    per_sub = {s["subscriptionId"]: s for s in results["subscriptions"]}
    assert set(per_sub) == set(EVERY)
    assert results["findingsBySubscription"] == {
        SUBSCRIPTION_ID: 4,  # ST-001, DEF-007, DEF-008, ID-009
        SECOND_SUBSCRIPTION_ID: 3,  # ST-001, DEF-007, DEF-008
        THIRD_SUBSCRIPTION_ID: 0,
    }
    assert results["tenantFindings"] == 1
    assert per_sub[SUBSCRIPTION_ID]["findingsBySeverity"] == {"high": 1, "medium": 3}
    assert per_sub[THIRD_SUBSCRIPTION_ID]["status"] == "scanned"
    assert per_sub[THIRD_SUBSCRIPTION_ID]["resources"] == 1
    unreadable = per_sub[UNREADABLE_SUBSCRIPTION_ID]
    assert unreadable["status"] == "unreadable"
    assert "HTTP 403" in unreadable["reason"] and "AuthorizationFailed" in unreadable["reason"]
    assert results["subscriptionsUnreadable"] == {UNREADABLE_SUBSCRIPTION_ID: unreadable["reason"]}
    assert sorted(results["subscriptionIds"]) == sorted(READABLE)
    assert final["counters"]["subscriptionsScanned"] == 3
    assert final["counters"]["subscriptionsUnreadable"] == 1
    assert final["counters"]["findings"] == 8


def test_a_list_of_subscriptions_is_one_target_and_one_scan(api: Api, fake: FakeAzure) -> None:
    registered = api.post(
        "/api/v1/subscriptions",
        {"name": "Contoso", "subscriptionIds": [*EVERY, SUBSCRIPTION_ID.upper()], "rules": RULES},
    )
    assert registered.status_code == 201, registered.text
    target = registered.json()
    assert target["id"].startswith("subscriptions-") and len(target["id"]) == 26
    assert target["subscriptionIds"] == EVERY  # lower case, the duplicate dropped
    # The same set in another order is the same target.
    again = api.post("/api/v1/subscriptions", {"subscriptionIds": list(reversed(EVERY))})
    assert again.status_code == 409 and again.json()["error"]["code"] == "target_exists"

    fake.reset_counts()
    started = api.post(
        "/api/v1/scans", {"targetType": "subscription", "subscriptionIds": list(reversed(EVERY))}
    )
    assert started.status_code == 202, started.text
    assert started.json()["targetId"] == target["id"]
    final = api.wait(started.json()["scanId"], timeout=120)
    check_per_subscription(api, final)  # the registered rules were run
    assert "managementGroupId" not in final["results"]

    # Resource Graph read the three subscriptions together: the storage accounts (5 rows,
    # 2 a page), Defender plans and custom roles, not once per subscription.
    graph_calls = fake.counts()["resourceGraph"]
    assert graph_calls == 3 + 1 + 1
    assert fake.counts()["graph"] == 2  # the tenant's identities once: 2 users in 1 page each

    listed = api.get("/api/v1/scans", params={"targetId": target["id"]})
    assert [s["scanId"] for s in listed.json()["items"]] == [final["scanId"]]
    shown = api.get(f"/api/v1/subscriptions/{target['id']}").json()
    assert shown["lastScanId"] == final["scanId"]
    # Its name and rules can change; what it covers cannot (that is a new target).
    renamed = api.request("PATCH", f"/api/v1/subscriptions/{target['id']}", json={"name": "All"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["subscriptionIds"] == EVERY and renamed.json()["name"] == "All"


def test_a_management_group_is_expanded_to_its_subscriptions_at_scan_time(
    api: Api, fake: FakeAzure
) -> None:
    fake.reset_counts()
    started = api.post(
        "/api/v1/scans",
        {"targetType": "subscription", "managementGroupId": MANAGEMENT_GROUP_ID, "rules": RULES},
    )
    assert started.status_code == 202, started.text
    assert started.json()["targetId"] == f"mg-{MANAGEMENT_GROUP_ID}"
    final = api.wait(started.json()["scanId"], timeout=120)
    check_per_subscription(api, final)
    results = final["results"]
    assert results["scope"] == "managementGroup"
    assert results["managementGroupId"] == MANAGEMENT_GROUP_ID
    names = {s["subscriptionId"]: s.get("displayName") for s in results["subscriptions"]}
    assert names == {
        SUBSCRIPTION_ID: "Production",
        SECOND_SUBSCRIPTION_ID: "Staging",
        THIRD_SUBSCRIPTION_ID: "Sandbox",
        UNREADABLE_SUBSCRIPTION_ID: "Subscription 4",  # as published
    }
    # The descendants were read page by page (5 entries, 2 a page).
    descendants = [p for _, p in fake.requests("arm") if p.lower().endswith("/descendants")]
    assert len(descendants) == 3

    # A second scan of the group compares with the first: nothing changed. (Started right
    # after the first, it may wait for the first one's orchestration to end: the scheduler's
    # timer, every 2 s here, starts it then.)
    second = api.post(
        "/api/v1/scans",
        {"targetType": "subscription", "managementGroupId": MANAGEMENT_GROUP_ID, "rules": RULES},
    )
    assert second.status_code == 202, second.text
    done = api.wait(second.json()["scanId"], timeout=60)
    assert done["status"] == "completed", done.get("errorMessage")
    diff = api.get(f"/api/v1/scans/{done['scanId']}/diff", params={"against": "previous"})
    assert diff.status_code == 200, diff.text
    assert diff.json()["findings"]["counts"] == {"new": 0, "resolved": 0, "unchanged": 8}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"managementGroupId": "no-such-group"}, "HTTP 404"),
        ({"managementGroupId": "empty-group"}, "holds no subscription"),
        (
            {"subscriptionIds": [UNREADABLE_SUBSCRIPTION_ID, UNKNOWN_SUBSCRIPTION_ID]},
            "none of the 2 subscriptions could be read",
        ),
    ],
)
def test_scopes_that_cannot_be_scanned_fail_clearly(
    api: Api, body: dict[str, Any], message: str
) -> None:
    started = api.post("/api/v1/scans", {"targetType": "subscription", "rules": ["ST-001"], **body})
    assert started.status_code == 202, started.text
    final = api.wait(started.json()["scanId"], timeout=60)
    assert final["status"] == "failed"
    assert message in final["errorMessage"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "(body)"),
        ({"subscriptionId": SUBSCRIPTION_ID, "managementGroupId": "g1"}, "(body)"),
        ({"subscriptionIds": [SUBSCRIPTION_ID], "managementGroupId": "g1"}, "(body)"),
        ({"subscriptionIds": []}, "subscriptionIds"),
        ({"subscriptionIds": "not-a-list"}, "subscriptionIds"),
        ({"subscriptionIds": [SUBSCRIPTION_ID, "nope"]}, "subscriptionIds.1"),
        ({"subscriptionIds": [SUBSCRIPTION_ID] * 101}, "subscriptionIds"),
        ({"managementGroupId": "bad/group"}, "managementGroupId"),
        ({"managementGroupId": "ends-with-a-period."}, "managementGroupId"),
        ({"managementGroupId": "x" * 91}, "managementGroupId"),
    ],
)
def test_bad_scopes_are_refused_with_422(api: Api, body: dict[str, Any], field: str) -> None:
    for path, sent in (
        ("/api/v1/scans", {"targetType": "subscription", **body}),
        ("/api/v1/subscriptions", body),
    ):
        answer = api.post(path, sent)
        assert answer.status_code == 422, (path, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "validation_failed"
        assert field in [d["field"] for d in error["details"]], error


def test_a_list_of_one_is_that_subscription(api: Api) -> None:
    registered = api.post("/api/v1/subscriptions", {"subscriptionIds": [THIRD_SUBSCRIPTION_ID]})
    assert registered.status_code == 201, registered.text
    assert registered.json()["id"] == THIRD_SUBSCRIPTION_ID
    assert registered.json()["subscriptionId"] == THIRD_SUBSCRIPTION_ID
