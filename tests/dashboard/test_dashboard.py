"""The dashboard in a real browser (Debian's Chromium through Playwright) against the real
service on the standalone host: what a person does, click by click, and what they must see."""

from __future__ import annotations

import csv
import io
import itertools
import json
import platform
import re
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.browser import DESKTOP, PHONE, Console, axe_violations, sign_in
from tests.dashboard.service import MARKUP_TITLE, SYNTHETIC_LIMIT, DashboardService
from tests.support.scan_api import API_KEY
from tests.support.sshd import LOGIN_USER


def progress_of(page: Any) -> int:
    return int(page.get_by_test_id("progress-value").first.inner_text().split()[0])


def watch_progress(page: Any, timeout: float = 60) -> list[int]:
    """Progress values the scan page shows, read every 100 ms until the scan has ended."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.append(progress_of(page))
        if page.locator(".status-line .badge").inner_text() in ("completed", "failed", "cancelled"):
            seen.append(progress_of(page))
            return seen
        page.wait_for_timeout(100)
    raise AssertionError(f"the scan did not end in {timeout}s; progress seen: {seen}")


@pytest.fixture(scope="module")
def repository_scan(service: DashboardService) -> dict[str, Any]:
    """A finished scan of the GxP repository (for the tests that only read one)."""
    service.register_repository("gxp-read")
    accepted = service.api("POST", "/api/v1/repositories/gxp-read/scan", json={}).json()
    scan = service.wait(accepted["scanId"])
    assert scan["status"] == "completed", scan
    return scan


def test_register_a_repository_scan_it_and_watch_progress_reach_100(
    signed_in: Any, service: DashboardService
) -> None:
    page = signed_in
    page.get_by_role("link", name="Targets").click()
    page.get_by_role("link", name="Register a repository").click()
    page.get_by_label("Name (required)").fill("Quality manual")
    page.get_by_label("Id").fill("quality-manual")
    page.get_by_label("Clone URL (required)").fill(str(service.repo.path))
    # A schedule that is not cron is refused with a message next to the field, before and
    # after the service sees it.
    page.get_by_label("Schedule (cron, UTC)").fill("every night")
    page.get_by_role("button", name="Register").click()
    assert "5 fields" in page.locator("#field-schedule-error").inner_text()
    page.get_by_label("Schedule (cron, UTC)").fill("0 61 * * *")
    page.get_by_role("button", name="Register").click()
    assert "cron expression" in page.locator("#field-schedule-error").inner_text()
    assert [e for e in page.console.take() if "422" not in e] == []  # the refusal, logged
    page.get_by_label("Schedule (cron, UTC)").fill("0 2 * * *")
    page.get_by_role("button", name="Register").click()

    row = page.get_by_role("row", name=re.compile("Quality manual"))
    assert "0 2 * * *" in row.inner_text()
    assert "not scanned" in row.inner_text()
    page.evaluate("() => { window.__noReload = true; }")
    row.get_by_role("button", name="Scan now: Quality manual").click()
    page.wait_for_url(re.compile(r"#/scans/[0-9A-Z]{26}$"))
    seen = watch_progress(page)

    assert page.evaluate("() => window.__noReload === true"), "the page was reloaded"
    assert seen[-1] == 100 and page.locator(".status-line .badge").inner_text() == "completed"
    assert seen == sorted(seen), f"progress went backwards: {seen}"
    assert seen[0] < 100, f"the page never showed the scan running: {seen}"
    scan_id = page.url.rsplit("/", 1)[1]
    assert service.api("GET", f"/api/v1/scans/{scan_id}").json()["status"] == "completed"
    # The targets list now shows the scan's outcome.
    page.get_by_role("link", name="Targets").click()
    row = page.get_by_role("row", name=re.compile("Quality manual"))
    assert "completed" in row.inner_text()
    assert page.console.take() == []


def test_findings_filter_by_severity_and_text_and_export_what_is_shown(
    signed_in: Any, service: DashboardService, repository_scan: dict[str, Any]
) -> None:
    scan_id = repository_scan["scanId"]
    everything = service.api("GET", f"/api/v1/scans/{scan_id}/findings").json()
    page = signed_in
    high = [f for f in everything["items"] if f["severity"] == "high"]
    assert 0 < len(high) < everything["total"]

    page.goto(f"{service.url}/#/scans/{scan_id}/findings")
    count = page.get_by_test_id("findings-count")
    count.get_by_text(f"{everything['total']} of {everything['total']} findings").wait_for()
    page.get_by_role("checkbox", name=re.compile("^high")).check()
    count.get_by_text(f"{len(high)} of {everything['total']} findings").wait_for()
    badges = page.locator("table.findings tbody .badge").all_inner_texts()
    assert badges == ["high"] * len(high)
    assert "severity=high" in page.url  # the filter is part of the address

    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile("Export .* as CSV")).click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert sorted(r["rule_id"] for r in rows) == sorted(f["ruleId"] for f in high)
    assert {r["severity"] for r in rows} == {"high"}

    # Text search narrows further; a reload keeps both filters.
    page.get_by_label("Search").fill("REQ-003")
    page.get_by_label("Search").press("Enter")
    expected = [f for f in high if "REQ-003" in f["message"]]
    assert expected
    count.get_by_text(f"{len(expected)} of {everything['total']} findings").wait_for()
    page.reload()
    count.get_by_text(f"{len(expected)} of {everything['total']} findings").wait_for()
    assert page.console.take() == []


def test_trace_matrix_shows_gaps_and_opens_a_document_at_its_line(
    signed_in: Any, service: DashboardService, repository_scan: dict[str, Any]
) -> None:
    scan_id = repository_scan["scanId"]
    signed_in.goto(f"{service.url}/#/scans/{scan_id}")
    page = signed_in
    page.get_by_role("link", name="Trace matrix").click()
    matrix = page.get_by_test_id("trace-matrix")
    matrix.wait_for()
    assert matrix.locator("td.gap", has_text="no story").count() == 1  # REQ-003
    assert matrix.locator("td.gap", has_text="no specification").count() == 1  # US-002-002
    assert matrix.locator("td.cell-bad", has_text="SPEC-001-002").count() == 1  # rejected
    assert matrix.locator("td.cell-ok", has_text="TC-001-001-001").count() == 1
    assert "TC-009-001-001" in page.locator("ul.untraced").inner_text()
    # A title that is markup shows as text: no element made from it, nothing run.
    assert MARKUP_TITLE in matrix.inner_text()
    assert matrix.locator("img").count() == 0
    assert page.evaluate("() => window.__injected") is None

    page.get_by_role("checkbox", name="Only requirements with gaps").check()
    page.get_by_label("Find an artifact").fill("REQ-002")
    page.get_by_label("Find an artifact").press("Enter")
    assert matrix.locator("tbody").count() == 1

    matrix.get_by_role("link", name="US-002-002").click()
    source = page.get_by_test_id("source")
    source.wait_for()
    cited = source.locator("li.cited")
    assert cited.inner_text().strip() == "gxp_id: US-002-002"
    assert "line=2" in page.url and "path=stories%2FUS-002-002.md" in page.url
    assert service.repo.head() in page.locator("main").inner_text()
    assert page.console.take() == []


def test_sarif_report_download(
    signed_in: Any, service: DashboardService, repository_scan: dict[str, Any]
) -> None:
    page = signed_in
    page.goto(f"{service.url}/#/scans/{repository_scan['scanId']}")
    with page.expect_download() as download:
        page.get_by_role("button", name="SARIF").click()
    assert download.value.suggested_filename == f"scan-{repository_scan['scanId']}.sarif"
    sarif = json.loads(Path(download.value.path()).read_text())
    assert sarif["version"] == "2.1.0"
    findings = repository_scan["counters"]["findings"]
    assert len(sarif["runs"][0]["results"]) == findings > 0
    assert page.console.take() == []


def test_host_scan_of_a_real_sshd_shows_its_facts(
    signed_in: Any, service: DashboardService
) -> None:
    page = signed_in
    page.goto(f"{service.url}/#/targets/hosts")
    page.get_by_role("link", name="Register a host").click()
    page.get_by_label("Host name or IP address (required)").fill("127.0.0.1")
    page.get_by_label("SSH port").fill(str(service.sshd.port))
    page.get_by_label("User name").fill(LOGIN_USER)
    page.get_by_label("Scan type").select_option("full")
    page.get_by_role("button", name="Register").click()
    page.get_by_role("button", name=f"Scan now: 127.0.0.1-{service.sshd.port}").click()
    page.wait_for_url(re.compile(r"#/scans/[0-9A-Z]{26}$"))
    page.locator(".status-line .badge", has_text="completed").wait_for(timeout=60_000)
    page.get_by_role("link", name="Host facts").click()
    facts = page.get_by_test_id("host-facts")
    facts.wait_for()
    text = facts.inner_text()
    # The sshd runs on this machine: its facts are this machine's.
    assert socket.gethostname() in text
    assert platform.release() in text
    assert "full" in text
    assert page.locator("section", has_text="Disks").locator("meter").count() >= 1
    assert page.locator("section", has_text="Top processes").locator("tbody tr").count() >= 1
    assert "lo" in page.locator("section", has_text="Network interfaces").inner_text()
    assert page.console.take() == []


def open_running_scan(page: Any, service: DashboardService, name: str) -> str:
    scan_id = service.slow_scan(name, items=100, delay_ms=2000)
    page.goto(f"{service.url}/#/scans/{scan_id}")
    page.locator(".status-line .badge", has_text="running").wait_for()
    return scan_id


def test_cancel_ends_a_slow_scan_cancelled_and_polling_stops(
    signed_in: Any, service: DashboardService
) -> None:
    page = signed_in
    scan_id = open_running_scan(page, service, "cancel-me")
    status_calls: list[float] = []
    page.on(
        "request",
        lambda r: (
            status_calls.append(time.monotonic())
            if r.url.endswith(f"/api/v1/scans/{scan_id}")
            else None
        ),
    )
    page.get_by_role("button", name="Cancel scan").click()
    page.locator(".status-line .badge", has_text="cancelled").wait_for()
    assert service.api("GET", f"/api/v1/scans/{scan_id}").json()["status"] == "cancelled"
    assert page.get_by_role("button", name="Cancel scan").count() == 0
    ended = time.monotonic()
    page.wait_for_timeout(4000)
    assert [t for t in status_calls if t > ended + 0.5] == [], "still polling an ended scan"
    assert page.console.take() == []


def test_polling_backs_off_while_the_service_fails(
    signed_in: Any, service: DashboardService
) -> None:
    scan_id = open_running_scan(signed_in, service, "backoff")
    calls: list[float] = []
    page = signed_in

    def unavailable(route: Any) -> None:
        calls.append(time.monotonic())
        route.fulfill(status=503, content_type="application/json", body='{"error": {}}')

    page.route(f"**/api/v1/scans/{scan_id}", unavailable)
    page.wait_for_timeout(6000)
    page.unroute(f"**/api/v1/scans/{scan_id}")
    # Polling every 1.5 s would make 4 calls in 6 s; backing off (3 s, then 6 s) makes 2.
    assert 1 <= len(calls) <= 2, calls
    assert all(b - a >= 2.5 for a, b in itertools.pairwise(calls)), calls
    assert page.get_by_role("alert").count() >= 1  # the failure is shown, not hidden
    page.console.take()  # the refused requests are logged by the browser, as they should be
    service.api("POST", f"/api/v1/scans/{scan_id}/cancel")


def test_a_queued_scan_shows_its_place_and_starts_when_a_place_comes_free(
    signed_in: Any, service: DashboardService
) -> None:
    page = signed_in
    started: list[str] = []
    try:
        # Slow scans fill the places; the next one waits.
        for index in range(SYNTHETIC_LIMIT):
            started.append(service.slow_scan(f"place-{index}", items=100, delay_ms=2000))
        body = {"targetType": "synthetic", "name": "waits", "items": 2, "itemDelayMs": 50}
        accepted = service.api("POST", "/api/v1/scans", json=body).json()
        assert accepted["status"] == "queued", accepted
        waiting = accepted["scanId"]
        started.append(waiting)
        assert service.api("GET", f"/api/v1/scans/{waiting}").json()["queuePosition"] == 1

        page.goto(f"{service.url}/#/scans?status=queued")
        row = page.locator("tr", has=page.locator(f"text={waiting}"))
        row.locator(".badge", has_text="queued · 1st in line").wait_for()
        page.goto(f"{service.url}/#/scans/{waiting}")
        page.locator(".status-line .badge", has_text="queued · 1st in line").wait_for()
        assert "it starts next" in page.get_by_test_id("queue-note").inner_text()
        assert page.get_by_role("button", name="Cancel scan").count() == 1

        # A place comes free: the page, still polling, shows the scan run and end.
        service.api("POST", f"/api/v1/scans/{started[0]}/cancel")
        page.locator(".status-line .badge", has_text="completed").wait_for(timeout=30_000)
        assert page.get_by_test_id("queue-note").count() == 0
        assert page.console.take() == []
    finally:
        for scan_id in started:
            service.api("POST", f"/api/v1/scans/{scan_id}/cancel")


def test_a_wrong_key_brings_the_sign_in_back(page: Any, service: DashboardService) -> None:
    page.goto(service.url + "/")
    page.get_by_label("API key").fill("not-the-key")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").get_by_text("did not accept the API key").wait_for()
    assert page.get_by_label("API key").is_visible()
    assert page.evaluate("() => sessionStorage.length") == 0
    # The refused calls are the only console errors (the browser logs each 401).
    assert all("401" in e for e in page.console.take())
    # A key that stops working while someone is signed in brings the form back too.
    sign_in(page, service.url, API_KEY)
    page.evaluate("() => sessionStorage.setItem('scan-dashboard.api-key', 'revoked')")
    page.get_by_role("link", name="Scans", exact=True).click()
    page.get_by_label("API key").wait_for()
    assert all("401" in e for e in page.console.take())


def test_every_page_has_no_console_errors_and_no_serious_accessibility_violations(
    browser: Any, service: DashboardService, repository_scan: dict[str, Any]
) -> None:
    host = service.host_scan("quick")
    subscription = service.subscription_scan()
    assert subscription["status"] == "completed", subscription
    repo = repository_scan["scanId"]
    pages = [
        "#/",
        "#/targets/repositories",
        "#/targets/hosts",
        "#/targets/subscriptions",
        "#/targets/repositories/new",
        "#/targets/repositories/gxp-read/edit",
        "#/scans",
        "#/scans?kind=repository&status=completed",
        "#/exceptions",
        "#/exceptions/new",
        f"#/scans/{repo}",
        f"#/scans/{repo}/findings",
        f"#/scans/{repo}/trace",
        f"#/scans/{repo}/source?path=reqs/REQ-001.md&line=2",
        f"#/scans/{host['scanId']}",
        f"#/scans/{host['scanId']}/facts",
        f"#/scans/{subscription['scanId']}/services",
        f"#/scans/{subscription['scanId']}/findings",
    ]
    problems: list[str] = []
    for size in (DESKTOP, PHONE):
        context = browser.new_context(viewport=size)
        page = context.new_page()
        console = Console().attach(page)
        page.goto(service.url + "/")
        problems += [f"sign-in @{size['width']}: {v}" for v in axe_violations(page)]
        sign_in(page, service.url, API_KEY)
        for fragment in pages:
            page.goto(f"{service.url}/{fragment}")
            page.wait_for_load_state("networkidle")
            page.locator("main h1").first.wait_for()
            alerts = page.locator("main [role=alert]")
            assert alerts.count() == 0, (fragment, alerts.all_inner_texts())
            where = f"{fragment} @{size['width']}"
            problems += [f"{where}: {e}" for e in console.take()]
            problems += [f"{where}: {v}" for v in axe_violations(page)]
            # Nothing wider than the screen but the tables' own scrolling boxes.
            overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
            if overflow > 0:
                problems.append(f"{where}: the page is {overflow}px wider than the screen")
        context.close()
    assert problems == []


def test_edit_a_schedule_then_delete_the_target(signed_in: Any, service: DashboardService) -> None:
    page = signed_in
    service.register_repository("short-lived")
    page.goto(f"{service.url}/#/targets/repositories")
    row = page.get_by_role("row", name=re.compile("short-lived"))
    row.get_by_role("link", name="Edit GxP documents").click()
    assert page.get_by_label("Id").is_disabled()  # an id never changes
    page.get_by_label("Schedule (cron, UTC)").fill("0 0 6 * * 1-5")
    page.get_by_role("button", name="Save").click()
    row = page.get_by_role("row", name=re.compile("short-lived"))
    assert "0 0 6 * * 1-5" in row.inner_text()
    target = service.api("GET", "/api/v1/repositories/short-lived").json()
    assert target["schedule"] == "0 0 6 * * 1-5"

    row.get_by_role("button", name="Delete GxP documents").click()
    row.get_by_role("button", name="Delete GxP documents").click()  # asked once more
    row.wait_for(state="detached")
    assert service.api("GET", "/api/v1/repositories/short-lived").status_code == 404
    assert page.console.take() == []


def test_keyboard_skip_link_and_focus_order(signed_in: Any, service: DashboardService) -> None:
    page = signed_in
    page.goto(f"{service.url}/#/scans")
    page.get_by_role("heading", name="Scans").wait_for()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "filter-kind"
