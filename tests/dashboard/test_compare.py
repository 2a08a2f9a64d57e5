"""The compare view in a real browser against the real service: a repository rescanned after a
commit, a host whose OS and packages changed, a subscription a week later; each compared with
its previous scan (or a scan the user picks), as a person reads it."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from tests.dashboard.browser import PHONE, axe_violations
from tests.dashboard.service import DashboardService
from tests.support import git_repos as docs
from tests.support.azure_fakes.changes import changed_tenant
from tests.support.azure_fakes.dataset import planted_tenant
from tests.support.changing_host import BOOKWORM, TRIXIE, changing_host, report
from tests.support.sshd import public_key

MARKUP_TITLE = '<img src=x onerror="window.__injected=1">Release notes'
PACKAGES_BEFORE = {
    "bash": "5.2.15-2+b2",
    "libssl3": "3.0.11-1~deb12u2",
    "telnet": "0.17+2.4-2",
}
PACKAGES_AFTER = {"bash": "5.2.15-2+b2", "libssl3": "3.0.13-1~deb12u1", "jq": "1.6-2.1"}


def scan_now(page: Any, service: DashboardService, name: str) -> str:
    """Scan a registered repository from its row on the targets page; the finished scan's id."""
    page.goto(f"{service.url}/#/targets/repositories")
    page.get_by_role("button", name=f"Scan now: {name}").click()
    page.wait_for_url(re.compile(r"#/scans/[0-9A-Z]{26}$"))
    page.locator(".status-line .badge", has_text="completed").wait_for(timeout=60_000)
    return str(page.url.rsplit("/", 1)[1])


def shown_rows(page: Any) -> list[tuple[str, str, str]]:
    """(change, severity, rule) of every finding row the compare view shows."""
    rows = page.locator("table.compared-findings tbody tr")
    return [
        (
            row.locator("td").nth(0).inner_text().strip(),
            row.locator("td").nth(1).inner_text().strip(),
            row.locator("td").nth(2).inner_text().strip(),
        )
        for row in rows.all()
    ]


def fact_table(page: Any, group: str) -> str:
    table = page.get_by_test_id(f"facts-{group}")
    table.wait_for()
    return str(table.inner_text())


def check_the_page_as_everyone_reads_it(page: Any) -> list[str]:
    """axe-core's serious and critical violations and horizontal overflow, at desktop and
    phone width."""
    problems = [f"desktop: {v}" for v in axe_violations(page)]
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(200)
    problems += [f"phone: {v}" for v in axe_violations(page)]
    overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
    if overflow > 0:
        problems.append(f"phone: the page is {overflow}px wider than the screen")
    return problems


def test_commit_a_change_and_compare_with_the_previous_scan(
    signed_in: Any, service: DashboardService, tmp_path: Path
) -> None:
    page = signed_in
    repo = docs.GitRepo(tmp_path / "gxp-changing")
    # REQ-002 is a draft without stories: a gap the next commit closes.
    repo.write_artifacts(
        {
            **docs.clean_tree("001"),
            "reqs/REQ-002.md": docs.requirement("REQ-002", status="DRAFT", validation_status=None),
        }
    )
    before = repo.commit("GxP documents")
    body = {"id": "gxp-changing", "name": "Changing documents", "url": str(repo.path)}
    assert service.api("POST", "/api/v1/repositories", json=body).status_code == 201
    first = scan_now(page, service, "Changing documents")

    # The commit: REQ-002 approved and traced to the end; REQ-003 new, untraced, its title markup.
    repo.write_artifacts(docs.clean_tree("002"))
    repo.write("reqs/REQ-003.md", docs.requirement("REQ-003", title=MARKUP_TITLE))
    after = repo.commit("trace REQ-002, add REQ-003")
    second = scan_now(page, service, "Changing documents")
    expected = service.api("GET", f"/api/v1/scans/{second}/diff").json()
    counts = expected["findings"]["counts"]
    assert counts["new"] >= 1 and counts["resolved"] >= 1, counts

    # The scan's summary tells what changed and leads to the comparison.
    delta = page.get_by_test_id("delta")
    assert f"{counts['new']} new" in delta.inner_text()
    assert f"{counts['resolved']} resolved" in delta.inner_text()
    delta.get_by_role("link", name="Compare with the previous scan").click()
    page.wait_for_url(re.compile(rf"#/scans/{second}/compare$"))
    against = page.get_by_test_id("compare-against")
    against.wait_for()
    assert first in against.inner_text()
    assert page.get_by_role("link", name="Compare", exact=True).get_attribute("aria-current") == (
        "page"
    )

    # New and resolved findings with their severities, as the service counts them.
    stats = page.get_by_test_id("compare-counts").inner_text()
    for change in ("new", "resolved", "unchanged"):
        assert re.search(rf"{change}\s*{counts[change]}", stats, re.IGNORECASE), stats
    rows = shown_rows(page)
    want = [
        (change, f["severity"], f["ruleId"])
        for change in ("new", "resolved")
        for f in expected["findings"][change]
    ]
    assert sorted(rows) == sorted(want)
    table = page.locator("table.compared-findings").inner_text()
    assert "REQ-003" in table and "REQ-002" in table

    # Unchanged findings on demand; a severity filter; both in the address, kept on reload.
    page.get_by_role("checkbox", name=re.compile("^unchanged")).check()
    page.get_by_test_id("compare-shown").get_by_text(
        f"{sum(counts.values())} finding", exact=False
    ).wait_for()
    severity = expected["findings"]["new"][0]["severity"]
    page.get_by_role("checkbox", name=severity, exact=True).check()
    filtered = [r for r in shown_rows(page) if r[1] != severity]
    assert filtered == [] and "show=new%2Cresolved%2Cunchanged" in page.url
    assert f"severity={severity}" in page.url
    page.reload()
    page.get_by_test_id("compare-counts").wait_for()
    assert {r[1] for r in shown_rows(page)} == {severity}
    assert page.get_by_role("checkbox", name=re.compile("^unchanged")).is_checked()

    # Exactly what is shown, as CSV.
    shown = shown_rows(page)
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile("Export .* as CSV")).click()
    exported = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert sorted((r["change"], r["severity"], r["rule_id"]) for r in exported) == sorted(shown)

    # Facts of a repository: the commits, the artifacts added and changed, the links.
    assert page.get_by_test_id("compare-commit").inner_text() == (
        f"Commit {before[:12]} → {after[:12]}"
    )
    assert "trace REQ-002, add REQ-003" in fact_table(page, "commits")
    artifacts = fact_table(page, "artifacts")
    assert re.search(r"added\s+REQ-003", artifacts) and re.search(r"added\s+US-002-001", artifacts)
    assert re.search(r"Status: DRAFT → APPROVED", artifacts), artifacts
    assert re.search(r"added\s+US-002-001\s+parent\s+REQ-002", fact_table(page, "links"))
    # Scanned text that looks like markup is text: no element made from it, nothing run.
    assert MARKUP_TITLE in artifacts
    assert page.locator("main img").count() == 0
    assert page.evaluate("() => window.__injected") is None

    # The whole comparison as the service renders it.
    with page.expect_download() as download:
        page.get_by_role("group", name="Download the comparison").get_by_role(
            "button", name="CSV"
        ).click()
    assert download.value.suggested_filename == f"compare-{second}-previous.csv"
    service_rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert {r["section"] for r in service_rows} >= {"findings", "artifacts", "links", "commits"}

    # Another scan, picked by hand: the first one compared with the later one reads backwards.
    page.goto(f"{service.url}/#/scans/{first}/compare")
    page.get_by_test_id("compare-against").get_by_text("first completed scan").wait_for()
    page.get_by_label("Compare with").select_option(second)
    page.wait_for_url(re.compile(rf"against={second}"))
    page.get_by_test_id("compare-against").get_by_text(second).wait_for()
    backwards = {r[0] for r in shown_rows(page)}
    assert backwards == {"new", "resolved"}
    stats = page.get_by_test_id("compare-counts").inner_text()
    assert re.search(rf"new\s*{counts['resolved']}", stats, re.IGNORECASE), stats
    assert page.console.take() == []
    assert check_the_page_as_everyone_reads_it(page) == []


def test_a_host_whose_os_and_packages_changed(signed_in: Any, service: DashboardService) -> None:
    page = signed_in
    with changing_host([public_key(service.client_key)]) as server:
        report(server, BOOKWORM, PACKAGES_BEFORE)
        first = service.host_scan("full", sshd=server)
        report(server, TRIXIE, PACKAGES_AFTER)
        second = service.host_scan("full", sshd=server)
    assert first["status"] == second["status"] == "completed", (first, second)

    # A deep link straight to the comparison.
    page.goto(f"{service.url}/#/scans/{second['scanId']}/compare")
    page.get_by_test_id("compare-against").get_by_text(first["scanId"]).wait_for()
    system = fact_table(page, "system")
    assert "Debian GNU/Linux 12 (bookworm)" in system and "Debian GNU/Linux 13 (trixie)" in system
    packages = fact_table(page, "packages")
    assert re.search(r"added\s+jq\s+amd64\s+1\.6-2\.1", packages), packages
    assert re.search(r"removed\s+telnet\s+amd64\s+0\.17\+2\.4-2", packages), packages
    assert re.search(
        r"upgraded\s+libssl3\s+amd64\s+3\.0\.11-1~deb12u2\s+3\.0\.13-1~deb12u1", packages
    )
    assert "bash" not in packages
    assert (
        "3 packages before, 3 now: 1 added, 1 removed, 1 upgraded"
        in page.locator("section", has=page.get_by_test_id("facts-packages")).inner_text()
    )
    assert page.console.take() == []
    assert check_the_page_as_everyone_reads_it(page) == []


def test_a_subscription_a_week_later(signed_in: Any, service: DashboardService) -> None:
    page = signed_in
    first = service.subscription_scan()
    tenant, changes = changed_tenant()
    service.azure.use(tenant)
    try:
        second = service.subscription_scan()
    finally:
        service.azure.use(planted_tenant())
    assert first["status"] == second["status"] == "completed", (first, second)

    page.goto(f"{service.url}/#/scans/{second['scanId']}/compare")
    page.get_by_test_id("compare-against").get_by_text(first["scanId"]).wait_for()
    expected = service.api("GET", f"/api/v1/scans/{second['scanId']}/diff").json()["findings"]
    rows = shown_rows(page)
    assert sorted(rows) == sorted(
        (change, f["severity"], f["ruleId"])
        for change in ("new", "resolved")
        for f in expected[change]
    )
    assert {r[2] for r in rows} == {"ST-001", "ST-006"}
    resources = fact_table(page, "resources")
    assert re.search(r"added\s+stadded", resources) and changes.added in resources
    assert changes.removed in resources and "removed" in resources
    by_rule = fact_table(page, "findingsByRule")
    assert "ST-001" in by_rule and "ST-006" in by_rule
    assert "CIS " in fact_table(page, "findingsByCisControl")
    roles = fact_table(page, "privilegedRoles")
    assert re.search(r"added\s+carol", roles) and "Global Administrator" in roles
    assert changes.lost_admin in roles
    assert page.console.take() == []
    assert check_the_page_as_everyone_reads_it(page) == []


def test_what_cannot_be_compared_says_why(signed_in: Any, service: DashboardService) -> None:
    page = signed_in
    running = service.slow_scan("compare-running", items=50, delay_ms=1000)
    page.goto(f"{service.url}/#/scans/{running}/compare")
    page.get_by_text("Only completed scans can be compared").wait_for()
    service.api("POST", f"/api/v1/scans/{running}/cancel")

    # A quick scan after a full one: the packages were not collected, and the page says so.
    full = service.host_scan("full")
    quick = service.host_scan("quick")
    diff = f"/api/v1/scans/{quick['scanId']}/diff"
    why = service.api("GET", diff, params={"against": full["scanId"]}).json()
    reason = why["facts"]["notCompared"]["packages"]
    page.goto(f"{service.url}/#/scans/{quick['scanId']}/compare?against={full['scanId']}")
    not_compared = page.get_by_role("list", name="Not compared")
    not_compared.wait_for()
    assert f"Packages: not compared ({reason})" in not_compared.inner_text()

    # A scan the service will not compare with: its own words, in an alert.
    refused = service.api("GET", diff, params={"against": running}).json()["error"]["message"]
    page.goto(f"{service.url}/#/scans/{quick['scanId']}/compare?against={running}")
    assert refused in page.get_by_role("alert").inner_text()
    page.console.take()  # the refused request, logged by the browser
