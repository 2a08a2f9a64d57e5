"""A fake Key Vault (secrets, data plane) over TLS on loopback, for the real SecretClient.

It answers the client's first, unauthenticated request with the bearer challenge Key Vault
sends (authority and resource), then accepts only tokens the fake Entra ID of a `FakeAzure`
issued for that resource. Secret answers have the shape of the REST API's published example
(azure-rest-api-specs, keyvault data plane, examples/GetSecret.json; MIT licence).

    with FakeAzure(planted_tenant(), tmp) as azure, FakeKeyVault(azure) as vault:
        vault.secrets["scan-api-keys"] = "ci:operator:..."
        env = {**azure.env(), "KEY_VAULT_URL": vault.url}
"""

from __future__ import annotations

import re
import ssl
import time
import uuid
from typing import Any

from tests.support.azure_fakes import FakeAzure
from tests.support.azure_fakes.server import Reply, Request, Service, TlsServer, error

_SECRET_PATH = re.compile(r"^/secrets/([0-9A-Za-z-]{1,127})/?$")


class _KeyVaultService(Service):
    name = "keyVault"

    def __init__(self, vault: FakeKeyVault) -> None:
        self.vault = vault

    def handle(self, request: Request) -> Reply:
        azure, resource = self.vault.azure, self.vault.resource
        if request.bearer is None:
            authority = f"{azure.login.url}/{azure.tenant.tenant_id}"
            challenge = f'Bearer authorization="{authority}", resource="{resource}"'
            return Reply(
                401,
                {
                    "error": {
                        "code": "Unauthorized",
                        "message": "AKV10000: Request is missing a Bearer or PoP token.",
                    }
                },
                {"WWW-Authenticate": challenge},
            )
        refused = azure.tokens.check(request, resource)
        if refused is not None:
            return refused
        found = _SECRET_PATH.match(request.path)
        if request.method != "GET" or found is None:
            return error(400, "BadParameter", f"not served here: {request.method} {request.path}")
        name = found.group(1)
        value = self.vault.secrets.get(name)
        if value is None:
            return error(
                404,
                "SecretNotFound",
                f"A secret with (name/id) {name} was not found in this key vault.",
            )
        updated = int(time.time())
        return Reply(
            200,
            {
                "value": value,
                "id": f"{self.vault.url}/secrets/{name}/{uuid.uuid4().hex}",
                "attributes": {
                    "enabled": True,
                    "created": updated,
                    "updated": updated,
                    "recoveryLevel": "Recoverable+Purgeable",
                },
            },
        )


class FakeKeyVault:
    def __init__(self, azure: FakeAzure) -> None:
        self.azure = azure
        self.secrets: dict[str, str] = {}
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        azure.ca.issue_cert("127.0.0.1", "localhost").configure_cert(tls)
        self.server = TlsServer(_KeyVaultService(self), tls, azure.stats)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def resource(self) -> str:
        # The client accepts a challenge only for a domain the vault's host ends with (vaults
        # at <name>.vault.azure.net get "https://vault.azure.net"); 127.0.0.1 ends with .0.0.1.
        return f"https://0.0.1:{self.server.port}"

    def reads(self) -> int:
        with self.azure.stats.lock:
            return self.azure.stats.counts.get("keyVault", 0)

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> FakeKeyVault:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
