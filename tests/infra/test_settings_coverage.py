"""Every app setting the code reads is set by the Bicep or documented as optional.

Sources (tests/infra/settings_sources.py): the code's env reads (AST), the fields of
orchestrations/core/settings.py, host.json `%NAME%` references; the Bicep's `*AppSettings` object
literals; the table in docs/settings.md.
"""

from __future__ import annotations

import pytest

from tests.infra import settings_sources as sources

# Flex Consumption takes these from functionAppConfig and rejects (or ignores) them as settings.
FLEX_FORBIDDEN = {
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
}
# Settings holding secrets: in Azure they must be Key Vault references, never literals.
SECRET_SETTINGS = {"SSH_PRIVATE_KEY_PASSPHRASE"}


@pytest.fixture(scope="module")
def code() -> sources.CodeSettings:
    return sources.code_settings()


@pytest.fixture(scope="module")
def bicep() -> sources.BicepSettings:
    return sources.bicep_settings()


@pytest.fixture(scope="module")
def docs() -> dict[str, str]:
    return sources.documented_settings()


def covered(
    name: str,
    bicep: sources.BicepSettings,
    docs: dict[str, str],
    *,
    case_sensitive: bool = True,
) -> bool:
    """Set by the Bicep (directly or as `NAME__*`), or documented as not set by it."""
    if bicep.covers(name, case_sensitive=case_sensitive):
        return True
    if case_sensitive:
        return docs.get(name) in sources.NOT_SET_BY_BICEP
    lowered = {key.lower(): value for key, value in docs.items()}
    return lowered.get(name.lower()) in sources.NOT_SET_BY_BICEP


def test_every_setting_the_code_reads_is_set_or_documented_optional(
    code: sources.CodeSettings, bicep: sources.BicepSettings, docs: dict[str, str]
) -> None:
    missing = [
        f"{name} (read at {', '.join(where)})"
        for name, where in sorted(code.exact.items())
        if not covered(name, bicep, docs)
    ]
    missing += [
        f"{name} (read at {', '.join(where)})"
        for name, where in sorted(code.case_insensitive.items())
        if not covered(name, bicep, docs, case_sensitive=False)
    ]
    assert not missing, (
        "settings read by the code but neither set in infra (a `*AppSettings` variable) nor "
        "listed in docs/settings.md as optional/platform/local:\n  " + "\n  ".join(missing)
    )


def test_the_code_names_its_settings_literally(code: sources.CodeSettings) -> None:
    assert not code.unresolved, (
        "env reads whose key is not a literal or a module-level string constant (so this test "
        f"cannot see the name; mark a deliberate one `# {sources.DYNAMIC_MARKER}`): "
        f"{code.unresolved}"
    )


def test_discovery_sees_the_known_readers(code: sources.CodeSettings) -> None:
    # The scan really finds things: host.json's task hub, telemetry's env reads, and the
    # pydantic fields of the settings classes.
    assert "host.json" in code.exact["TASKHUB_NAME"]
    telemetry = "orchestrations/core/telemetry.py"
    assert any(w.startswith(telemetry) for w in code.exact["AZURE_CLIENT_ID"])
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in code.exact
    assert "scan_api_keys" in {name.lower() for name in code.case_insensitive}
    # Settings classes are found in every subpackage: the core settings and each engine's.
    modules = set(sources.settings_modules())
    assert {
        "orchestrations.core.settings",
        "orchestrations.engines.hosts",
        "orchestrations.engines.repositories",
        "orchestrations.engines.subscriptions",
    } <= modules
    assert "ssh_connect_timeout_s" in {name.lower() for name in code.case_insensitive}


def test_bicep_sets_the_identity_based_storage_connection(bicep: sources.BicepSettings) -> None:
    suffixes = ("credential", "clientId", "blobServiceUri", "queueServiceUri", "tableServiceUri")
    for suffix in suffixes:
        assert f"AzureWebJobsStorage__{suffix}" in bicep.values
    assert bicep.values["AzureWebJobsStorage__credential"] == "'managedidentity'"
    assert "AzureWebJobsStorage" not in bicep.values  # no connection string, no key
    assert bicep.covers("AzureWebJobsStorage")


def test_an_unknown_setting_is_not_reported_as_covered(
    bicep: sources.BicepSettings, docs: dict[str, str]
) -> None:
    unknown = "SCAN_DELIBERATELY_UNKNOWN_SETTING"
    assert not covered(unknown, bicep, docs)
    assert not covered(unknown.lower(), bicep, docs, case_sensitive=False)
    # A prefix of a real setting is not a setting either (only `NAME__x` counts for `NAME`).
    assert not covered("SSH_PRIVATE", bicep, docs)
    assert not covered("AzureWebJobs", bicep, docs)


def test_an_unknown_read_in_code_would_fail_the_coverage_check(
    bicep: sources.BicepSettings, docs: dict[str, str]
) -> None:
    found = sources.CodeSettings()
    source = (
        "import os\nfrom os import environ, getenv\nNAME = 'SCAN_NEW_KNOB'\n"
        "a = os.environ.get('TASKHUB_NAME')\nb = os.environ['SCAN_OTHER_KNOB']\n"
        "c = getenv(NAME)\nd = 'SCAN_THIRD' in environ\ne = os.getenv(f'X{a}')\n"
        "os.environ['WRITTEN_NOT_READ'] = '1'\n"
    )
    sources.env_reads_in_source(source, "example.py", found)
    assert set(found.exact) == {"TASKHUB_NAME", "SCAN_OTHER_KNOB", "SCAN_NEW_KNOB", "SCAN_THIRD"}
    assert found.unresolved == ["example.py:8"]
    uncovered = {name for name in found.exact if not covered(name, bicep, docs)}
    assert uncovered == {"SCAN_OTHER_KNOB", "SCAN_NEW_KNOB", "SCAN_THIRD"}


def test_every_bicep_setting_is_documented(
    bicep: sources.BicepSettings, docs: dict[str, str]
) -> None:
    undocumented = sorted(name for name in bicep.values if name not in docs)
    assert not undocumented, f"set by infra but missing from docs/settings.md: {undocumented}"
    mislabelled = sorted(name for name in bicep.values if docs[name] != sources.SET_BY_BICEP)
    assert not mislabelled, f"set by infra but not marked `bicep` in docs: {mislabelled}"


def test_docs_marked_bicep_are_really_set_by_bicep(
    bicep: sources.BicepSettings, docs: dict[str, str]
) -> None:
    claimed = sorted(
        name for name, set_by in docs.items() if set_by == "bicep" and name not in bicep.values
    )
    assert not claimed, f"docs/settings.md says the Bicep sets these, it does not: {claimed}"
    unknown = {name: set_by for name, set_by in docs.items() if set_by not in sources.SET_BY_VALUES}
    assert not unknown, f"unknown 'set by' values in docs/settings.md: {unknown}"


def test_flex_consumption_settings_are_not_app_settings(bicep: sources.BicepSettings) -> None:
    assert not FLEX_FORBIDDEN & set(bicep.values)


def test_secrets_are_key_vault_references(bicep: sources.BicepSettings) -> None:
    for name in SECRET_SETTINGS:
        value = bicep.values[name]
        text = bicep.variables.get(value, value)  # a variable name, or the expression itself
        assert text.startswith("'@Microsoft.KeyVault(SecretUri="), (name, text)
