"""A subscription target of several subscriptions in the browser: registered as a management
group through the target form, scanned with "Scan now", each subscription's findings (or why it
could not be read) on the scan page."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from tests.dashboard.browser import axe_violations
from tests.dashboard.service import DashboardService
from tests.support.azure_fakes import (
    MANAGEMENT_GROUP_ID,
    SUBSCRIPTION_ID,
    UNREADABLE_SUBSCRIPTION_ID,
    planted_tenant,
    with_more_subscriptions,
)

RULES = "ST-001, DEF-007, DEF-008, ID-001"


def test_register_a_management_group_scan_it_and_see_each_subscription(
    signed_in: Any, service: DashboardService
) -> None:
    page = signed_in
    # The tenant as the service starts with it (another test may have served another one).
    service.azure.use(with_more_subscriptions(planted_tenant()))
    page.goto(f"{service.url}/#/targets/subscriptions")
    page.get_by_role("link", name="Register a subscription").click()
    # Two scopes at once: refused in the browser, at the field.
    page.get_by_label("Subscription id", exact=True).fill(SUBSCRIPTION_ID)
    page.get_by_label("Management group id").fill(MANAGEMENT_GROUP_ID)
    page.get_by_label("Display name").fill("Contoso root")
    page.get_by_label("Rules").fill(RULES)
    page.get_by_role("button", name="Register").click()
    page.get_by_text("Fill exactly one of").wait_for()
    # One subscription id that is not a GUID in the list: named.
    page.get_by_label("Subscription id", exact=True).fill("")
    page.get_by_label("Management group id").fill("")
    page.get_by_label("Subscription ids").fill(f"{SUBSCRIPTION_ID}, not-a-guid")
    page.get_by_role("button", name="Register").click()
    page.get_by_text("Subscription ids: not-a-guid is not valid").wait_for()
    page.get_by_label("Subscription ids").fill("")
    page.get_by_label("Management group id").fill(MANAGEMENT_GROUP_ID)
    page.get_by_role("button", name="Register").click()

    row = page.get_by_role("row", name=re.compile("Contoso root"))
    assert f"mg-{MANAGEMENT_GROUP_ID}" in row.inner_text()
    row.get_by_role("button", name="Scan now: Contoso root").click()
    page.wait_for_url(re.compile(r"#/scans/[0-9A-Z]+$"))
    scan_id = page.url.rsplit("/", 1)[-1]
    page.locator(".status-line .badge", has_text="completed").wait_for(timeout=90_000)
    scan = service.api("GET", f"/api/v1/scans/{scan_id}").json()
    assert scan["targetId"] == f"mg-{MANAGEMENT_GROUP_ID}"
    results = scan["results"]

    table = page.get_by_test_id("subscriptions")
    caption = table.locator("caption").inner_text()
    assert f"under management group {MANAGEMENT_GROUP_ID}" in caption
    assert "3 scanned, 1 could not be read" in caption
    rows = {
        r.locator("th").inner_text().split("\n")[0]: r.inner_text()
        for r in table.locator("tbody tr").all()
    }
    assert set(rows) == {"Production", "Staging", "Sandbox", "Subscription 4"}
    assert "not readable" in rows["Subscription 4"]
    assert "AuthorizationFailed" in rows["Subscription 4"]
    by_sub = results["findingsBySubscription"]
    assert by_sub[SUBSCRIPTION_ID] > 0
    assert str(by_sub[SUBSCRIPTION_ID]) in rows["Production"]
    assert "scanned" in rows["Sandbox"] and "none" in rows["Sandbox"]  # no finding there
    assert UNREADABLE_SUBSCRIPTION_ID not in by_sub
    tenant = results["tenantFindings"]
    assert tenant > 1  # the planted tenant's members without MFA, once each
    page.get_by_test_id("tenant-findings").get_by_text(
        f"{tenant} findings about the tenant"
    ).wait_for()
    assert axe_violations(page) == []

    # A subscription's findings: the findings tab, filtered to that subscription.
    table.get_by_role("link", name=f"{by_sub[SUBSCRIPTION_ID]} findings in Production").click()
    page.wait_for_url(re.compile(r"/findings\?"))
    assert SUBSCRIPTION_ID in unquote(page.url)
    shown = page.locator("main table tbody tr")
    shown.first.wait_for()
    assert shown.count() == by_sub[SUBSCRIPTION_ID]
    assert all(SUBSCRIPTION_ID in text for text in shown.all_inner_texts())
    assert page.console.take() == []
