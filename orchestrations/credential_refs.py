"""Credentials references: names of app settings or Key Vault secrets that hold a credential.

A target may name one (a repository's token or key, a host's private key and its passphrase)
instead of carrying the credential: the reference is stored with the target, the value is read
when a scan needs it and kept in memory only, never logged, stored or returned. An app setting
of that name wins; else the Key Vault secret (vault `KEY_VAULT_URL`, read with the app's
identity; `_` and `.` become `-`, as Key Vault names allow letters, digits and `-` only).
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

from scanner.engine import ScanError, TransientScanError

REF_PATTERN = r"^[A-Za-z0-9_.-]{1,256}$"
_REF = re.compile(REF_PATTERN)


class SecretReader:
    """Reads a credentials reference: an app setting of that name, else a Key Vault secret."""

    def __init__(self, key_vault_url: str) -> None:
        self.key_vault_url = key_vault_url
        self._client: Any = None
        self._lock = threading.Lock()

    def __call__(self, ref: str) -> str | None:
        if not _REF.match(ref):
            raise ScanError("credentials reference is not a valid setting or secret name")
        value = os.environ.get(ref)  # settings: dynamic (the reference names an app setting)
        if value:
            return value
        if not self.key_vault_url:
            raise ScanError(
                f"credentials reference {ref!r} names no app setting and KEY_VAULT_URL is not set"
            )
        return self._from_key_vault(ref)

    def _from_key_vault(self, ref: str) -> str | None:
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
        secret_name = ref.replace("_", "-").replace(".", "-")  # Key Vault names: letters, -
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
