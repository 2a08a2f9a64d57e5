"""Build the folder azd deploys to the dashboard's Static Web App (`make dashboard-site`).

The pages are the same files the standalone host serves; what differs on Azure is where the
API is. This writes `config.json` naming the Function App's URL (azd's SERVICE_API_URI) and
`staticwebapp.config.json` with the same security headers as the standalone host, except that
the Content-Security-Policy lets the pages call that one API origin.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from urllib.parse import urlsplit

from standalone.dashboard_files import CONTENT_TYPES, SECURITY_HEADERS

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "dashboard"


def api_origin(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"the API URL must be https://host (got {url!r})")
    return f"https://{parts.netloc}"


def site_headers(origin: str) -> dict[str, str]:
    headers = dict(SECURITY_HEADERS)
    headers["Content-Security-Policy"] = headers["Content-Security-Policy"].replace(
        "connect-src 'self'", f"connect-src 'self' {origin}"
    )
    return headers


def build(out: Path, api_url: str) -> None:
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
    (out / "config.json").write_text(json.dumps({"apiBaseUrl": origin}, indent=2) + "\n")
    config = {
        "globalHeaders": site_headers(origin),
        "mimeTypes": {".mjs": "text/javascript", ".js": "text/javascript"},
    }
    (out / "staticwebapp.config.json").write_text(json.dumps(config, indent=2) + "\n")


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else ROOT / ".dashboard-site").resolve()
    api_url = os.environ.get("SERVICE_API_URI", "")
    if not api_url:
        sys.stderr.write("SERVICE_API_URI is not set (azd sets it after `azd provision`)\n")
        return 2
    build(out, api_url)
    sys.stdout.write(f"dashboard site for {api_origin(api_url)} in {out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
