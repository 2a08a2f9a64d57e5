"""App settings, parsed once (pydantic-settings) and passed down. docs/settings.md lists them."""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,19}$")


class AppSettings(BaseSettings):
    """Settings the app reads from its environment (App Settings in Azure)."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    # Storage: a connection string locally; identity-based `AzureWebJobsStorage__*` in Azure.
    storage_connection: SecretStr = Field(
        SecretStr(""), validation_alias=AliasChoices("AzureWebJobsStorage")
    )
    storage_account_name: str = Field(
        "", validation_alias=AliasChoices("AzureWebJobsStorage__accountName")
    )
    storage_table_uri: str = Field(
        "", validation_alias=AliasChoices("AzureWebJobsStorage__tableServiceUri")
    )
    storage_blob_uri: str = Field(
        "", validation_alias=AliasChoices("AzureWebJobsStorage__blobServiceUri")
    )
    # Prefix of this service's tables and blob container, so deployments can share an account.
    scan_storage_prefix: str = "scan"
    # Comma-separated API keys accepted in X-API-Key. Empty: every protected call answers 401.
    scan_api_keys: SecretStr = SecretStr("")
    history_retention_days: float = Field(30, ge=0, le=3650)
    # Subscriptions scanned by POST /api/scans/trigger when the body names none.
    scan_subscription_ids: str = ""
    # Repository URLs may be local paths (tests, the standalone host); never in Azure.
    repo_allow_local_paths: bool = False
    # A lease whose scan has no orchestration yet is honoured this long before takeover.
    scan_lease_grace_seconds: int = Field(30, ge=1, le=3600)

    @field_validator("scan_storage_prefix")
    @classmethod
    def _valid_prefix(cls, value: str) -> str:
        if not _PREFIX.match(value):
            raise ValueError("SCAN_STORAGE_PREFIX: 1-20 letters and digits, starting with a letter")
        return value

    @property
    def api_keys(self) -> list[str]:
        return [k.strip() for k in self.scan_api_keys.get_secret_value().split(",") if k.strip()]

    @property
    def default_subscriptions(self) -> list[str]:
        return [s.strip().lower() for s in self.scan_subscription_ids.split(",") if s.strip()]


@lru_cache(maxsize=1)
def get_settings() -> AppSettings:
    return AppSettings()
