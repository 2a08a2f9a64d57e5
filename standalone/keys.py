"""Host keys of the standalone host: the function key and the Durable system key.

Generated on first start and kept in the data folder (mode 0600) so that status URLs handed
out before a restart keep working. Never logged.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

KEYS_FILE = "host-keys.json"


@dataclass(frozen=True)
class HostKeys:
    function_key: str
    system_key: str


def load_or_create_keys(data_dir: Path) -> HostKeys:
    path = data_dir / KEYS_FILE
    if path.is_file():
        document = json.loads(path.read_text(encoding="utf-8"))
        return HostKeys(document["functionKey"], document["systemKey"])
    keys = HostKeys(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
    data_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump({"functionKey": keys.function_key, "systemKey": keys.system_key}, handle)
    return keys
