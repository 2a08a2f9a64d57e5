"""The service's storage: its tables and its blob container, on the storage port.

Where it lives is a setting: `EMBEDDED_STORE_PATH` names an SQLite database (the standalone
host's default, crash-safe on one machine); otherwise Azure Storage, from the
`AzureWebJobsStorage` connection string (an Azurite, an account) or, in Azure, the identity-based
`AzureWebJobsStorage__*` settings with the app's managed identity.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from common.storage import Container, Table
from common.storage import Storage as StoragePort
from orchestrations.core.settings import AppSettings

if TYPE_CHECKING:  # the blob SDK is imported on first use: it is a third of the app's import time
    from azure.storage.blob import BlobServiceClient

# Table string properties hold 32 Ki UTF-16 units; larger JSON goes to a blob.
MAX_INLINE_UNITS = 30_000
BLOB_REF = "blob:"

# Content-addressed blobs this process wrote or read, per storage: not written again.
_KNOWN_CONTENT = 4096

_lock = threading.Lock()
_clients: dict[str, Any] = {}


def _credential() -> Any:
    from azure.identity import DefaultAzureCredential  # only needed in Azure

    return DefaultAzureCredential()


def _client_options(connection: str) -> dict[str, Any]:
    """For a loopback emulator, skip requests' per-call look-ups of proxy settings and ~/.netrc
    (a large share of each call's CPU); real endpoints keep the environment's proxy settings."""
    local = "127.0.0.1" in connection or "localhost" in connection
    return {"use_env_settings": False} if local else {}


def _service_client(settings: AppSettings, client_class: Any, service: str, uri: str) -> Any:
    """A Table or Blob service client: from the connection string when there is one, else the
    identity-based endpoint (`AzureWebJobsStorage__*ServiceUri`, or the account's default)."""
    connection = settings.storage_connection.get_secret_value()
    if connection:
        return client_class.from_connection_string(connection, **_client_options(connection))
    endpoint = uri or f"https://{settings.storage_account_name}.{service}.core.windows.net"
    return client_class(endpoint, credential=_credential())


def open_storage(settings: AppSettings) -> StoragePort:
    """The storage the settings name: the embedded database, else Azure Storage."""
    if settings.embedded_store_path:
        from common.storage.sqlite_storage import SqliteStorage

        return SqliteStorage(settings.embedded_store_path)
    from azure.data.tables import TableServiceClient

    from common.storage.azure_storage import AzureStorage

    def blobs() -> BlobServiceClient:
        from azure.storage.blob import BlobServiceClient

        client: BlobServiceClient = _service_client(
            settings, BlobServiceClient, "blob", settings.storage_blob_uri
        )
        return client

    tables = _service_client(settings, TableServiceClient, "table", settings.storage_table_uri)
    return AzureStorage(tables, blobs)


class Storage:
    """Tables `{prefix}Scans`, `{prefix}ScanItems`, ... and the `{prefix}-artifacts` container."""

    def __init__(self, settings: AppSettings) -> None:
        self.prefix = settings.scan_storage_prefix
        self.port = open_storage(settings)
        self._known: OrderedDict[str, None] = OrderedDict()
        self._known_lock = threading.Lock()

    def table(self, name: str) -> Table:
        """The table `{prefix}{name}` (created on first use)."""
        return self.port.table(f"{self.prefix}{name}")

    @property
    def container(self) -> Container:
        return self.port.container(f"{self.prefix.lower()}-artifacts")

    # -- JSON values that may be large ------------------------------------------------------

    def put_blob_json(self, name: str, value: Any) -> str:
        return self._put_blob_text(name, json.dumps(value))

    def _put_blob_text(self, name: str, text: str) -> str:
        self.container.put(name, text.encode("utf-8"))
        return BLOB_REF + name

    def put_content(self, folder: str, text: str) -> str:
        """A blob named by the hash of its text, under `folder`: the same text is stored once
        (an unchanged rule's findings in a rescan are not written again, and in this process
        not even sent). Such blobs never change, so a reference to one stays true."""
        name = f"{folder}/{hashlib.sha256(text.encode('utf-8')).hexdigest()}.json"
        with self._known_lock:
            if name in self._known:
                self._known.move_to_end(name)
                return BLOB_REF + name
        ref = self._put_blob_text(name, text)
        self.knows(ref)
        return ref

    def knows(self, ref: str) -> None:
        """Remember that the content-addressed blob `ref` is stored."""
        with self._known_lock:
            self._known[ref.removeprefix(BLOB_REF)] = None
            while len(self._known) > _KNOWN_CONTENT:
                self._known.popitem(last=False)

    def get_blob_json(self, ref: str) -> Any:
        data = self.container.get(ref.removeprefix(BLOB_REF))
        return None if data is None else json.loads(data)

    def pack(self, value: Any, blob_name: str) -> str:
        """JSON text for a table property, or a blob reference when it is too large."""
        # Serialized once: a large value's text goes to the blob as it is. json.dumps escapes
        # every non-ASCII character, so the text has one UTF-16 unit per character.
        text = json.dumps(value)
        if len(text) <= MAX_INLINE_UNITS:
            return text
        return self._put_blob_text(blob_name, text)

    def unpack(self, stored: str | None) -> Any:
        if not stored:
            return None
        if stored.startswith(BLOB_REF):
            return self.get_blob_json(stored)
        return json.loads(stored)


def get_storage(settings: AppSettings) -> Storage:
    key = "|".join(
        (settings.scan_storage_prefix, settings.storage_table_uri, settings.embedded_store_path)
    )
    with _lock:
        if key not in _clients:
            _clients[key] = Storage(settings)
        storage: Storage = _clients[key]
        return storage
