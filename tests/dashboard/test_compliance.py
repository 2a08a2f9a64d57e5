"""The CIS Azure v3.0.0 view of a subscription scan in a real browser: controls by section with
their status, a control opened to its rules and resources, on to the findings, the status
filter in the address."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.dashboard.browser import DESKTOP, PHONE, Console, axe_violations, sign_in
from tests.dashboard.service import DashboardService
from tests.support.scan_api import API_KEY


@pytest.fixture(scope="module")
def subscription_scan(service: DashboardService) -> dict[str, Any]:
    scan = service.subscription_scan()
    assert scan["status"] == "completed", scan
    return scan


def cis(service: DashboardService, scan_id: str) -> dict[str, Any]:
    params = {"format": "json", "framework": "cis-azure"}
    answer = service.api("GET", f"/api/v1/scans/{scan_id}/report", params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_controls_by_section_open_to_their_rules_and_lead_to_the_findings(
    signed_in: Any, service: DashboardService, subscription_scan: dict[str, Any]
) -> None:
    scan_id = subscription_scan["scanId"]
    document = cis(service, scan_id)
    totals = document["totals"]
    page = signed_in
    page.goto(f"{service.url}/#/scans/{scan_id}/services")
    page.get_by_role("link", name="Every control with its status").click()
    page.get_by_test_id("controls-count").wait_for()
    page.goto(f"{service.url}/#/scans/{scan_id}")
    page.get_by_role("link", name="CIS Azure v3.0.0").click()
    page.get_by_test_id("controls-count").get_by_text("159 of 159 controls").wait_for()
    assert page.url.endswith(f"/scans/{scan_id}/cis")
    assert page.get_by_role("heading", name="2 Identity").is_visible()
    assert page.get_by_role("heading", name="3.1.3 Defender plan: servers").is_visible()
    for status, key in (("fail", "fail"), ("pass", "pass"), ("not-checked", "notChecked")):
        assert page.get_by_test_id(f"total-{status}").inner_text() == f"({totals[key]})"

    # A failing control opens to its rule, what it evaluated and the resources it found.
    expected = next(c for c in document["controls"] if c["id"] == "2.1.2")
    rule = expected["rules"][0]
    control = page.locator('li[data-control="2.1.2"]')
    assert control.locator(".badge.control-fail").inner_text() == "fail"
    control.locator("summary").click()
    rule_line = control.locator("li.control-rule").first
    rule_line.get_by_text(f"evaluated {rule['evaluated']}").wait_for()
    names = control.locator("ul.resources > li > span").all_inner_texts()
    assert sorted(names) == sorted(r["name"] for r in rule["resources"])
    # A control no rule checks says why.
    manual = page.locator('li[data-control="2.5"]')
    manual.locator("summary").click()
    manual.get_by_text("a manual recommendation: no rule checks it").wait_for()

    # On to the rule's findings.
    control.get_by_role("link", name="Show in findings").click()
    page.get_by_test_id("findings-count").get_by_text(
        re.compile(rf"^{rule['findings']} of \d+ findings$")
    ).wait_for()
    assert f"/scans/{scan_id}/findings?q={rule['ruleId']}" in page.url
    assert page.console.take() == []


def test_the_status_filter_is_part_of_the_address(
    signed_in: Any, service: DashboardService, subscription_scan: dict[str, Any]
) -> None:
    scan_id = subscription_scan["scanId"]
    totals = cis(service, scan_id)["totals"]
    page = signed_in
    page.goto(f"{service.url}/#/scans/{scan_id}/cis")
    count = page.get_by_test_id("controls-count")
    count.get_by_text("159 of 159 controls").wait_for()
    page.get_by_role("checkbox", name=re.compile("^pass")).check()
    count.get_by_text(f"{totals['pass']} of 159 controls").wait_for()
    assert "status=pass" in page.url
    badges = set(page.locator("li.control summary .badge").all_inner_texts())
    assert badges == {"pass"}
    page.reload()
    count.get_by_text(f"{totals['pass']} of 159 controls").wait_for()
    page.get_by_role("checkbox", name=re.compile("^fail")).check()
    count.get_by_text(f"{totals['pass'] + totals['fail']} of 159 controls").wait_for()
    assert page.console.take() == []


def test_the_view_is_accessible_at_both_widths(
    browser: Any, service: DashboardService, subscription_scan: dict[str, Any]
) -> None:
    problems: list[str] = []
    for size in (DESKTOP, PHONE):
        context = browser.new_context(viewport=size)
        page = context.new_page()
        console = Console().attach(page)
        sign_in(page, service.url, API_KEY)
        page.goto(f"{service.url}/#/scans/{subscription_scan['scanId']}/cis")
        page.get_by_test_id("controls-count").wait_for()
        page.locator('li[data-control="4.1"] summary').click()
        where = f"@{size['width']}"
        problems += [f"{where}: {e}" for e in console.take()]
        problems += [f"{where}: {v}" for v in axe_violations(page)]
        overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
        if overflow > 0:
            problems.append(f"{where}: the page is {overflow}px wider than the screen")
        context.close()
    assert problems == []
