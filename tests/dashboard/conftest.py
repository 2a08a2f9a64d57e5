"""One service and one browser for every dashboard test (they are the slow parts)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.dashboard.browser import DESKTOP, Console, chromium, sign_in
from tests.dashboard.service import DashboardService, dashboard_service
from tests.support.scan_api import API_KEY


@pytest.fixture(scope="package")
def service(azurite: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardService]:
    with dashboard_service(azurite, tmp_path_factory.mktemp("dashboard")) as running:
        yield running


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    with chromium() as running:
        yield running


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh tab (own sessionStorage) at desktop width; its console is in `page.console`."""
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    tab.console = Console().attach(tab)
    yield tab
    context.close()


@pytest.fixture
def signed_in(page: Any, service: DashboardService) -> Any:
    sign_in(page, service.url, API_KEY)
    return page
