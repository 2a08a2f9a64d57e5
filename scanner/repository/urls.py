"""Which repository URLs a scan may fetch: https, ssh and scp-like `user@host:path`, and local
paths where the deployment allows them.

Refused, whatever the Git library in use would do with them today: a host, user or path that
starts with `-` (read as an option by an ssh client: `ssh://-oProxyCommand=...`), control
characters and whitespace, percent-escapes in the host, remote-helper transports
(`ext::`, `fd::`, any `<helper>::`), and passwords in the URL (a credential belongs in a
credentials reference, not in the registry).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_HOST_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
_IPV6 = re.compile(r"^\[[0-9A-Fa-f:.]{2,45}\]$")
_USER = re.compile(r"^[A-Za-z0-9._~][A-Za-z0-9._~-]{0,63}$")
# scp-like: [user@]host:path, the host without a slash (else it is a local path).
_SCP_LIKE = re.compile(r"^(?:([^@/:]+)@)?(\[[^\]/]+\]|[^@/:\[\]]+):(.*)$")


_FORMS = "url must be https://host/path, ssh://host/path or user@host:path"


class RepositoryUrlError(ValueError):
    """The URL is not one a scan may fetch; the message says why."""


def _check_host(host: str) -> None:
    if host.startswith("-"):
        raise RepositoryUrlError("the host of a repository url cannot start with '-'")
    if not (_HOST_NAME.match(host) or _IPV6.match(host)):
        raise RepositoryUrlError(f"the host {host[:64]!r} is not a DNS name or an IP address")


def _check_user(user: str | None) -> None:
    if user is None:
        return
    if user.startswith("-"):
        raise RepositoryUrlError("the user of a repository url cannot start with '-'")
    if not _USER.match(user):
        raise RepositoryUrlError("the user of a repository url has characters it cannot hold")


def _check_path(path: str) -> None:
    if path.lstrip("/").startswith("-"):
        raise RepositoryUrlError("the path of a repository url cannot start with '-'")
    if not path.strip("/"):
        raise RepositoryUrlError("a repository url needs a path")


def check_repository_url(url: str, allow_local_paths: bool) -> str:
    """`url` when a scan may fetch it; RepositoryUrlError saying why not otherwise."""
    if not url:
        raise RepositoryUrlError("a repository url is required")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise RepositoryUrlError("a repository url cannot hold control characters")
    if url.startswith("/") or url.startswith("file://"):
        if not allow_local_paths:
            raise RepositoryUrlError(
                "url must be an https:// or ssh URL (local paths need REPO_ALLOW_LOCAL_PATHS)"
            )
        if not url.removeprefix("file://").startswith("/"):
            raise RepositoryUrlError("a local repository path must be absolute")
        return url
    if _HELPER.match(url):
        raise RepositoryUrlError("remote helper transports (ext::, fd::, ...) are not allowed")
    if " " in url:
        raise RepositoryUrlError("a repository url cannot hold spaces")
    if url.startswith(("https://", "ssh://")):
        parts = urlsplit(url)
        if parts.password is not None:
            raise RepositoryUrlError(
                "a repository url cannot hold a password: name it in credentialsRef"
            )
        netloc_host = parts.netloc.rpartition("@")[2]
        host = netloc_host.rsplit(":", 1)[0] if not netloc_host.endswith("]") else netloc_host
        _check_host(host)
        try:
            parts.port  # noqa: B018 - parsing it is the check
        except ValueError as exc:
            raise RepositoryUrlError("the port of a repository url is not a number") from exc
        _check_user(parts.username)
        _check_path(parts.path)
        if parts.query or parts.fragment:
            raise RepositoryUrlError("a repository url cannot have a query or fragment")
        return url
    if "://" in url:
        scheme = url.split("://", 1)[0][:20]
        raise RepositoryUrlError(f"{_FORMS} (not {scheme}://)")
    match = _SCP_LIKE.match(url)
    if match is None:
        raise RepositoryUrlError(_FORMS)
    user, host, path = match.groups()
    _check_user(user)
    _check_host(host)
    _check_path(path)
    return url
