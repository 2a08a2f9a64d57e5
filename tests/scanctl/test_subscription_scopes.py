"""scanctl and subscription targets of several subscriptions: registering a list (repeated
--subscription) or a management group, scanning them as one scan, by their scope or by a
registered target's id, and the usage errors of mixing scopes."""

from __future__ import annotations

from tests.scanctl.conftest import valid_output
from tests.scanctl.test_commands import assert_one_line_error
from tests.support.azure_fakes import (
    MANAGEMENT_GROUP_ID,
    SECOND_SUBSCRIPTION_ID,
    SUBSCRIPTION_ID,
    THIRD_SUBSCRIPTION_ID,
    UNREADABLE_SUBSCRIPTION_ID,
)
from tests.support.cli_service import Service


def test_register_several_subscriptions_and_a_group_then_scan_them(service: Service) -> None:
    added = service.run(
        *f"targets add subscription --subscription {SUBSCRIPTION_ID}".split(),
        *f"--subscription {SECOND_SUBSCRIPTION_ID}".split(),
        *f"--subscription {UNREADABLE_SUBSCRIPTION_ID}".split(),
        *["--name", "Contoso", "--rules", "ST-001,DEF-008", "-o", "json"],
    )
    assert added.returncode == 0, added.stderr
    listed = valid_output(added.stdout)["targets"][0]
    assert listed["id"].startswith("subscriptions-")
    assert listed["settings"]["subscriptionIds"] == [
        SUBSCRIPTION_ID,
        SECOND_SUBSCRIPTION_ID,
        UNREADABLE_SUBSCRIPTION_ID,
    ]
    group = service.json(
        "targets", "add", "subscription", "--management-group", MANAGEMENT_GROUP_ID
    )["targets"][0]
    assert group["id"] == f"mg-{MANAGEMENT_GROUP_ID}"
    assert group["settings"]["managementGroupId"] == MANAGEMENT_GROUP_ID

    # A registered target by its id: one scan of its subscriptions, with its rules.
    done = service.run("scan", "subscription", listed["id"], "--wait", "-o", "json")
    assert done.returncode == 0, done.stderr
    scan = valid_output(done.stdout)["scans"][0]
    assert scan["targetId"] == listed["id"] and scan["status"] == "completed"
    results = scan["results"]
    assert set(results["findingsBySubscription"]) == {SUBSCRIPTION_ID, SECOND_SUBSCRIPTION_ID}
    assert all(n > 0 for n in results["findingsBySubscription"].values())
    assert list(results["subscriptionsUnreadable"]) == [UNREADABLE_SUBSCRIPTION_ID]

    # A management group, named on the command line: one scan of every subscription in it.
    group_scan = service.run(
        *f"scan subscription --management-group {MANAGEMENT_GROUP_ID}".split(),
        *["--rules", "DEF-008", "--wait", "--fail-on", "medium", "-o", "json"],
    )
    assert group_scan.returncode == 1, group_scan.stderr  # DEF-008 findings are medium
    scanned = valid_output(group_scan.stdout)["scans"][0]
    assert scanned["targetId"] == group["id"]
    assert scanned["results"]["findingsBySubscription"][THIRD_SUBSCRIPTION_ID] == 0
    assert scanned["results"]["subscriptionsScanned"] == 3


def test_mixing_scopes_is_a_usage_error(service: Service) -> None:
    both = service.run(
        "targets", "add", "subscription", SUBSCRIPTION_ID, "--management-group", "g1"
    )
    assert_one_line_error(both, 2, "--management-group")
    none = service.run("targets", "add", "subscription", "--name", "nothing")
    assert_one_line_error(none, 2, "--subscription")
    mixed = service.run(
        "scan", "subscription", SUBSCRIPTION_ID, "--subscription", SECOND_SUBSCRIPTION_ID
    )
    assert_one_line_error(mixed, 2, "one scan")
    bad = service.run(
        "scan", "subscription", "--subscription", SUBSCRIPTION_ID, "--subscription", "nope"
    )
    assert_one_line_error(bad, 2, "subscriptionIds")
    unknown = service.run("scan", "subscription", "mg-not-registered")
    assert_one_line_error(unknown, 2, "mg-not-registered")
