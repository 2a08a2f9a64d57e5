"""Large scan data by reference: the ArtifactStore engines use, backed by Blob Storage."""

from __future__ import annotations

import re
from typing import Any

from orchestrations.state.storage import BLOB_REF, Storage

_NAME = re.compile(r"[^A-Za-z0-9._/-]")


class BlobArtifactStore:
    """Blobs under `scans/{scanId}/artifacts/`; references are `blob:<name>` strings."""

    def __init__(self, storage: Storage, scan_id: str) -> None:
        self.storage = storage
        self.prefix = f"scans/{scan_id}/artifacts/"

    def put_json(self, name: str, value: Any) -> str:
        return self.storage.put_blob_json(self.prefix + _NAME.sub("_", name), value)

    def get_json(self, ref: str) -> Any:
        if not ref.startswith(BLOB_REF + "scans/"):
            raise ValueError(f"not an artifact reference: {ref[:80]!r}")
        return self.storage.get_blob_json(ref)
