"""Real Git repositories with real commits for the repository-scan tests and benchmark.

Built with the `git` CLI (fixed argument lists, no shell), each commit with its own author and
committer date so history-based rules (suspect links) see a definite order.
"""

from __future__ import annotations

import base64
import http.server
import os
import random
import ssl
import subprocess
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
STORY_FIXTURE = ROOT / "tests" / "scanner" / "repository" / "fixtures" / "US-006-001.txt"
_BASE_EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z


def example_story() -> str:
    """The user story that describes the repository scan (itself a GxP user story, US-006-001)."""
    return STORY_FIXTURE.read_text(encoding="utf-8")


class GitRepo:
    """A work-tree repository in `path` on branch `main` (or `branch`)."""

    def __init__(self, path: Path, branch: str = "main") -> None:
        self.path = path
        self.branch = branch
        self._commits = 0
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", branch)
        self.git("config", "user.name", "GxP Author")
        self.git("config", "user.email", "author@example.com")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        full_env = {
            **os.environ,
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            **(env or {}),
        }
        done = subprocess.run(
            ["git", *args],
            cwd=self.path,
            env=full_env,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    def write(self, relative: str, content: str | bytes) -> Path:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
        return target

    def write_artifacts(self, artifacts: Mapping[str, str]) -> None:
        for relative, text in artifacts.items():
            self.write(relative, text)

    def symlink(self, relative: str, points_to: str) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(points_to)

    def remove(self, relative: str) -> None:
        (self.path / relative).unlink()

    def commit(self, message: str = "change") -> str:
        """Commit everything in the work tree; each commit one minute after the previous."""
        self._commits += 1
        when = f"{_BASE_EPOCH + 60 * self._commits} +0000"
        self.git("add", "-A")
        self.git(
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            message,
            env={"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when},
        )
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")


def artifact(
    gxp_id: str | None,
    *,
    body: str = "",
    raw_front_matter: str | None = None,
    **fields: Any,
) -> str:
    """A Markdown artifact with YAML front matter (`gxp_id` first, then `fields` in order)."""
    if raw_front_matter is not None:
        return f"---\n{raw_front_matter}---\n{body}"
    data: dict[str, Any] = {}
    if gxp_id is not None:
        data["gxp_id"] = gxp_id
    data.update(fields)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{text}---\n{body}"


def requirement(gxp_id: str, **fields: Any) -> str:
    values: dict[str, Any] = {
        "title": f"Requirement {gxp_id}",
        "status": "APPROVED",
        "validation_status": "APPROVED",
        "approved_by": "Q. A. Lead",
        "approval_date": "2026-01-15",
    }
    values.update(fields)
    return artifact(gxp_id, body=f"\nThe system shall do {gxp_id}.\n", **_clean(values))


def story(
    gxp_id: str,
    parent: str | None,
    *,
    spec: str | None = None,
    scenarios: Iterable[str] = ("Happy path", "Error path"),
    **fields: Any,
) -> str:
    values: dict[str, Any] = {
        "title": f"Story {gxp_id}",
        "parent_id": parent,
        "as_a": "QA engineer",
        "i_want": "a scan",
        "so_that": "I can validate changes",
        "acceptance_criteria": ["It works", "It fails clearly"],
        "status": "IMPLEMENTED",
        "validation_status": "VALIDATED",
    }
    values.update(fields)
    body = "\n## Details\n\nSome text.\n"
    steps = list(scenarios)
    if steps:
        body += "\n## Test Scenarios\n\n" + "".join(
            f"{n}. **{s}**: it behaves\n" for n, s in enumerate(steps, 1)
        )
    if spec:
        body += f"\n## Implementing Specification\n\n{spec}: The specification\n"
    return artifact(gxp_id, body=body, **_clean(values))


def specification(gxp_id: str, parent: str | None, **fields: Any) -> str:
    values: dict[str, Any] = {
        "title": f"Specification {gxp_id}",
        "parent_id": parent,
        "status": "APPROVED",
        "validation_status": "APPROVED",
        "approved_by": "Q. A. Lead",
        "approval_date": "2026-01-20",
    }
    values.update(fields)
    return artifact(gxp_id, body="\nDesign.\n", **_clean(values))


def tc_document(gxp_id: str, parent: str | None, **fields: Any) -> str:
    values: dict[str, Any] = {
        "title": f"Test {gxp_id}",
        "parent_id": parent,
        "status": "IMPLEMENTED",
        "validation_status": "VALIDATED",
    }
    values.update(fields)
    return artifact(gxp_id, body="\n1. Run it.\n", **_clean(values))


tc_document.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def clean_tree(n: str = "001") -> dict[str, str]:
    """A complete, traceable set: REQ -> US -> SPEC -> TC, every rule satisfied."""
    return {
        f"reqs/REQ-{n}.md": requirement(f"REQ-{n}"),
        f"stories/US-{n}-001.md": story(f"US-{n}-001", f"REQ-{n}", spec=f"SPEC-{n}-001"),
        f"specs/SPEC-{n}-001.md": specification(f"SPEC-{n}-001", f"US-{n}-001"),
        f"tests/TC-{n}-001-001.md": tc_document(f"TC-{n}-001-001", f"SPEC-{n}-001"),
    }


def make_repo(path: Path, files: Mapping[str, str | bytes], message: str = "initial") -> GitRepo:
    """A repository with one commit holding `files`."""
    repo = GitRepo(path)
    for relative, content in files.items():
        repo.write(relative, content)
    repo.commit(message)
    return repo


def generated_tree(
    requirements: int = 1000, stories: int = 4000, specs: int = 3000, tests: int = 2000
) -> dict[str, str]:
    """A large, realistic tree: one parent link each (US -> REQ, SPEC -> US, TC -> SPEC)."""
    files: dict[str, str] = {}
    req_ids = [f"REQ-{i:04d}" for i in range(1, requirements + 1)]
    for rid in req_ids:
        files[f"reqs/{rid}.md"] = requirement(rid)
    us_ids = []
    for i in range(stories):
        parent = req_ids[i % requirements]
        sid = f"US-{parent[4:]}-{i // requirements + 1:03d}"
        us_ids.append(sid)
    spec_ids = []
    for i in range(specs):
        parent = us_ids[i % stories]
        spec_ids.append((f"SPEC-{parent[3:]}", parent))
    spec_of_story = {parent: sid for sid, parent in spec_ids}
    for i, sid in enumerate(us_ids):
        files[f"stories/{sid}.md"] = story(
            sid, req_ids[i % requirements], spec=spec_of_story.get(sid)
        )
    for sid, parent in spec_ids:
        files[f"specs/{sid}.md"] = specification(sid, parent)
    for i in range(tests):
        spec_id = spec_ids[i % specs][0]
        tid = f"TC-{spec_id[5:]}-{i // specs + 1:03d}"
        files[f"tests/{tid}.md"] = tc_document(tid, spec_id)
    return files


def _git_environment() -> dict[str, str]:
    return {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def _blob(data: bytes) -> bytes:
    return b"data %d\n%s\n" % (len(data), data)


def fast_import(path: Path, files: Mapping[str, str], edits: int = 0, seed: int = 7) -> None:
    """A bare repository on branch `main` built by `git fast-import` (one pack, seconds instead
    of minutes): one commit adding `files`, then `edits` commits each editing one file picked at
    random (seeded), one minute apart."""
    path.mkdir(parents=True, exist_ok=True)
    env = _git_environment()
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], env=env, check=True)
    picker = random.Random(seed)
    names = sorted(files)
    stream = [b"commit refs/heads/main\n", _committer(0), _blob(b"GxP documents")]
    stream += [b"M 100644 inline %s\n%s" % (n.encode(), _blob(files[n].encode())) for n in names]
    for number in range(1, edits + 1):
        name = picker.choice(names)
        text = f"{files[name]}\nRevision {number}.\n".encode()
        stream += [b"commit refs/heads/main\n", _committer(number), _blob(b"edit %d" % number)]
        stream.append(b"M 100644 inline %s\n%s" % (name.encode(), _blob(text)))
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        input=b"".join(stream),
        cwd=path,
        env=env,
        check=True,
    )


def fast_commit(path: Path, changes: Mapping[str, str], number: int) -> str:
    """One more commit on `main` of the bare repository `path` (fast-import): the new head."""
    stream = [b"commit refs/heads/main\n", _committer(number), _blob(b"change %d" % number)]
    stream.append(b"from refs/heads/main^0\n")
    stream += [
        b"M 100644 inline %s\n%s" % (n.encode(), _blob(t.encode())) for n, t in changes.items()
    ]
    env = _git_environment()
    subprocess.run(
        ["git", "fast-import", "--quiet"], input=b"".join(stream), cwd=path, env=env, check=True
    )
    done = subprocess.run(
        ["git", "rev-parse", "refs/heads/main"], cwd=path, env=env, check=True, capture_output=True
    )
    return done.stdout.decode().strip()


def _committer(number: int) -> bytes:
    return b"committer GxP Author <author@example.com> %d +0000\n" % (_BASE_EPOCH + 60 * number)


class GitHttpsServer:
    """Git's smart HTTP protocol over TLS on loopback (`git http-backend` behind Basic auth),
    serving the repositories under `root`; the certificate comes from a trustme CA."""

    def __init__(self, root: Path, username: str, token: str, cert_dir: Path) -> None:
        import trustme

        self.root = root
        self.credentials = "Basic " + base64.b64encode(f"{username}:{token}".encode()).decode()
        self.requests: list[tuple[str, str, bool]] = []  # (method, path, authorised)
        authority = trustme.CA()
        self.ca_file = cert_dir / "ca.pem"
        authority.cert_pem.write_to_path(str(self.ca_file))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        authority.issue_cert("127.0.0.1").configure_cert(context)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                authorised = self.headers.get("Authorization") == server.credentials
                server.requests.append((self.command, self.path, authorised))
                if not authorised:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = self._body()
                path, _, query = self.path.partition("?")
                env = {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "GIT_PROJECT_ROOT": str(server.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "REQUEST_METHOD": self.command,
                    "PATH_INFO": path,
                    "QUERY_STRING": query,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_USER": "scanner",
                    "REMOTE_ADDR": "127.0.0.1",
                    "GIT_CONFIG_NOSYSTEM": "1",
                    "GIT_CONFIG_GLOBAL": os.devnull,
                }
                done = subprocess.run(
                    ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
                )
                head, _, payload = done.stdout.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.decode("latin-1").split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "status":
                        status = int(value.strip().split(" ")[0])
                    elif name:
                        headers.append((name, value.strip()))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            do_GET = _serve
            do_POST = _serve

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"https://127.0.0.1:{self.port}/{name}"

    def __enter__(self) -> GitHttpsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
