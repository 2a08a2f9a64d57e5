"""Which repository URLs a scan may fetch: the forms Git users write, and none of the forms
that have smuggled options or commands into Git clients."""

from __future__ import annotations

import pytest

from scanner.repository.urls import RepositoryUrlError, check_repository_url

ACCEPTED = [
    "https://github.com/example/gxp-docs.git",
    "https://dev.azure.com/org/project/_git/docs",
    "https://x-access-token@github.com/example/docs.git",
    "https://127.0.0.1:8443/docs.git",
    "https://[::1]:8443/docs.git",
    "ssh://git@github.com/example/docs.git",
    "ssh://git@ssh.dev.azure.com:22/v3/org/project/docs",
    "git@github.com:example/docs.git",
    "github.com:example/docs.git",
    "git@[2001:db8::1]:docs.git",
]

REFUSED = {
    "ssh://-oProxyCommand=touch%20/tmp/pwned/x": "cannot start with '-'",
    "ssh://-oProxyCommand=id@host/x": "user of a repository url cannot start with '-'",
    "-oProxyCommand=id:x": "cannot start with '-'",
    "git@-oProxyCommand=id:x": "host of a repository url cannot start with '-'",
    "git@host:-upload-pack=id": "path of a repository url cannot start with '-'",
    "ssh://git@host/--upload-pack=id": "path of a repository url cannot start with '-'",
    "ssh://%2doProxyCommand=id/x": "not a DNS name",
    "https://host\n.example.com/x": "control characters",
    "https://example.com/a\x00b": "control characters",
    "https://example.com/a b": "spaces",
    "ext::sh -c touch% /tmp/pwned": "remote helper",
    "fd::17": "remote helper",
    "persistent-https::example.com/x": "remote helper",
    "https://user:s3cret@example.com/x.git": "cannot hold a password",
    "http://example.com/x.git": "not http://",
    "git://example.com/x.git": "not git://",
    "file:///srv/git/x.git": "REPO_ALLOW_LOCAL_PATHS",
    "/srv/git/x.git": "REPO_ALLOW_LOCAL_PATHS",
    "https://example.com": "needs a path",
    "https://example.com:port/x": "not a number",
    "https://example.com/x?upload-pack=id": "query",
    "relative/path": "url must be https://",
    "": "required",
}


@pytest.mark.parametrize("url", ACCEPTED)
def test_the_forms_git_users_write_are_accepted(url: str) -> None:
    assert check_repository_url(url, allow_local_paths=False) == url


@pytest.mark.parametrize("url", list(REFUSED))
def test_option_injection_helpers_and_odd_forms_are_refused(url: str) -> None:
    with pytest.raises(RepositoryUrlError, match=REFUSED[url]):
        check_repository_url(url, allow_local_paths=False)


def test_local_paths_only_where_allowed_and_absolute() -> None:
    assert check_repository_url("/srv/git/my docs.git", allow_local_paths=True)
    assert check_repository_url("file:///srv/git/x.git", allow_local_paths=True)
    with pytest.raises(RepositoryUrlError, match="absolute"):
        check_repository_url("file://srv/git/x.git", allow_local_paths=True)
    with pytest.raises(RepositoryUrlError, match="control characters"):
        check_repository_url("/srv/git/x\n.git", allow_local_paths=True)
