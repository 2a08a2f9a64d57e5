"""Exceptions in the dashboard, in Chromium: accept a finding from the findings list (the form
comes prefilled), see it badged with its reason, owner and expiry (typed markup shown as text),
list and withdraw it on the Exceptions page, and the finding counts again."""

from __future__ import annotations

import re
from typing import Any

from tests.dashboard.service import MARKUP_TITLE, DashboardService


def test_accept_a_finding_see_it_badged_then_withdraw_it(
    signed_in: Any, service: DashboardService
) -> None:
    scan = service.scan(
        {"targetType": "synthetic", "name": "acceptable", "items": 2, "itemDelayMs": 0}
    )
    assert scan["status"] == "completed", scan
    scan_id = scan["id"]
    page = signed_in
    page.goto(f"{service.url}/#/scans/{scan_id}/findings")
    count = page.get_by_test_id("findings-count")
    count.get_by_text("2 of 2 findings").wait_for()

    page.get_by_role("link", name="Accept SYN-001 at items/item-000.md:1").click()
    page.get_by_role("heading", name="Accept findings").wait_for()
    fingerprint = page.get_by_label("Finding fingerprint").input_value()
    assert re.fullmatch(r"[0-9a-f]{32}", fingerprint)
    assert page.get_by_label("Only on target").input_value() == "acceptable"
    # Nothing typed yet: the form says what is missing before the service is asked.
    page.get_by_role("button", name="Accept", exact=True).click()
    assert "Required." in page.locator("#field-reason-error").inner_text()
    reason = "Compensating control " + MARKUP_TITLE
    page.get_by_label("Reason (required)").fill(reason)
    page.get_by_label("Owner (required)").fill("alice@example.com")
    page.get_by_role("button", name="Accept", exact=True).click()

    # Back on the findings, badged; the markup in the reason arrived as text.
    count.get_by_text("2 of 2 findings").wait_for()
    page.get_by_test_id("accepted-count").get_by_text("1 accepted").wait_for()
    note = page.locator(".accepted-note")
    assert note.count() == 1
    assert "alice@example.com" in note.inner_text() and MARKUP_TITLE in note.inner_text()
    assert page.evaluate("() => window.__injected") is None
    assert page.get_by_role("link", name=re.compile("Accept SYN-001")).count() == 1

    page.get_by_role("link", name="Exceptions").click()
    page.get_by_test_id("exception-counts").get_by_text("1 active, 0 expired").wait_for()
    row = page.get_by_role("row", name=re.compile(fingerprint))
    assert "alice@example.com" in row.inner_text() and "acceptable" in row.inner_text()
    row.get_by_role("button", name=re.compile("^Withdraw")).click()
    row.get_by_role("button", name=re.compile("^Withdraw 0")).click()
    page.get_by_text("No exceptions.").wait_for()

    page.goto(f"{service.url}/#/scans/{scan_id}/findings")
    count.get_by_text("2 of 2 findings").wait_for()
    assert page.locator(".accepted-note").count() == 0
    assert page.console.take() == []


def test_the_service_refusal_is_shown_next_to_its_field(
    signed_in: Any, service: DashboardService
) -> None:
    page = signed_in
    page.goto(f"{service.url}/#/exceptions/new?rule=SYN-001")
    page.get_by_label("Reason (required)").fill("known")
    page.get_by_label("Owner (required)").fill("bob")
    page.get_by_label("Resource pattern").fill("items/*")
    page.get_by_label("Finding fingerprint").fill("not-a-fingerprint")
    page.get_by_label("Rule id").fill("")
    page.get_by_role("button", name="Accept", exact=True).click()
    error = page.locator("#field-fingerprint-error")
    error.wait_for()
    assert "pattern" in error.inner_text().lower() or "match" in error.inner_text().lower()
    assert [e for e in page.console.take() if "422" not in e] == []
