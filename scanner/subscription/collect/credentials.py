"""The credential every client of a scan shares: azure-identity's DefaultAzureCredential
(managed identity in Azure, an environment service principal locally and in tests)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

from scanner.subscription.config import ScanConfig

# Authorities MSAL knows; for any other (a sovereign deployment, a test server) instance
# discovery is skipped, or MSAL would ask login.microsoftonline.com to validate it.
KNOWN_AUTHORITY_HOSTS = frozenset(
    {"login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn"}
)


def build_credential(config: ScanConfig) -> Any:
    """A DefaultAzureCredential limited to what a service uses: environment service
    principal, workload identity, and managed identity where one exists (no developer-tool
    credentials, which would start `az`/`pwsh` processes on a server)."""
    from azure.identity import DefaultAzureCredential

    host = (urlsplit(config.authority_host).hostname or "").lower()
    return DefaultAzureCredential(
        authority=config.authority_host,
        disable_instance_discovery=host not in KNOWN_AUTHORITY_HOSTS,
        exclude_managed_identity_credential=not config.managed_identity,
        exclude_cli_credential=True,
        exclude_developer_cli_credential=True,
        exclude_powershell_credential=True,
        exclude_visual_studio_code_credential=True,
        exclude_shared_token_cache_credential=True,
        exclude_interactive_browser_credential=True,
        exclude_broker_credential=True,
    )


class AsyncCredential:
    """An async view of a sync credential for msgraph-sdk: token requests (rare: tokens are
    cached and refreshed before they expire) run in a thread, not on the event loop."""

    def __init__(self, credential: Any) -> None:
        self._credential = credential

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self._credential.get_token, *scopes, **kwargs)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> AsyncCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None
