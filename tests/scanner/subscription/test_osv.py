"""CVE enrichment: OSV batch queries (and their paging) over TLS with the real azure-core
client, the Table Storage cache on Azurite, and the hook other engines (host package lists)
use."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from orchestrations.core.settings import AppSettings
from orchestrations.engines.subscriptions import create_osv_enricher
from orchestrations.state.osv_cache import TableOsvCache
from orchestrations.state.storage import get_storage
from scanner.subscription.osv import OsvClient, enrich
from scanner.subscription.software import SoftwareRef
from tests.support.azure_fakes import FakeAzure, Tenant
from tests.support.azure_fakes.dataset import Builder


class DictCache:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        return {k: self.values[k] for k in keys if k in self.values}

    def put_many(self, values: Mapping[str, Any]) -> None:
        self.values.update(values)


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAzure]:
    tenant = Tenant(osv_page_size=2)
    b = Builder(tenant)
    for n in range(5):
        b.vulnerability(("Go", "k8s.io/kubernetes", "1.27.3"), f"GHSA-k8s-{n}", f"CVE-2023-{n}")
    b.vulnerability(("Debian:12", "openssl", "3.0.11-1~deb12u2"), "DSA-5532-1", "CVE-2023-5363")
    b.vulnerability(("PyPI", "jinja2", "2.10"), "GHSA-jinja-1", "CVE-2019-10906")
    fake = FakeAzure(tenant, tmp_path / "fake")
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    yield fake
    fake.stop()


def client(fake: FakeAzure) -> OsvClient:
    return OsvClient(fake.osv.url, retries=1, backoff_s=0.05)


def test_batches_grow_with_distinct_software_not_with_resources(fake: FakeAzure) -> None:
    refs = [("PyPI", f"package-{n}", "1.0") for n in range(2500)]
    refs += [("PyPI", "jinja2", "2.10")] * 100  # the same software many times: one query
    result = enrich(refs, client(fake), batch_size=1000)
    assert result.status == "ok" and result.queried == 2501
    posts = [p for p in fake.requests("osv") if p[1] == "/v1/querybatch"]
    assert len(posts) == 3  # 2501 distinct queries, 1000 per request
    assert [v["id"] for v in result.by_software["PyPI|jinja2|2.10"]] == ["GHSA-jinja-1"]
    assert result.by_software["PyPI|jinja2|2.10"][0]["aliases"] == ["CVE-2019-10906"]


def test_osv_result_pages_are_followed(fake: FakeAzure) -> None:
    result = enrich([SoftwareRef("Go", "k8s.io/kubernetes", "1.27.3")], client(fake))
    ids = [v["id"] for v in result.by_software["Go|k8s.io/kubernetes|1.27.3"]]
    assert ids == [f"GHSA-k8s-{n}" for n in range(5)]  # 3 pages of 2
    assert [p for p in fake.requests("osv") if p[1] == "/v1/querybatch"].__len__() == 3


def test_cached_answers_need_no_request(fake: FakeAzure) -> None:
    cache = DictCache()
    refs = [("Go", "k8s.io/kubernetes", "1.27.3"), ("PyPI", "jinja2", "2.10")]
    first = enrich(refs, client(fake), cache)
    fake.reset_counts()
    second = enrich(refs, client(fake), cache)
    assert fake.counts()["osv"] == 0
    assert second.from_cache == 2 and second.by_software == first.by_software


def test_failures_are_reported_not_raised(fake: FakeAzure) -> None:
    fake.fail("osv", "/v1/querybatch", 500)
    result = enrich([("PyPI", "jinja2", "2.10")], client(fake))
    assert result.status == "error"
    assert "OSV answered HTTP 500 to POST /v1/querybatch after 2 attempts" in str(result.error)
    fake.clear_faults()
    fake.fail("osv", "/v1/querybatch", 429, times=1, retry_after="1")
    assert enrich([("PyPI", "jinja2", "2.10")], client(fake)).status == "ok"  # waited, retried
    disabled = enrich([("PyPI", "jinja2", "2.10")], None)
    assert disabled.status == "disabled"


def test_table_cache_round_trip_and_expiry(azurite: str) -> None:
    settings = AppSettings(
        AzureWebJobsStorage=azurite, scan_storage_prefix="o" + uuid.uuid4().hex[:8]
    )
    table = get_storage(settings).table("OsvCache")
    cache = TableOsvCache(table, ttl_hours=1)
    value = [{"id": "GHSA-1", "aliases": ["CVE-1"]}]
    cache.put_many({"q:Go|x|1.0": ["GHSA-1"], "v:GHSA-1": value[0], "q:big": ["x" * 40_000]})
    got = cache.get_many(["q:Go|x|1.0", "v:GHSA-1", "q:missing", "q:big"])
    assert got == {"q:Go|x|1.0": ["GHSA-1"], "v:GHSA-1": value[0]}  # too large: not cached
    assert TableOsvCache(table, ttl_hours=1e-9).get_many(["q:Go|x|1.0"]) == {}  # expired
    assert TableOsvCache(table, ttl_hours=0).get_many(["q:Go|x|1.0"]) == {}  # disabled


def test_host_package_lists_use_the_same_cached_enrichment(azurite: str, fake: FakeAzure) -> None:
    settings = AppSettings(
        AzureWebJobsStorage=azurite, scan_storage_prefix="h" + uuid.uuid4().hex[:8]
    )
    enrich_packages = create_osv_enricher(settings)
    packages = [("Debian:12", "openssl", "3.0.11-1~deb12u2"), ("Debian:12", "bash", "5.2.15-2+b2")]
    result = enrich_packages(packages)
    assert result.status == "ok"
    assert [v["id"] for v in result.by_software["Debian:12|openssl|3.0.11-1~deb12u2"]] == [
        "DSA-5532-1"
    ]
    assert result.by_software["Debian:12|bash|5.2.15-2+b2"] == []
    fake.reset_counts()
    again = create_osv_enricher(settings)(packages)
    assert again.from_cache == 2 and fake.counts()["osv"] == 0  # from the OsvCache table
