"""Settings resolution: local.settings.json, else the sample; the environment wins."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from standalone.host_config import HostConfigError, load_host_config
from standalone.settings import SettingsError, apply_settings, expand_development_storage


def write(path: Path, values: dict[str, str]) -> None:
    path.write_text(json.dumps({"IsEncrypted": False, "Values": values}))


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("ALPHA", "BETA", "TASKHUB_NAME"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_local_settings_win_over_the_sample(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    write(tmp_path / "local.settings.sample.json", {"ALPHA": "sample", "BETA": "sample"})
    write(tmp_path / "local.settings.json", {"ALPHA": "local"})
    assert apply_settings(tmp_path) == tmp_path / "local.settings.json"
    assert os.environ["ALPHA"] == "local"
    assert "BETA" not in os.environ  # the sample is a fallback, not merged


def test_sample_is_used_when_there_is_no_local_file(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "local.settings.sample.json", {"ALPHA": "sample"})
    apply_settings(tmp_path)
    assert os.environ["ALPHA"] == "sample"


def test_environment_overrides_files(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    write(tmp_path / "local.settings.json", {"ALPHA": "local"})
    clean_env.setenv("ALPHA", "env")
    apply_settings(tmp_path)
    assert os.environ["ALPHA"] == "env"


def test_broken_settings_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "local.settings.json").write_text("{not json")
    with pytest.raises(SettingsError, match="not valid JSON"):
        apply_settings(tmp_path)


def test_host_json_hub_name_from_a_setting(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("TASKHUB_NAME", "MyHub1")
    document = {
        "version": "2.0",
        "extensions": {
            "durableTask": {"hubName": "%TASKHUB_NAME%", "maxConcurrentActivityFunctions": 7}
        },
    }
    (tmp_path / "host.json").write_text(json.dumps(document))
    config = load_host_config(tmp_path)
    assert config.hub_name == "MyHub1"
    assert config.max_activities == 7
    assert config.route_prefix == "api"
    assert config.refuse_running_instances

    clean_env.setenv("TASKHUB_NAME", "bad-name!")
    with pytest.raises(HostConfigError, match="task hub name"):
        load_host_config(tmp_path)


def test_project_host_json_matches_the_owner_requirements() -> None:
    root = Path(__file__).resolve().parents[2]
    document = json.loads((root / "host.json").read_text())
    assert document["extensionBundle"]["version"] == "[4.*, 5.0.0)"
    durable = document["extensions"]["durableTask"]
    assert durable["hubName"] == "%TASKHUB_NAME%"
    assert durable["overridableExistingInstanceStates"] == "NonRunningStates"
    sample = json.loads((root / "local.settings.sample.json").read_text())["Values"]
    # The worker's thread pool and the activity concurrency must agree.
    assert (
        int(sample["PYTHON_THREADPOOL_THREAD_COUNT"]) == durable["maxConcurrentActivityFunctions"]
    )


def test_development_storage_shorthand_expands_to_azurite_defaults() -> None:
    expanded = expand_development_storage("UseDevelopmentStorage=true")
    assert "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1" in expanded
    assert expand_development_storage("DefaultEndpointsProtocol=https;X=1") == (
        "DefaultEndpointsProtocol=https;X=1"
    )
