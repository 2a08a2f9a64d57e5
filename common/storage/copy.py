"""Copy everything one store holds into an embedded database: every table (ETags kept) and
every blob container. Used once, to move a data folder written by Azurite into SQLite."""

from __future__ import annotations

from dataclasses import dataclass

from common.storage import Storage
from common.storage.sqlite_storage import SqliteStorage


@dataclass
class Copied:
    tables: int = 0
    entities: int = 0
    containers: int = 0
    blobs: int = 0


def copy_storage(source: Storage, target: SqliteStorage) -> Copied:
    copied = Copied()
    for name in source.table_names():
        copied.entities += target.import_entities(name, source.table(name).query())
        copied.tables += 1
    for name in source.container_names():
        origin, destination = source.container(name), target.container(name)
        for blob_name in origin.names():
            data = origin.get(blob_name)
            if data is not None:
                destination.put(blob_name, data)
                copied.blobs += 1
        copied.containers += 1
    return copied
