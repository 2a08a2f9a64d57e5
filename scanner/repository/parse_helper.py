"""A helper process that reads and parses a share of a large tree's documents while the scan
parses the rest, so a first scan of 100,000 documents uses two cores.

`python -m scanner.repository.parse_helper`: the job on stdin, what the documents hold on
stdout, both as plain values in `marshal` format (fast; both ends are this module, never data
from elsewhere). The helper opens the same bare repository read-only. If it fails in any way,
the scan parses its share itself: the helper can make a scan faster, never different.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import marshal
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

import pygit2

from scanner.repository.git_source import Limits
from scanner.repository.model import Artifact, FieldTable, Problem
from scanner.repository.reading import Parsed

log = logging.getLogger(__name__)

# Below this many documents a helper costs more (its start) than it saves.
MIN_DOCUMENTS = 20_000
# The helper starts a moment after the scan's own parsing: it takes a little less than half.
SHARE = 0.45
_ROOT = Path(__file__).resolve().parents[2]


def wanted(documents: int) -> bool:
    return documents >= MIN_DOCUMENTS and (os.cpu_count() or 1) > 1


def _artifact_values(artifact: Artifact) -> tuple[Any, ...]:
    return tuple(getattr(artifact, f.name) for f in dataclasses.fields(Artifact))


def run(job: bytes) -> bytes:
    """What the helper does: parse the job's documents, return what they hold."""
    repo_path, limits, keys, values, documents = marshal.loads(job)  # noqa: S302 - from us
    repo = pygit2.Repository(repo_path)
    parsed = Parsed()
    fields = FieldTable(tuple(keys), tuple(values))
    limits = Limits(*limits)
    for path, oid in documents:
        parsed.read(repo, path, pygit2.Oid(raw=oid), limits, fields)
    return marshal.dumps(
        (
            [_artifact_values(a) for a in parsed.artifacts.values()],
            [(p.rule_id, p.path, p.line, p.message) for p in parsed.problems.values()],
            sorted(parsed.binary),
        )
    )


class Helper:
    """One helper process working on `documents` (path, blob id) of the repository."""

    def __init__(
        self,
        repo_path: str,
        limits: Limits,
        fields: FieldTable,
        documents: list[tuple[str, Any]],
    ) -> None:
        self.documents = documents
        job = marshal.dumps(
            (
                repo_path,
                dataclasses.astuple(limits),
                list(fields.keys),
                list(fields.values),
                [(path, oid.raw) for path, oid in documents],
            )
        )
        self._errors: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in result()
        # The helper imports what this process imports, from where it does (on Azure Functions
        # the app's packages are on the worker's path, not the interpreter's).
        path = os.pathsep.join([str(_ROOT), *(p for p in sys.path if p)])
        self._process = subprocess.Popen(
            [sys.executable, "-m", "scanner.repository.parse_helper"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._errors,
            env={**os.environ, "PYTHONPATH": path},
        )
        self._writer = threading.Thread(target=self._send, args=(job,), daemon=True)
        self._writer.start()

    def _send(self, job: bytes) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(job)
            stdin.close()
        except OSError:
            return  # the helper died: result() says so

    def result(self) -> tuple[list[Artifact], list[Problem], list[str]] | None:
        """What the helper's documents hold; None when it failed (the caller parses them)."""
        try:
            assert self._process.stdout is not None
            output = self._process.stdout.read()
            code = self._process.wait()
            self._writer.join()
            if code != 0:
                self._errors.seek(0)
                message = self._errors.read(2000).decode("utf-8", "replace").strip()
                log.warning("parse helper exited with %d: %s", code, message[-500:])
                return None
            artifacts, problems, binary = marshal.loads(output)  # noqa: S302 - our helper
            return (
                [Artifact(*values) for values in artifacts],
                [Problem(*values) for values in problems],
                list(binary),
            )
        except (OSError, ValueError, EOFError, TypeError) as exc:
            log.warning("parse helper failed: %s", exc)
            return None
        finally:
            self.close()

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        for stream in (self._process.stdin, self._process.stdout, self._errors):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def main() -> None:
    sys.stdout.buffer.write(run(sys.stdin.buffer.read()))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
