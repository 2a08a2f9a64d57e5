"""Session-wide real components: one Azurite for the whole run (each test uses its own hub)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from standalone.azurite import Azurite
from tests.support.entra import FakeEntra


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Connection string of an Azurite started for this test session."""
    emulator = Azurite(tmp_path_factory.mktemp("azurite"))
    connection = emulator.start()
    yield connection
    emulator.stop()


@pytest.fixture
def hub_name() -> str:
    """A task hub of its own per test, so tests never see each other's instances."""
    return "T" + uuid.uuid4().hex[:20]


@pytest.fixture(scope="session")
def entra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeEntra]:
    """A fake Entra ID tenant (OpenID configuration and signing keys over TLS on loopback)."""
    with FakeEntra(tmp_path_factory.mktemp("entra")) as fake:
        yield fake
