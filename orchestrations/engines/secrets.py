"""Secrets for the engines: an app setting of the given name, else a Key Vault secret.

Read when an engine needs them (a fetch asking for credentials, an SSH connection), kept in
memory only, never logged, stored or returned. Key Vault is read with the app's managed
identity; its client is created once per reader.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

from scanner.engine import ScanError, TransientScanError

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")


class SecretReader:
    """`reader(name)`: the app setting `name` when set, else the Key Vault secret of that name
    (`_` and `.` read as `-`: Key Vault names allow letters, digits and dashes)."""

    def __init__(self, key_vault_url: str) -> None:
        self.key_vault_url = key_vault_url
        self._client: Any = None
        self._lock = threading.Lock()

    def __call__(self, name: str) -> str | None:
        if not _NAME.match(name):
            raise ScanError("credentials reference is not a valid setting or secret name")
        value = os.environ.get(name)  # settings: dynamic (the reference names an app setting)
        if value:
            return value
        if not self.key_vault_url:
            raise ScanError(
                f"credentials reference {name!r} names no app setting and KEY_VAULT_URL is not set"
            )
        return self.from_key_vault(name)

    def from_key_vault(self, name: str) -> str | None:
        """The secret's value from Key Vault. Raises ScanError (missing, refused) or
        TransientScanError (Key Vault failed: worth retrying)."""
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            ResourceNotFoundError,
        )

        with self._lock:
            if self._client is None:
                from azure.identity import DefaultAzureCredential
                from azure.keyvault.secrets import SecretClient

                self._client = SecretClient(self.key_vault_url, DefaultAzureCredential())
            client = self._client
        secret_name = name.replace("_", "-").replace(".", "-")
        try:
            value: str | None = client.get_secret(secret_name).value
        except ResourceNotFoundError:
            raise ScanError(f"Key Vault has no secret {secret_name!r}") from None
        except ClientAuthenticationError:
            raise ScanError("Key Vault refused this app's identity") from None
        except HttpResponseError as exc:
            if exc.status_code in (401, 403):
                raise ScanError("Key Vault refused this app's identity") from None
            raise TransientScanError(f"Key Vault: HTTP {exc.status_code}") from None
        return value
