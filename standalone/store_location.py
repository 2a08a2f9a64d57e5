"""Where the standalone host keeps all state: the embedded database, or Azure Storage.

- `EMBEDDED_STORE_PATH` set: that SQLite database.
- else the storage setting (`AzureWebJobsStorage`) set: that account or Azurite, as in Azure.
- else (the default): `store.sqlite3` in the data folder; a folder that Azurite wrote before is
  copied into it once, on the first start.

The choice is written back into the environment (`EMBEDDED_STORE_PATH`), where the app and the
worker processes read it, as the app reads its storage setting in Azure.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from common.storage import Storage
from common.storage.copy import copy_storage
from common.storage.sqlite_storage import SqliteStorage, sync_folder
from standalone.azurite import Azurite
from standalone.settings import expand_development_storage

log = logging.getLogger(__name__)

EMBEDDED_STORE_SETTING = "EMBEDDED_STORE_PATH"
STORE_FILE = "store.sqlite3"
AZURITE_FOLDER = "azurite"
_AZURITE_FILES = ("__azurite_db_table__.json", "__azurite_db_blob__.json")


@dataclass(frozen=True)
class StoreLocation:
    """An SQLite file, or an Azure Storage connection string (exactly one is set)."""

    sqlite_path: str = ""
    connection: str = ""

    def open(self) -> Storage:
        if self.sqlite_path:
            return SqliteStorage(self.sqlite_path)
        from common.storage.azure_storage import AzureStorage

        local = "127.0.0.1" in self.connection or "localhost" in self.connection
        options = {"use_env_settings": False} if local else {}
        return AzureStorage.from_connection_string(self.connection, **options)


def choose_store(storage_setting: str, data_dir: Path) -> StoreLocation:
    """The store the settings name (see the module's doc), ready to open."""
    embedded = os.environ.get(EMBEDDED_STORE_SETTING, "").strip()
    configured = os.environ.get(storage_setting, "").strip()
    if not embedded and configured:
        log.info("state in the storage that %s names", storage_setting)
        return StoreLocation(connection=expand_development_storage(configured))
    path = Path(embedded) if embedded else data_dir / STORE_FILE
    path = path.resolve()
    if not path.exists():
        migrate_azurite_folder(data_dir / AZURITE_FOLDER, path)
    os.environ[EMBEDDED_STORE_SETTING] = str(path)
    log.info("state in the embedded database %s", path)
    return StoreLocation(sqlite_path=str(path))


def holds_azurite_data(folder: Path) -> bool:
    return any((folder / name).is_file() for name in _AZURITE_FILES)


def migrate_azurite_folder(folder: Path, target: Path) -> None:
    """Copy what an embedded Azurite stored in `folder` into a new database at `target`, then
    rename the folder (kept, not deleted). A start killed halfway leaves no database behind:
    the copy is written beside it and renamed into place only when complete."""
    if not holds_azurite_data(folder):
        return
    log.info("moving the state Azurite kept in %s into %s (once)", folder, target)
    partial = target.with_name(target.name + ".migrating")
    for leftover in (partial, *(partial.with_name(partial.name + s) for s in ("-wal", "-shm"))):
        leftover.unlink(missing_ok=True)
    azurite = Azurite(folder)
    source = StoreLocation(connection=azurite.start()).open()
    database = SqliteStorage(partial)
    try:
        copied = copy_storage(source, database)
    finally:
        source.close()
        azurite.stop()
        database.close()  # the last connection closes: the WAL is folded into the file
    os.replace(partial, target)
    moved = folder.with_name(folder.name + ".migrated")
    number = 1
    while moved.exists():
        number += 1
        moved = folder.with_name(f"{folder.name}.migrated-{number}")
    os.replace(folder, moved)
    sync_folder(target.parent)
    log.info(
        "moved %d entities of %d tables and %d blobs from Azurite into %s; Azurite's folder "
        "is kept as %s",
        copied.entities,
        copied.tables,
        copied.blobs,
        target,
        moved,
    )
