"""An artifact store in memory (the engines' ArtifactStore protocol), for domain tests."""

from __future__ import annotations

import json
from typing import Any


class MemoryStore:
    """Values kept as JSON text, so what comes back is what a blob would give."""

    def __init__(self, scan_id: str = "test") -> None:
        self.prefix = f"blob:scans/{scan_id}/artifacts/"
        self.blobs: dict[str, str] = {}

    def put_json(self, name: str, value: Any) -> str:
        self.blobs[self.prefix + name] = json.dumps(value)
        return self.prefix + name

    def get_json(self, ref: str) -> Any:
        text = self.blobs.get(ref)
        return None if text is None else json.loads(text)
