"""`python -m tests.dashboard.screenshots DIR` (`make screenshots`): PNGs of every dashboard
page at desktop (1280 px) and phone (390 px) width, against a service with real scans of a Git
repository, a host (a local sshd) and a subscription (fake Azure over TLS)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from standalone.azurite import Azurite
from tests.dashboard.browser import DESKTOP, PHONE, Console, chromium, save_path, sign_in
from tests.dashboard.service import DashboardService, dashboard_service
from tests.support import git_repos as docs
from tests.support.azure_fakes.changes import changed_tenant
from tests.support.azure_fakes.dataset import planted_tenant
from tests.support.scan_api import API_KEY


def populate(service: DashboardService) -> dict[str, str]:
    """Scans of every kind; returns the pages worth a picture, by name."""
    service.register_repository()
    accepted = service.api("POST", "/api/v1/repositories/gxp-docs/scan", json={}).json()
    repository = service.wait(accepted["scanId"])
    # A commit, then a rescan: what changed since the first scan.
    service.repo.write_artifacts(docs.clean_tree("003"))
    service.repo.write("reqs/REQ-004.md", docs.requirement("REQ-004"))
    service.repo.commit("trace REQ-003, add REQ-004")
    rescanned = service.api("POST", "/api/v1/repositories/gxp-docs/scan", json={}).json()
    rescan = service.wait(rescanned["scanId"])
    service.host_scan("full")
    host = service.host_scan("full")
    subscription = service.subscription_scan()
    service.azure.use(changed_tenant()[0])
    try:
        week_later = service.subscription_scan()
    finally:
        service.azure.use(planted_tenant())
    running = service.slow_scan("long-running", items=200, delay_ms=2000)
    first_document = "reqs/REQ-001.md"
    return {
        "overview": "#/",
        "targets": "#/targets/repositories",
        "target-new": "#/targets/repositories/new",
        "target-edit": "#/targets/repositories/gxp-docs/edit",
        "scans": "#/scans",
        "exceptions": "#/exceptions",
        "exception-new": "#/exceptions/new",
        "scan-repository": f"#/scans/{repository['scanId']}",
        "findings": f"#/scans/{repository['scanId']}/findings",
        "trace-matrix": f"#/scans/{repository['scanId']}/trace",
        "source": f"#/scans/{repository['scanId']}/source?path={first_document}&line=2",
        "host-facts": f"#/scans/{host['scanId']}/facts",
        "subscription": f"#/scans/{subscription['scanId']}/services",
        "subscription-findings": f"#/scans/{subscription['scanId']}/findings?severity=high",
        "subscription-cis": f"#/scans/{subscription['scanId']}/cis?status=fail",
        "scan-running": f"#/scans/{running}",
        "compare-repository": f"#/scans/{rescan['scanId']}/compare",
        "compare-host": f"#/scans/{host['scanId']}/compare",
        "compare-subscription": f"#/scans/{week_later['scanId']}/compare",
    }


def shoot(service: DashboardService, pages: dict[str, str], out: Path) -> list[str]:
    problems: list[str] = []
    with chromium() as browser:
        for size in (DESKTOP, PHONE):
            context = browser.new_context(viewport=size)
            page = context.new_page()
            console = Console().attach(page)
            page.goto(service.url + "/")
            page.get_by_label("API key").wait_for()
            page.screenshot(path=save_path(out, "sign-in", size), full_page=True)
            sign_in(page, service.url, API_KEY)
            for name, fragment in pages.items():
                page.goto(service.url + "/" + fragment)
                page.wait_for_load_state("networkidle")
                # Nothing still loading (a page reached by a hash change may show the last one's).
                page.wait_for_function(
                    "() => !document.querySelector('main [aria-live=polite].muted')", timeout=30_000
                )
                page.wait_for_timeout(300)
                page.screenshot(path=save_path(out, name, size), full_page=True)
                problems += [f"{name} @{size['width']}: {e}" for e in console.take()]
            context.close()
    return problems


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "screenshots").resolve()
    with tempfile.TemporaryDirectory(prefix="dashboard-shots-") as work:
        emulator = Azurite(Path(work) / "azurite")
        connection = emulator.start()
        try:
            with dashboard_service(connection, Path(work)) as service:
                problems = shoot(service, populate(service), out)
        finally:
            emulator.stop()
    for problem in problems:
        sys.stderr.write(problem + "\n")
    sys.stdout.write(f"screenshots in {out}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
