"""Cross-file checks a Bicep compiler would make, for the mistakes hand-written Bicep invites.

No Bicep compiler runs here (checkov parses, but does not type-check across modules), so this
checks what is cheap to check textually: module paths exist, every `params:` key is a declared
parameter of the module, no required parameter is left out, every `<module>.outputs.<name>`
exists, main.parameters.json matches main.bicep, azure.yaml points azd at this infra.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infra import settings_sources as sources

INFRA = sources.ROOT / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))

_PARAM = re.compile(r"^param\s+([A-Za-z_]\w*)\s+([A-Za-z_][\w.]*)(\s*=)?", re.MULTILINE)
_OUTPUT = re.compile(r"^output\s+([A-Za-z_]\w*)\s+", re.MULTILINE)
_MODULE = re.compile(r"^module\s+([A-Za-z_]\w*)\s+'([^']+)'\s*=", re.MULTILINE)
_OUTPUT_REF = re.compile(r"\b([A-Za-z_]\w*)(?:\[[^\]]*\])?\.outputs\.([A-Za-z_]\w*)")


@dataclass
class BicepFile:
    path: Path
    text: str
    params: dict[str, bool]  # name -> has a default value
    outputs: set[str]
    modules: dict[str, tuple[Path, dict[str, str]]]  # symbol -> (file, params given)


def parse(path: Path) -> BicepFile:
    text = path.read_text(encoding="utf-8")
    params = {m.group(1): bool(m.group(3)) for m in _PARAM.finditer(text)}
    outputs = {m.group(1) for m in _OUTPUT.finditer(text)}
    modules: dict[str, tuple[Path, dict[str, str]]] = {}
    for match in _MODULE.finditer(text):
        end = sources._expression_end(text, match.end())
        body = text[match.end() : end]
        given: dict[str, str] = {}
        params_at = body.find("params:")
        if params_at >= 0:
            block_start = body.index("{", params_at)
            block_end = sources._expression_end(body, block_start)
            given = sources.object_literal_entries(body[block_start:block_end])
        modules[match.group(1)] = ((path.parent / match.group(2)).resolve(), given)
    return BicepFile(path, text, params, outputs, modules)


@pytest.fixture(scope="module")
def files() -> dict[Path, BicepFile]:
    return {path.resolve(): parse(path) for path in BICEP_FILES}


def test_there_is_infra_to_check(files: dict[Path, BicepFile]) -> None:
    assert (INFRA / "main.bicep").resolve() in files
    main = files[(INFRA / "main.bicep").resolve()]
    assert "functionApp" in main.modules and "storage" in main.modules
    assert main.modules["functionApp"][1]["identityClientId"] == "identity.outputs.clientId"


def test_module_calls_match_module_parameters(files: dict[Path, BicepFile]) -> None:
    problems: list[str] = []
    for bicep in files.values():
        for symbol, (target, given) in bicep.modules.items():
            where = f"{bicep.path.relative_to(INFRA)}: module {symbol}"
            if target not in files:
                problems.append(f"{where}: no file {target}")
                continue
            declared = files[target].params
            problems += [f"{where}: unknown param {p}" for p in sorted(set(given) - set(declared))]
            required = {p for p, has_default in declared.items() if not has_default}
            problems += [f"{where}: missing param {p}" for p in sorted(required - set(given))]
    assert not problems, "\n".join(problems)


def test_module_outputs_that_are_used_exist(files: dict[Path, BicepFile]) -> None:
    problems: list[str] = []
    for bicep in files.values():
        for symbol, output in _OUTPUT_REF.findall(bicep.text):
            if symbol not in bicep.modules:
                continue  # a resource's outputs, not a module's
            target = bicep.modules[symbol][0]
            if target in files and output not in files[target].outputs:
                problems.append(f"{bicep.path.relative_to(INFRA)}: {symbol}.outputs.{output}")
    assert not problems, "outputs used but not declared:\n" + "\n".join(problems)


def test_parameters_file_matches_main(files: dict[Path, BicepFile]) -> None:
    main = files[(INFRA / "main.bicep").resolve()]
    document = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))
    given = set(document["parameters"])
    assert given <= set(main.params), given - set(main.params)
    required = {name for name, has_default in main.params.items() if not has_default}
    assert required <= given, required - given
    # Secrets never sit in the file: the initial API keys come from azd's generator / Key Vault.
    initial = document["parameters"]["initialScanApiKeys"]["value"]
    assert initial.startswith("$(secretOrRandomPassword ${AZURE_KEY_VAULT_NAME} scan-api-keys)")


def test_azure_yaml_deploys_this_directory_as_a_function_app() -> None:
    text = (sources.ROOT / "azure.yaml").read_text(encoding="utf-8")
    assert re.search(r"^\s+path: infra$", text, re.MULTILINE)
    assert re.search(r"^\s+project: \.$", text, re.MULTILINE)
    assert re.search(r"^\s+language: python$", text, re.MULTILINE)
    assert re.search(r"^\s+host: function$", text, re.MULTILINE)
    # azd finds the app by this tag; the service is called `api` in azure.yaml.
    assert "'azd-service-name': 'api'" in (INFRA / "modules" / "function-app.bicep").read_text()


def test_flex_consumption_runs_python_311_with_identity_based_deployment() -> None:
    text = (INFRA / "modules" / "function-app.bicep").read_text(encoding="utf-8")
    assert re.search(r"runtime: \{\s*name: 'python'\s*version: '3.11'\s*\}", text)
    assert "tier: 'FlexConsumption'" in text and "name: 'FC1'" in text
    assert "type: 'UserAssignedIdentity'" in text
    assert "keyVaultReferenceIdentity: identityId" in text


def test_storage_and_monitoring_allow_no_keys() -> None:
    storage = (INFRA / "modules" / "storage.bicep").read_text(encoding="utf-8")
    assert "allowSharedKeyAccess: false" in storage
    assert "minimumTlsVersion: 'TLS1_2'" in storage
    monitoring = (INFRA / "modules" / "monitoring.bicep").read_text(encoding="utf-8")
    assert "DisableLocalAuth: true" in monitoring and "disableLocalAuth: true" in monitoring
    vault = (INFRA / "modules" / "keyvault.bicep").read_text(encoding="utf-8")
    assert "enableRbacAuthorization: true" in vault and "enablePurgeProtection: true" in vault


def test_every_checkov_suppression_gives_a_reason() -> None:
    pattern = re.compile(r"checkov:skip=(CKV\w*)(:?)(.*)$", re.MULTILINE)
    suppressions = [(p, m) for p in BICEP_FILES for m in pattern.finditer(p.read_text())]
    assert suppressions  # the pattern works (we do have justified suppressions)
    unjustified = [
        f"{path.name}: {m.group(1)}" for path, m in suppressions if len(m.group(3).strip()) < 20
    ]
    assert not unjustified, unjustified
