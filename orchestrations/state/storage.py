"""Storage clients for this service's tables and blobs (one set per process, thread-safe).

Locally and in tests: the `AzureWebJobsStorage` connection string (Azurite). In Azure: the
identity-based `AzureWebJobsStorage__*` settings with the app's managed identity.
"""

from __future__ import annotations

import contextlib
import json
import threading
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient

if TYPE_CHECKING:  # the blob SDK is imported on first use: it is a third of the app's import time
    from azure.storage.blob import BlobServiceClient, ContainerClient

from orchestrations.core.settings import AppSettings

# Table string properties hold 32 Ki UTF-16 units; larger JSON goes to a blob.
MAX_INLINE_UNITS = 30_000
BLOB_REF = "blob:"

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


def _tables(settings: AppSettings) -> TableServiceClient:
    client: TableServiceClient = _service_client(
        settings, TableServiceClient, "table", settings.storage_table_uri
    )
    return client


def _blobs(settings: AppSettings) -> BlobServiceClient:
    from azure.storage.blob import BlobServiceClient

    client: BlobServiceClient = _service_client(
        settings, BlobServiceClient, "blob", settings.storage_blob_uri
    )
    return client


class Storage:
    """Tables `{prefix}Scans`, `{prefix}ScanItems`, ... and the `{prefix}-artifacts` container."""

    def __init__(self, settings: AppSettings) -> None:
        self.prefix = settings.scan_storage_prefix
        self._tables = _tables(settings)
        self._blobs = _blobs(settings)
        self._lock = threading.Lock()
        self._table_clients: dict[str, TableClient] = {}
        self._container_client: ContainerClient | None = None

    def table(self, name: str) -> TableClient:
        """The table's client, created (with its table) once and reused after: each client
        holds its own connection pool, so a new one per call would reconnect every time."""
        client = self._table_clients.get(name)
        if client is None:
            with self._lock:
                client = self._table_clients.get(name)
                if client is None:
                    full = f"{self.prefix}{name}"
                    with contextlib.suppress(ResourceExistsError):
                        self._tables.create_table(full)
                    client = self._tables.get_table_client(full)
                    self._table_clients[name] = client
        return client

    @property
    def container(self) -> ContainerClient:
        client = self._container_client
        if client is None:
            with self._lock:
                client = self._container_client
                if client is None:
                    client = self._blobs.get_container_client(f"{self.prefix.lower()}-artifacts")
                    with contextlib.suppress(ResourceExistsError):
                        client.create_container()
                    self._container_client = client
        return client

    # -- JSON values that may be large ------------------------------------------------------

    def put_blob_json(self, name: str, value: Any) -> str:
        return self._put_blob_text(name, json.dumps(value))

    def _put_blob_text(self, name: str, text: str) -> str:
        self.container.upload_blob(name, text.encode("utf-8"), overwrite=True)
        return BLOB_REF + name

    def get_blob_json(self, ref: str) -> Any:
        name = ref.removeprefix(BLOB_REF)
        try:
            return json.loads(self.container.download_blob(name).readall())
        except ResourceNotFoundError:
            return None

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
    key = f"{settings.scan_storage_prefix}|{settings.storage_table_uri}"
    with _lock:
        if key not in _clients:
            _clients[key] = Storage(settings)
        storage: Storage = _clients[key]
        return storage
