"""The dashboard's static files at `/`, under a strict Content-Security-Policy.

Only regular files inside the dashboard folder are served, and only of the kinds a page needs
(HTML, scripts, styles, images, JSON). Every path segment is checked: no `..`, no hidden names,
no symbolic link at any level (a link inside the folder could point anywhere). Files are small
and few, so each is read once, gzipped once and kept in memory until it changes on disk.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

log = logging.getLogger(__name__)

INDEX = "index.html"
MAX_FILE_BYTES = 4 * 1024 * 1024
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
_COMPRESSIBLE = {".html", ".js", ".mjs", ".css", ".json", ".svg", ".txt"}
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


# No inline script, no eval, no inline style attributes; the page talks to its own origin and to
# the origins config.json names (the API's elsewhere, the sign-in authority's).
def content_security_policy(connect: Sequence[str] = ()) -> str:
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            " ".join(["connect-src 'self'", *connect]),
            "font-src 'self'",
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ]
    )


def security_headers(connect: Sequence[str] = ()) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(connect),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        # Revalidate every time (cheap: an ETag match answers 304), so a new release shows at once.
        "Cache-Control": "no-cache",
    }


SECURITY_HEADERS = security_headers()
CONTENT_SECURITY_POLICY = SECURITY_HEADERS["Content-Security-Policy"]
# The page Entra ID sends people back to carries the sign-in answer: never cached, and not
# isolated from the window that opened the sign-in (MSAL's redirect bridge hands it over).
SIGN_IN_RETURN_PAGE = "signed-in.html"
SIGN_IN_RETURN_HEADERS = {"Cache-Control": "no-store", "Cross-Origin-Opener-Policy": "unsafe-none"}


def https_origin(url: str) -> str | None:
    """`https://host[:port]` of a URL, or None when it is not an https URL."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname:
        return None
    return f"https://{parts.netloc}"


def config_origins(config: object) -> list[str]:
    """The origins a dashboard configuration (config.json) lets the pages call besides their
    own: the API's (`apiBaseUrl`) and the Entra ID authority's (`entra.authority`)."""
    if not isinstance(config, dict):
        return []
    entra = config.get("entra")
    urls = [config.get("apiBaseUrl"), entra.get("authority") if isinstance(entra, dict) else None]
    origins = [https_origin(url) for url in urls if isinstance(url, str) and url]
    return list(dict.fromkeys(o for o in origins if o))


def _read_config(root: Path) -> object:
    try:
        return json.loads((root / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.info("dashboard config.json not read (%s): the pages call their own origin only", exc)
        return {}


@dataclass(frozen=True)
class _Cached:
    stamp: tuple[int, int, int]  # inode, size, mtime_ns
    body: bytes
    gzipped: bytes | None
    etag: str


class DashboardFiles:
    """Serves `GET /` and `GET /<path>` from one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._cache: dict[str, _Cached] = {}
        # config.json is read once, at start: the origins it names join the CSP's connect-src.
        self.headers = security_headers(config_origins(_read_config(self.root)))

    @property
    def available(self) -> bool:
        return (self.root / INDEX).is_file()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.handle)
        app.router.add_get(r"/{path:(?!api/|api$|runtime/|admin/)[^?#]+}", self.handle)

    def locate(self, relative: str) -> Path | None:
        """The file for a request path, or None when it may not be served."""
        parts = relative.split("/") if relative else [INDEX]
        if not parts or any(not _SEGMENT.match(p) for p in parts):
            return None
        if Path(parts[-1]).suffix.lower() not in CONTENT_TYPES:
            return None
        current = self.root
        for part in parts:
            current = current / part
            try:
                info = os.lstat(current)
            except OSError:
                return None
            if stat.S_ISLNK(info.st_mode):
                return None
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            return None
        return current

    def _load(self, path: Path) -> _Cached | None:
        key = str(path)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                return None
            stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
            cached = self._cache.get(key)
            if cached is not None and cached.stamp == stamp:
                return cached
            body = handle.read(MAX_FILE_BYTES + 1)
        if len(body) > MAX_FILE_BYTES:
            return None
        compress = path.suffix.lower() in _COMPRESSIBLE and len(body) > 512
        gzipped = gzip.compress(body, compresslevel=9, mtime=0) if compress else None
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        cached = _Cached(stamp, body, gzipped, etag)
        self._cache[key] = cached
        return cached

    async def handle(self, request: web.Request) -> web.StreamResponse:
        relative = request.match_info.get("path", "")
        path = self.locate(relative)
        cached = self._load(path) if path is not None else None
        if path is None or cached is None:
            return web.json_response(
                {"error": {"code": "not_found", "message": "no such file"}},
                status=404,
                headers=self.headers,
            )
        headers = {
            **self.headers,
            **(SIGN_IN_RETURN_HEADERS if relative == SIGN_IN_RETURN_PAGE else {}),
            "Content-Type": CONTENT_TYPES[path.suffix.lower()],
            "ETag": cached.etag,
            "Vary": "Accept-Encoding",
        }
        if cached.etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        body = cached.body
        if cached.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", ""):
            body = cached.gzipped
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)
