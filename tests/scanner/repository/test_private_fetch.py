"""A private repository over https (real TLS, Git's smart HTTP protocol, Basic auth): the token
named by the credentials reference is read only when the server asks, and never shows up in
messages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pygit2
import pytest

from scanner.engine import ScanError
from scanner.repository.engine import EngineOptions, index_repository
from scanner.repository.git_source import Source
from tests.support.git_repos import GitHttpsServer, GitRepo, clean_tree

TOKEN = "ghp_test_token_0123456789"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GitHttpsServer, str]]:
    root = tmp_path_factory.mktemp("served")
    repo = GitRepo(root / "work")
    repo.write_artifacts(clean_tree())
    head = repo.commit("served")
    repo.git("clone", "-q", "--bare", str(repo.path), str(root / "docs.git"))
    with GitHttpsServer(root, "x-access-token", TOKEN, tmp_path_factory.mktemp("tls")) as https:
        pygit2.settings.set_ssl_cert_locations(str(https.ca_file), None)
        yield https, head


def test_token_from_the_credentials_reference(server: tuple[GitHttpsServer, str]) -> None:
    https, head = server
    asked: list[str] = []

    def secrets(ref: str) -> str | None:
        asked.append(ref)
        return TOKEN

    source = Source(https.url("docs.git"), credentials_ref="GXP_DOCS_TOKEN")
    index = index_repository(source, None, EngineOptions(), secrets)
    assert index.commit == head and len(index.artifacts) == 4
    assert asked == ["GXP_DOCS_TOKEN"]  # once, when the server asked
    assert any(authorised for _, _, authorised in https.requests)


def test_wrong_or_missing_credentials_fail_clearly(server: tuple[GitHttpsServer, str]) -> None:
    https, _ = server
    url = https.url("docs.git")
    with pytest.raises(ScanError, match="rejected the credentials") as wrong:
        index_repository(Source(url, credentials_ref="T"), None, EngineOptions(), lambda _: "bad")
    assert "bad" not in str(wrong.value)
    with pytest.raises(ScanError, match="asks for credentials and none are configured"):
        index_repository(Source(url), None, EngineOptions())
    with pytest.raises(ScanError, match="holds no secret"):
        index_repository(Source(url, credentials_ref="T"), None, EngineOptions(), lambda _: "")


def test_a_missing_remote_repository_fails_without_the_token_in_the_message(
    server: tuple[GitHttpsServer, str],
) -> None:
    https, _ = server
    with pytest.raises(ScanError) as missing:
        source = Source(https.url("nothing.git"), credentials_ref="T")
        index_repository(source, None, EngineOptions(), lambda _: TOKEN)
    assert "cannot fetch https://127.0.0.1" in str(missing.value)
    assert TOKEN not in str(missing.value)


def test_local_source_never_reads_secrets(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "r")
    repo.write_artifacts(clean_tree())
    repo.commit("x")

    def secrets(ref: str) -> str | None:
        raise AssertionError("read a secret for a repository that asks for none")

    source = Source(str(repo.path), credentials_ref="UNUSED")
    index = index_repository(source, None, EngineOptions(allow_local_paths=True), secrets)
    assert len(index.artifacts) == 4
