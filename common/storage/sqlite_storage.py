"""The storage port on one SQLite database file: the standalone host's crash-safe default.

Every write is one SQLite transaction, committed in WAL mode with `synchronous=FULL`: the WAL is
fsynced before the call returns, so what a caller was told is stored survives a killed process
and a lost machine alike. Several processes (the HTTP front, the Durable engine, the activity
workers) open the same file; SQLite's file locks let one write at a time and readers never wait.
Inside a process, writers queue on a lock instead of polling SQLite's busy handler.

Layout: `entities(tbl, pk, rk, etag, props)` with the properties as JSON text in Azure's own
shape (`"Name@odata.type": "Edm.DateTime"` beside a typed value), and `blobs(container, name,
data)`; blobs are rows too, so an entity and the blob it points to commit the same way.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common.continuation import Position
from common.storage import (
    KEYS,
    MAX_BATCH_OPERATIONS,
    BatchOperation,
    Condition,
    Entity,
    EntityChangedError,
    EntityExistsError,
    EntityNotFoundError,
    StorageError,
    StorageUnavailableError,
    Where,
)

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 10.0
_QUERY_CHUNK = 1000
_TYPE = "@odata.type"
_DATETIME = "Edm.DateTime"
_BINARY = "Edm.Binary"
_PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
_SQL_OPERATORS = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_COLUMNS = {"PartitionKey": "pk", "RowKey": "rk"}
_LAST_CHARACTER = "\U0010ffff"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (
    tbl TEXT NOT NULL, pk TEXT NOT NULL, rk TEXT NOT NULL, etag TEXT NOT NULL,
    props TEXT NOT NULL, PRIMARY KEY (tbl, pk, rk));
CREATE TABLE IF NOT EXISTS blobs (
    container TEXT NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (container, name));
"""

# One lock per database file and process: threads of a process take turns writing here, so
# only writers of other processes ever meet SQLite's busy handler (which sleeps and polls).
_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


def _write_lock(path: Path) -> threading.Lock:
    with _write_locks_guard:
        return _write_locks.setdefault(str(path), threading.Lock())


def format_timestamp(value: datetime) -> str:
    """Fixed width, UTC: stored timestamps sort and compare as text."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_etag() -> str:
    return 'W/"' + os.urandom(8).hex() + '"'


def encode_properties(entity: Mapping[str, Any]) -> tuple[str, str, str]:
    """(partition key, row key, properties as JSON) of an entity; None values are left out."""
    try:
        partition_key, row_key = entity["PartitionKey"], entity["RowKey"]
    except KeyError as exc:
        raise StorageError(f"an entity needs PartitionKey and RowKey: {exc}") from None
    props: dict[str, Any] = {}
    for name, value in entity.items():
        if name in KEYS or value is None:
            continue
        if isinstance(value, datetime):
            props[name] = format_timestamp(value)
            props[name + _TYPE] = _DATETIME
        elif isinstance(value, bytes | bytearray):
            props[name] = base64.b64encode(value).decode("ascii")
            props[name + _TYPE] = _BINARY
        elif isinstance(value, str | int | float | bool):
            props[name] = value
        else:
            raise StorageError(f"property {name}: {type(value).__name__} cannot be stored")
    return str(partition_key), str(row_key), json.dumps(props, separators=(",", ":"))


def decode_entity(partition_key: str, row_key: str, etag: str, props: str) -> Entity:
    values: dict[str, Any] = json.loads(props)
    entity: dict[str, Any] = {"PartitionKey": partition_key, "RowKey": row_key}
    for name, value in values.items():
        if name.endswith(_TYPE):
            continue
        kind = values.get(name + _TYPE)
        if kind == _DATETIME:
            entity[name] = datetime.fromisoformat(value)
        elif kind == _BINARY:
            entity[name] = base64.b64decode(value)
        else:
            entity[name] = value
    return Entity(entity, etag)


def _sql_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    return value


def _column(name: str) -> str:
    column = _COLUMNS.get(name)
    if column is not None:
        return column
    if not _PROPERTY_NAME.match(name):
        raise StorageError(f"not a property name: {name!r}")
    return f"json_extract(props, '$.{name}')"


def _where_sql(where: Where) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for condition in where:
        clause, values = _condition_sql(condition)
        clauses.append(clause)
        params.extend(values)
    return "".join(f" AND {c}" for c in clauses), params


def _condition_sql(condition: Condition) -> tuple[str, list[Any]]:
    column = _column(condition.name)
    if condition.op == "in":
        values = [_sql_value(v) for v in condition.value]
        if not values:
            return "0", []
        return f"{column} IN ({','.join('?' * len(values))})", values
    if condition.op == "prefix":
        start = str(condition.value)
        return f"{column} >= ? AND {column} < ?", [start, start + _LAST_CHARACTER]
    return f"{column} {_SQL_OPERATORS[condition.op]} ?", [_sql_value(condition.value)]


class SqliteStorage:
    """The storage port on the SQLite database at `path` (created, with its folder, on first
    use). Safe to share between threads; each thread gets its own connection."""

    def __init__(self, path: Path | str, busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(path).resolve()
        self.description = f"SQLite database {self.path}"
        self.busy_timeout_s = busy_timeout_s
        self.write_lock = _write_lock(self.path)
        self._idle: list[sqlite3.Connection] = []
        self._idle_lock = threading.Lock()
        self._pid = os.getpid()
        self._create()

    # -- connections ----------------------------------------------------------------------------

    def _create(self) -> None:
        """Create the file and its schema once; fsync the folder so the new file's name is
        on disk too (SQLite syncs the WAL's name itself)."""
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        is_new = not self.path.exists()
        with self._connection() as connection:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"{self.path} was written by a newer version (schema {version} > "
                    f"{SCHEMA_VERSION})"
                )
            if version < SCHEMA_VERSION:
                with self.write_lock, self._transaction(connection):
                    connection.executescript(
                        f"BEGIN IMMEDIATE;{_SCHEMA}PRAGMA user_version = {SCHEMA_VERSION};COMMIT;"
                    )
        if is_new:
            sync_folder(folder)

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout_s,
            isolation_level=None,  # autocommit: every statement, or our own BEGIN..COMMIT
            check_same_thread=False,  # pooled: used by one thread at a time, any thread
        )
        with _translated():
            mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StorageError(f"{self.path}: WAL mode refused ({mode})")
            connection.execute("PRAGMA synchronous=FULL")
        return connection

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection of this process's pool, for one operation."""
        with self._idle_lock:
            if self._pid != os.getpid():  # a forked child: its parent's connections are not its
                self._idle, self._pid = [], os.getpid()
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            connection = self._open()
        try:
            yield connection
        finally:
            if connection.in_transaction:
                connection.rollback()
            with self._idle_lock:
                self._idle.append(connection)

    @contextlib.contextmanager
    def _transaction(self, connection: sqlite3.Connection) -> Iterator[None]:
        """Roll back whatever the block left open when it raised."""
        try:
            with _translated():
                yield
        except BaseException:
            if connection.in_transaction:
                connection.rollback()
            raise

    def write(self, sql: str, params: Sequence[Any]) -> int:
        """One statement as its own transaction; how many rows it changed."""
        with self._connection() as connection, self.write_lock, _translated():
            return int(connection.execute(sql, params).rowcount)

    def write_many(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Several statements in one transaction (all or none)."""
        with self._connection() as connection, self.write_lock, self._transaction(connection):
            connection.execute("BEGIN IMMEDIATE")
            for sql, params in statements:
                connection.execute(sql, params)
            connection.execute("COMMIT")

    def read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with self._connection() as connection, _translated():
            return connection.execute(sql, params).fetchall()

    # -- the port -------------------------------------------------------------------------------

    def table(self, name: str) -> SqliteTable:
        return SqliteTable(self, name)

    def container(self, name: str) -> SqliteContainer:
        return SqliteContainer(self, name)

    def import_entities(self, table: str, entities: Iterable[Entity], chunk: int = 500) -> int:
        """Copy entities in as they are, ETags included (a copy of another store: a lease's
        ETag kept in a scan record still names the lease); how many there were."""
        copied = 0
        statements: list[tuple[str, Sequence[Any]]] = []
        for entity in entities:
            statements.append(
                (_UPSERT, (table, *SqliteTable._row(entity, entity.etag or new_etag())))
            )
            if len(statements) >= chunk:
                self.write_many(statements)
                copied, statements = copied + len(statements), []
        if statements:
            self.write_many(statements)
        return copied + len(statements)

    def table_names(self) -> list[str]:
        return [row[0] for row in self.read("SELECT DISTINCT tbl FROM entities ORDER BY 1", ())]

    def container_names(self) -> list[str]:
        rows = self.read("SELECT DISTINCT container FROM blobs ORDER BY 1", ())
        return [row[0] for row in rows]

    def close(self) -> None:
        with self._idle_lock:
            connections, self._idle = self._idle, []
        for connection in connections:
            with contextlib.suppress(sqlite3.Error):
                connection.close()


class SqliteTable:
    """One table of the port: the rows of `entities` whose `tbl` is its name."""

    def __init__(self, storage: SqliteStorage, name: str) -> None:
        self.storage = storage
        self.name = name

    def insert(self, entity: Mapping[str, Any]) -> str:
        etag = new_etag()
        try:
            self.storage.write(
                "INSERT INTO entities (tbl, pk, rk, etag, props) VALUES (?, ?, ?, ?, ?)",
                (self.name, *self._row(entity, etag)),
            )
        except sqlite3.IntegrityError as exc:
            raise EntityExistsError(f"{self.name}: the entity exists already") from exc
        return etag

    def upsert(self, entity: Mapping[str, Any]) -> str:
        etag = new_etag()
        self.storage.write(_UPSERT, (self.name, *self._row(entity, etag)))
        return etag

    @staticmethod
    def _row(entity: Mapping[str, Any], etag: str) -> tuple[str, str, str, str]:
        partition_key, row_key, props = encode_properties(entity)
        return partition_key, row_key, etag, props

    def replace(self, entity: Mapping[str, Any], etag: str | None = None) -> str:
        partition_key, row_key, props = encode_properties(entity)
        new = new_etag()
        sql = "UPDATE entities SET etag = ?, props = ? WHERE tbl = ? AND pk = ? AND rk = ?"
        params: list[Any] = [new, props, self.name, partition_key, row_key]
        if etag is not None:
            sql += " AND etag = ?"
            params.append(etag)
        if self.storage.write(sql, params) == 0:
            self._raise_missed(partition_key, row_key, etag)
        return new

    def _raise_missed(self, partition_key: str, row_key: str, etag: str | None) -> None:
        if etag is not None and self.get(partition_key, row_key) is not None:
            raise EntityChangedError(f"{self.name}: the entity changed since it was read")
        raise EntityNotFoundError(f"{self.name}: no such entity")

    def delete(self, partition_key: str, row_key: str, etag: str | None = None) -> None:
        sql = "DELETE FROM entities WHERE tbl = ? AND pk = ? AND rk = ?"
        params: list[Any] = [self.name, partition_key, row_key]
        if etag is not None:
            sql += " AND etag = ?"
            params.append(etag)
        deleted = self.storage.write(sql, params)
        if not deleted and etag is not None and self.get(partition_key, row_key) is not None:
            raise EntityChangedError(f"{self.name}: the entity changed since it was read")

    def get(self, partition_key: str, row_key: str) -> Entity | None:
        rows = self.storage.read(
            "SELECT pk, rk, etag, props FROM entities WHERE tbl = ? AND pk = ? AND rk = ?",
            (self.name, partition_key, row_key),
        )
        return decode_entity(*rows[0]) if rows else None

    def query(self, where: Where = (), select: Sequence[str] | None = None) -> Iterator[Entity]:
        position: Position | None = None
        while True:
            entities, position = self.page(where, _QUERY_CHUNK, position, select)
            yield from entities
            if position is None:
                return

    def page(
        self,
        where: Where,
        limit: int,
        position: Position | None = None,
        select: Sequence[str] | None = None,
    ) -> tuple[list[Entity], Position | None]:
        conditions, params = _where_sql(where)
        if position:
            conditions += " AND (pk, rk) >= (?, ?)"
            params += [str(position.get("PartitionKey") or ""), str(position.get("RowKey") or "")]
        keys_only = select is not None and set(select) <= set(KEYS)
        props = "'{}'" if keys_only else "props"
        rows = self.storage.read(
            f"SELECT pk, rk, etag, {props} FROM entities WHERE tbl = ?{conditions} "  # noqa: S608 - fixed columns, values bound
            "ORDER BY pk, rk LIMIT ?",
            [self.name, *params, max(1, limit) + 1],
        )
        following = None
        if len(rows) > limit:
            following = {"PartitionKey": rows[limit][0], "RowKey": rows[limit][1]}
            rows = rows[:limit]
        return [decode_entity(*row) for row in rows], following

    def batch(self, operations: Sequence[BatchOperation]) -> None:
        if len(operations) > MAX_BATCH_OPERATIONS:
            raise StorageError(f"a batch holds at most {MAX_BATCH_OPERATIONS} operations")
        if len({str(entity["PartitionKey"]) for _, entity in operations}) > 1:
            raise StorageError("a batch writes to one partition")
        statements: list[tuple[str, Sequence[Any]]] = []
        for kind, entity in operations:
            if kind == "upsert":
                statements.append((_UPSERT, (self.name, *self._row(entity, new_etag()))))
            else:
                statements.append(
                    (
                        "DELETE FROM entities WHERE tbl = ? AND pk = ? AND rk = ?",
                        (self.name, str(entity["PartitionKey"]), str(entity["RowKey"])),
                    )
                )
        self.storage.write_many(statements)


_UPSERT = (
    "INSERT INTO entities (tbl, pk, rk, etag, props) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (tbl, pk, rk) DO UPDATE SET etag = excluded.etag, props = excluded.props"
)


class SqliteContainer:
    """One blob container of the port: the rows of `blobs` whose `container` is its name."""

    def __init__(self, storage: SqliteStorage, name: str) -> None:
        self.storage = storage
        self.name = name

    def put(self, blob_name: str, data: bytes) -> None:
        self.storage.write(
            "INSERT INTO blobs (container, name, data) VALUES (?, ?, ?) "
            "ON CONFLICT (container, name) DO UPDATE SET data = excluded.data",
            (self.name, blob_name, bytes(data)),
        )

    def get(self, blob_name: str) -> bytes | None:
        rows = self.storage.read(
            "SELECT data FROM blobs WHERE container = ? AND name = ?", (self.name, blob_name)
        )
        return bytes(rows[0][0]) if rows else None

    def names(self, name_prefix: str = "") -> Iterator[str]:
        rows = self.storage.read(
            "SELECT name FROM blobs WHERE container = ? AND name >= ? AND name < ? ORDER BY name",
            (self.name, name_prefix, name_prefix + _LAST_CHARACTER),
        )
        return iter([row[0] for row in rows])

    def delete_prefix(self, name_prefix: str) -> int:
        return self.storage.write(
            "DELETE FROM blobs WHERE container = ? AND name >= ? AND name < ?",
            (self.name, name_prefix, name_prefix + _LAST_CHARACTER),
        )


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """SQLite's errors as the port's: a lock held too long means "try again"."""
    try:
        yield
    except sqlite3.IntegrityError:
        raise
    except sqlite3.OperationalError as exc:
        message = str(exc).lower()
        if "locked" in message or "busy" in message:
            raise StorageUnavailableError(f"the database is busy: {exc}") from exc
        raise StorageError(f"SQLite: {exc}") from exc


def sync_folder(folder: Path) -> None:
    """fsync a folder, so that files created or renamed in it keep their names after a crash."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
