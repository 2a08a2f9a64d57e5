"""The repository engine's wiring: settings read once, credentials read only when asked for."""

from __future__ import annotations

import pytest

from orchestrations.core.settings import AppSettings
from orchestrations.engines.repositories import RepositorySettings, create_engine
from orchestrations.engines.secrets import SecretReader
from scanner.engine import ScanError
from scanner.repository.engine import RepositoryEngine


def test_wiring_reads_settings_and_credentials_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPO_MAX_FILE_BYTES", "2048")
    monkeypatch.setenv("REPO_DOCUMENT_EXTENSIONS", "md, .TXT")
    engine = create_engine(AppSettings(repo_allow_local_paths=True))
    assert isinstance(engine, RepositoryEngine)
    assert engine.options.limits.max_file_bytes == 2048
    assert engine.options.limits.extensions == (".md", ".txt")
    assert engine.options.allow_local_paths is True

    reader = SecretReader(key_vault_url="")
    monkeypatch.setenv("GXP_REPO_TOKEN", "s3cret")
    assert reader("GXP_REPO_TOKEN") == "s3cret"
    with pytest.raises(ScanError, match="names no app setting and KEY_VAULT_URL is not set"):
        reader("NO_SUCH_SETTING_XYZ")
    with pytest.raises(ScanError, match="not a valid setting or secret name"):
        reader("bad name; rm -rf /")
    assert RepositorySettings().repo_token_username == "x-access-token"
