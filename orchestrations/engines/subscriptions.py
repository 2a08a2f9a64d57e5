"""Wiring of the subscription engine: its settings, its OSV cache on Table Storage.

`create_engine(settings)` is what `SubscriptionKind.engine` builds. `create_osv_enricher`
gives other engines (host scans' package lists) the same cached OSV enrichment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from orchestrations.core.settings import AppSettings
from orchestrations.engines.wiring import load_settings
from orchestrations.state.osv_cache import OSV_CACHE_TABLE, TableOsvCache
from orchestrations.state.storage import get_storage
from scanner.engine import ScanEngine
from scanner.subscription.config import ScanConfig
from scanner.subscription.engine import SubscriptionEngine
from scanner.subscription.osv import Enrichment, OsvClient, enrich
from scanner.subscription.software import SoftwareRef

log = logging.getLogger(__name__)


class SubscriptionSettings(BaseSettings):
    """Settings of subscription scans (docs/settings.md). Credentials come from
    azure-identity's own settings: AZURE_CLIENT_ID (managed identity) in Azure,
    AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET (a service principal) elsewhere."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    azure_authority_host: str = "https://login.microsoftonline.com"
    arm_endpoint: str = "https://management.azure.com/"
    graph_endpoint: str = "https://graph.microsoft.com"
    osv_endpoint: str = "https://api.osv.dev"
    subscription_scan_concurrency: int = Field(4, ge=1, le=32)
    subscription_http_retries: int = Field(4, ge=0, le=10)
    subscription_http_retry_backoff_s: float = Field(0.8, ge=0, le=60)
    subscription_http_timeout_s: float = Field(60, ge=1, le=600)
    # Managed identity: on Azure Functions the platform sets IDENTITY_ENDPOINT; a standalone
    # host on an Azure VM opts in to the VM's IMDS with SUBSCRIPTION_SCAN_IMDS=true.
    identity_endpoint: str = Field("", validation_alias=AliasChoices("IDENTITY_ENDPOINT"))
    subscription_scan_imds: bool = False
    osv_enrichment: bool = True
    osv_cache_ttl_hours: float = Field(24, ge=0, le=24 * 90)

    @field_validator("azure_authority_host", "arm_endpoint", "graph_endpoint", "osv_endpoint")
    @classmethod
    def _https(cls, value: str) -> str:
        value = value.strip()
        if "://" not in value:
            value = "https://" + value  # AZURE_AUTHORITY_HOST may be a bare host name
        if not value.startswith("https://") or len(value) <= len("https://"):
            raise ValueError("endpoints must be https:// URLs")
        return value.rstrip("/")

    def scan_config(self) -> ScanConfig:
        return ScanConfig(
            authority_host=self.azure_authority_host,
            arm_endpoint=self.arm_endpoint,
            graph_endpoint=self.graph_endpoint,
            osv_endpoint=self.osv_endpoint,
            retries=self.subscription_http_retries,
            retry_backoff_s=self.subscription_http_retry_backoff_s,
            timeout_s=self.subscription_http_timeout_s,
            concurrency=self.subscription_scan_concurrency,
            managed_identity=bool(self.identity_endpoint) or self.subscription_scan_imds,
            osv_enabled=self.osv_enrichment,
            osv_cache_ttl_hours=self.osv_cache_ttl_hours,
        )


def _subscription_settings() -> SubscriptionSettings:
    return load_settings(SubscriptionSettings, "subscription scans")


def create_engine(settings: AppSettings) -> ScanEngine:
    own = _subscription_settings()

    def osv_cache() -> TableOsvCache:
        return TableOsvCache(get_storage(settings).table(OSV_CACHE_TABLE), own.osv_cache_ttl_hours)

    return SubscriptionEngine(own.scan_config(), osv_cache_factory=osv_cache)


def create_osv_enricher(
    settings: AppSettings,
) -> Callable[[Iterable[SoftwareRef | tuple[str, str, str]]], Enrichment]:
    """Cached OSV enrichment for any (ecosystem, name, version) list, e.g. a full host
    scan's packages: `create_osv_enricher(settings)([("Debian:12", "openssl", "3.0.11-1")])`.
    Returns an `Enrichment` (status "ok"/"error"/"disabled", vulnerabilities by
    `ecosystem|name|version`); it never raises for OSV failures."""
    own = _subscription_settings()
    config = own.scan_config()
    client = (
        OsvClient(config.osv_endpoint, config.retries, config.retry_backoff_s, config.timeout_s)
        if config.osv_enabled
        else None
    )
    cache = TableOsvCache(get_storage(settings).table(OSV_CACHE_TABLE), own.osv_cache_ttl_hours)

    def enrich_packages(packages: Iterable[SoftwareRef | tuple[str, str, str]]) -> Enrichment:
        return enrich(
            packages,
            client,
            cache,
            batch_size=config.osv_batch_size,
            max_details=config.osv_max_details,
            concurrency=config.concurrency,
        )

    return enrich_packages
