"""Build the folder azd deploys to the dashboard's Static Web App (`make dashboard-site`).

The pages are the same files the standalone host serves; what differs on Azure is where the
API is and how people sign in. This writes `config.json` naming the Function App's URL (azd's
SERVICE_API_URI) and, when the API's app registration is set (ENTRA_API_CLIENT_ID), the Entra ID
sign-in (the tenant's authority, the registration as the dashboard's client, the API's scope),
and `staticwebapp.config.json` with the same security headers as the standalone host, except
that the Content-Security-Policy lets the pages call the origins config.json names.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from standalone.dashboard_files import (
    CONTENT_TYPES,
    SIGN_IN_RETURN_HEADERS,
    SIGN_IN_RETURN_PAGE,
    config_origins,
    https_origin,
    security_headers,
)

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "dashboard"
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"


def api_origin(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"the API URL must be https://host (got {url!r})")
    return f"https://{parts.netloc}"


def entra_sign_in(tenant_id: str, client_id: str, authority_host: str = "") -> dict[str, Any]:
    """The dashboard's Entra ID sign-in: the API's own app registration signs people in (its
    single-page-application redirect URI is the site's signed-in.html) and asks for the API's
    `access_as_user` scope; the token's roles are the person's app roles."""
    host = https_origin(authority_host or DEFAULT_AUTHORITY_HOST)
    if host is None:
        raise ValueError(f"the authority host must be https://host (got {authority_host!r})")
    return {
        "clientId": client_id,
        "authority": f"{host}/{tenant_id}",
        "scopes": [f"api://{client_id}/access_as_user"],
    }


def build(out: Path, api_url: str, entra: dict[str, Any] | None = None) -> None:
    origin = api_origin(api_url)
    if not (DASHBOARD / "vendor" / "preact.mjs").is_file():
        raise FileNotFoundError("dashboard/vendor is missing: run `make setup` first")
    if out.exists():
        shutil.rmtree(out)
    # Only what the standalone host would serve: page files, no dot files, no links.
    for source in sorted(DASHBOARD.rglob("*")):
        relative = source.relative_to(DASHBOARD)
        if any(part.startswith(".") for part in relative.parts) or source.is_symlink():
            continue
        if source.is_file() and source.suffix.lower() in CONTENT_TYPES:
            target = out / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    site: dict[str, Any] = {"apiBaseUrl": origin}
    if entra:
        site["entra"] = entra
    (out / "config.json").write_text(json.dumps(site, indent=2) + "\n")
    config = {
        "globalHeaders": security_headers(config_origins(site)),
        "routes": [{"route": f"/{SIGN_IN_RETURN_PAGE}", "headers": SIGN_IN_RETURN_HEADERS}],
        "mimeTypes": {".mjs": "text/javascript", ".js": "text/javascript"},
    }
    (out / "staticwebapp.config.json").write_text(json.dumps(config, indent=2) + "\n")


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else ROOT / ".dashboard-site").resolve()
    api_url = os.environ.get("SERVICE_API_URI", "")
    if not api_url:
        sys.stderr.write("SERVICE_API_URI is not set (azd sets it after `azd provision`)\n")
        return 2
    client_id = os.environ.get("ENTRA_API_CLIENT_ID", "")
    tenant_id = os.environ.get("AZURE_TENANT_ID", "")
    if client_id and not tenant_id:
        sys.stderr.write("ENTRA_API_CLIENT_ID needs AZURE_TENANT_ID (azd provision sets it)\n")
        return 2
    authority_host = os.environ.get("AZURE_AUTHORITY_HOST", "")
    entra = entra_sign_in(tenant_id, client_id, authority_host) if client_id else None
    build(out, api_url, entra)
    sys.stdout.write(f"dashboard site for {api_origin(api_url)} in {out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
