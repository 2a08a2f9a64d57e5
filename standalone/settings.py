"""App settings for the standalone host, resolved the way the Functions host resolves them.

Order (later wins): `local.settings.sample.json` defaults, else `local.settings.json` `Values`
when that file exists, then the process environment. The result is written into `os.environ`,
because that is where app code reads its settings in Azure too.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

log = logging.getLogger(__name__)

LOCAL_SETTINGS = "local.settings.json"
SAMPLE_SETTINGS = "local.settings.sample.json"
STORAGE_SETTING = "AzureWebJobsStorage"
# Where the app's files (host.json, function_app.py) are; the Functions host sets it in Azure.
SCRIPT_ROOT_SETTING = "AzureWebJobsScriptRoot"

# Azurite's documented development account. It is public (printed in Azurite's README), not a
# secret, and only ever used against a loopback emulator.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

_SETTING_REF = re.compile(r"%([A-Za-z0-9_.:-]+)%")


class SettingsError(Exception):
    """A settings file exists but cannot be used."""


def read_settings_file(app_dir: Path) -> tuple[dict[str, str], Path | None]:
    """Return the `Values` of local.settings.json, else of the sample, and which file was read."""
    for name in (LOCAL_SETTINGS, SAMPLE_SETTINGS):
        path = app_dir / name
        if not path.is_file():
            continue
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SettingsError(f"{path}: not valid JSON ({exc})") from exc
        values = document.get("Values", {}) if isinstance(document, dict) else {}
        if not isinstance(values, dict):
            raise SettingsError(f"{path}: 'Values' must be an object")
        return {str(k): "" if v is None else str(v) for k, v in values.items()}, path
    return {}, None


def apply_settings(app_dir: Path) -> Path | None:
    """Load the settings file into os.environ without overriding what the environment sets."""
    values, source = read_settings_file(app_dir)
    for key, value in values.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault(SCRIPT_ROOT_SETTING, str(app_dir))
    if source is not None:
        log.info("settings loaded from %s (environment variables take precedence)", source.name)
    return source


def resolve_setting_refs(text: str) -> str:
    """Replace `%NAME%` references (host.json, schedules) with the named setting's value."""
    return _SETTING_REF.sub(lambda m: os.environ.get(m.group(1), ""), text)


def storage_is_configured() -> bool:
    """True when AzureWebJobsStorage names real storage; empty means: start Azurite."""
    return bool(os.environ.get(STORAGE_SETTING, "").strip())


def azurite_connection_string(blob_port: int, queue_port: int, table_port: int) -> str:
    """Connection string for an Azurite listening on 127.0.0.1 with the given ports."""
    base = f"http://127.0.0.1:{{}}/{AZURITE_ACCOUNT}"
    return (
        "DefaultEndpointsProtocol=http;"
        f"AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint={base.format(blob_port)};"
        f"QueueEndpoint={base.format(queue_port)};"
        f"TableEndpoint={base.format(table_port)};"
    )


def expand_development_storage(value: str) -> str:
    """`UseDevelopmentStorage=true` means an Azurite the user runs on its default ports."""
    if value.strip().lower().rstrip(";") == "usedevelopmentstorage=true":
        return azurite_connection_string(10000, 10001, 10002)
    return value
