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
    # An SQLite database holding all state instead of Azure Storage (the standalone host sets
    # it to a file in its data folder when AzureWebJobsStorage is empty). Never set in Azure.
    embedded_store_path: str = ""
    # Prefix of this service's tables and blob container, so deployments can share an account.
    scan_storage_prefix: str = "scan"
    # Scoped API keys for X-API-Key: comma-separated `name:role:key` entries (docs/identity.md).
    scan_api_keys: SecretStr = SecretStr("")
    # An app setting or Key Vault secret holding more such entries, re-read every few minutes.
    scan_api_keys_secret: str = ""
    key_vault_url: str = ""
    # Entra ID sign-in: access tokens of this tenant for this API (comma-separated audiences:
    # the app registration's client id and/or application id URI). Empty tenant: keys only.
    entra_tenant_id: str = ""
    entra_api_audience: str = ""
    entra_authority_host: str = Field(
        "https://login.microsoftonline.com",
        validation_alias=AliasChoices("ENTRA_AUTHORITY_HOST", "AZURE_AUTHORITY_HOST"),
    )
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
    def entra_audiences(self) -> tuple[str, ...]:
        return tuple(a.strip() for a in self.entra_api_audience.split(",") if a.strip())

    @property
    def default_subscriptions(self) -> list[str]:
        return [s.strip().lower() for s in self.scan_subscription_ids.split(",") if s.strip()]


@lru_cache(maxsize=1)
def get_settings() -> AppSettings:
    return AppSettings()
