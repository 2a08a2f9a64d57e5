"""The storage port on Azure Table and Blob Storage (an account in Azure, or any Azurite).

A thin translation: the port's conditions become an OData filter, the SDK's errors become the
port's (409 -> EntityExistsError, 412 -> EntityChangedError, 404 on replace ->
EntityNotFoundError, no answer -> StorageUnavailableError). Tables and containers are created
on first use, once per process; each keeps its client, which holds its connection pool.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import (
    EdmType,
    EntityProperty,
    TableClient,
    TableServiceClient,
    UpdateMode,
)

from common.continuation import Position
from common.storage import (
    BatchOperation,
    Condition,
    Entity,
    EntityChangedError,
    EntityExistsError,
    EntityNotFoundError,
    StorageUnavailableError,
    Where,
)

if TYPE_CHECKING:  # the blob SDK is imported on first use: it is a third of the app's import time
    from azure.storage.blob import BlobServiceClient, ContainerClient

_LAST_CHARACTER = "\uffff"


def odata_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if value.bit_length() < 32 else f"{value}L"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return "datetime'" + moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "'"
    return "'" + str(value).replace("'", "''") + "'"


def odata_filter(where: Where) -> str | None:
    clauses = [_odata_condition(condition) for condition in where]
    return " and ".join(clauses) if clauses else None


def _odata_condition(condition: Condition) -> str:
    name = condition.name
    if condition.op == "in":
        values = [f"{name} eq {odata_literal(v)}" for v in condition.value]
        return "(" + " or ".join(values) + ")" if values else "false"
    if condition.op == "prefix":
        start = str(condition.value)
        return (
            f"{name} ge {odata_literal(start)} and {name} lt "
            f"{odata_literal(start + _LAST_CHARACTER)}"
        )
    return f"{name} {condition.op} {odata_literal(condition.value)}"


def _outgoing(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The entity as the SDK sends it: an int beyond 32 bits must be marked Int64."""
    return {
        key: EntityProperty(value, EdmType.INT64)
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() >= 32
        else value
        for key, value in entity.items()
    }


def _entity(found: Any) -> Entity:
    values = {
        key: value.value if isinstance(value, EntityProperty) else value
        for key, value in found.items()
    }
    return Entity(values, str(found.metadata.get("etag") or ""))


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except ResourceExistsError as exc:
        raise EntityExistsError(str(exc)) from exc
    except ResourceModifiedError as exc:
        raise EntityChangedError(str(exc)) from exc
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise StorageUnavailableError(str(exc)) from exc
    except HttpResponseError as exc:
        if exc.status_code == 412:
            raise EntityChangedError(str(exc)) from exc
        if exc.status_code == 409:
            raise EntityExistsError(str(exc)) from exc
        raise


class AzureStorage:
    """The storage port on a Table service client and (made on first use) a Blob one."""

    def __init__(
        self,
        tables: TableServiceClient,
        blobs: Callable[[], BlobServiceClient],
        description: str = "Azure Storage",
    ) -> None:
        self.description = description
        self._tables = tables
        self._blob_factory = blobs
        self._blobs: BlobServiceClient | None = None
        self._lock = threading.Lock()
        self._table_cache: dict[str, AzureTable] = {}
        self._container_cache: dict[str, AzureContainer] = {}

    @classmethod
    def from_connection_string(cls, connection: str, **options: Any) -> AzureStorage:
        def blobs() -> BlobServiceClient:
            from azure.storage.blob import BlobServiceClient

            return BlobServiceClient.from_connection_string(connection, **options)

        tables = TableServiceClient.from_connection_string(connection, **options)
        return cls(tables, blobs, f"Azure Storage at {tables.url}")

    def table(self, name: str) -> AzureTable:
        table = self._table_cache.get(name)
        if table is None:
            with self._lock:
                table = self._table_cache.get(name)
                if table is None:
                    with _translated(), contextlib.suppress(ResourceExistsError):
                        self._tables.create_table(name)
                    table = AzureTable(self._tables.get_table_client(name))
                    self._table_cache[name] = table
        return table

    def _blob_service(self) -> BlobServiceClient:
        if self._blobs is None:
            self._blobs = self._blob_factory()
        return self._blobs

    def container(self, name: str) -> AzureContainer:
        container = self._container_cache.get(name)
        if container is None:
            with self._lock:
                container = self._container_cache.get(name)
                if container is None:
                    container = AzureContainer(self._blob_service().get_container_client(name))
                    self._container_cache[name] = container
        return container

    def table_names(self) -> list[str]:
        with _translated():
            return sorted(str(t.name) for t in self._tables.list_tables())

    def container_names(self) -> list[str]:
        with _translated():
            return sorted(str(c.name) for c in self._blob_service().list_containers())

    def close(self) -> None:
        with self._lock:
            for table in self._table_cache.values():
                table.client.close()
            for container in self._container_cache.values():
                container.client.close()
            self._table_cache.clear()
            self._container_cache.clear()
        self._tables.close()
        if self._blobs is not None:
            self._blobs.close()


class AzureTable:
    def __init__(self, client: TableClient) -> None:
        self.client = client
        self.name = client.table_name

    def insert(self, entity: Mapping[str, Any]) -> str:
        with _translated():
            return str(self.client.create_entity(_outgoing(entity))["etag"])

    def upsert(self, entity: Mapping[str, Any]) -> str:
        with _translated():
            return str(
                self.client.upsert_entity(_outgoing(entity), mode=UpdateMode.REPLACE)["etag"]
            )

    def replace(self, entity: Mapping[str, Any], etag: str | None = None) -> str:
        conditions: dict[str, Any] = {}
        if etag is not None:
            conditions = {"etag": etag, "match_condition": MatchConditions.IfNotModified}
        try:
            with _translated():
                metadata = self.client.update_entity(
                    _outgoing(entity), mode=UpdateMode.REPLACE, **conditions
                )
        except ResourceNotFoundError as exc:
            raise EntityNotFoundError(str(exc)) from exc
        return str(metadata["etag"])

    def delete(self, partition_key: str, row_key: str, etag: str | None = None) -> None:
        conditions: dict[str, Any] = {}
        if etag is not None:
            conditions = {"etag": etag, "match_condition": MatchConditions.IfNotModified}
        with _translated(), contextlib.suppress(ResourceNotFoundError):
            self.client.delete_entity(partition_key, row_key, **conditions)

    def get(self, partition_key: str, row_key: str) -> Entity | None:
        try:
            with _translated():
                return _entity(self.client.get_entity(partition_key, row_key))
        except ResourceNotFoundError:
            return None

    def query(self, where: Where = (), select: Sequence[str] | None = None) -> Iterator[Entity]:
        query, fields = odata_filter(where), list(select) if select else None
        with _translated():
            found: Any = (
                self.client.query_entities(query, select=fields)
                if query
                else self.client.list_entities(select=fields)
            )
            for entity in found:
                yield _entity(entity)

    def page(
        self,
        where: Where,
        limit: int,
        position: Position | None = None,
        select: Sequence[str] | None = None,
    ) -> tuple[list[Entity], Position | None]:
        query, fields = odata_filter(where), list(select) if select else None
        with _translated():
            found: Any = (
                self.client.query_entities(query, results_per_page=limit, select=fields)
                if query
                else self.client.list_entities(results_per_page=limit, select=fields)
            )
            pages = found.by_page(continuation_token=position or None)
            for page in pages:
                return [_entity(e) for e in page], pages.continuation_token or None
        return [], None

    def batch(self, operations: Sequence[BatchOperation]) -> None:
        if not operations:
            return
        with _translated():
            self.client.submit_transaction([(kind, _outgoing(e)) for kind, e in operations])


class AzureContainer:
    def __init__(self, client: ContainerClient) -> None:
        self.client = client
        self.name = client.container_name
        self._exists = False

    def put(self, blob_name: str, data: bytes) -> None:
        with _translated():
            if not self._exists:
                with contextlib.suppress(ResourceExistsError):
                    self.client.create_container()
                self._exists = True
            self.client.upload_blob(blob_name, data, overwrite=True)

    def get(self, blob_name: str) -> bytes | None:
        try:
            with _translated():
                return bytes(self.client.download_blob(blob_name).readall())
        except ResourceNotFoundError:
            return None

    def names(self, name_prefix: str = "") -> Iterator[str]:
        try:
            with _translated():
                for blob in self.client.list_blobs(name_starts_with=name_prefix or None):
                    yield str(blob.name)
        except ResourceNotFoundError:
            return

    def delete_prefix(self, name_prefix: str) -> int:
        deleted = 0
        for name in list(self.names(name_prefix)):
            with _translated(), contextlib.suppress(ResourceNotFoundError):
                self.client.delete_blob(name)
                deleted += 1
        return deleted
