# The two commands: `make run` and `make test`. Both set themselves up on a fresh Debian
# machine with Python 3.11 and Node (and registry access); `make setup` is the shared part.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 7071
HOST ?= 127.0.0.1
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup run test lint format host-scan-tools tmux chromium screenshots bench clean

setup: $(VENV)/.installed node_modules/.installed dashboard/vendor/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python3 -m venv failed; installing python3-venv"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv && \
	  rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	# The command-line client (scanctl), editable (a path entry: no import hook for every
	# Python start to pay for); its dependency is pinned above already.
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The dashboard's third-party ES modules, copied from the npm packages pinned in package-lock.json
# (no CDN, no bundler). Preact's hooks import "preact" by bare name; a browser without an import
# map (an inline script, which the dashboard's CSP forbids) needs a relative path.
dashboard/vendor/.installed: node_modules/.installed
	mkdir -p dashboard/vendor
	cp node_modules/preact/dist/preact.mjs dashboard/vendor/preact.mjs
	sed 's#from"preact"#from"./preact.mjs"#' node_modules/preact/hooks/dist/hooks.mjs \
	  > dashboard/vendor/preact-hooks.mjs
	cp node_modules/htm/dist/htm.mjs dashboard/vendor/htm.mjs
	# MSAL for the browser (Entra ID sign-in; loaded only when config.json asks for it) and its
	# redirect bridge (signed-in.html): the library's own minified builds, as published.
	cp node_modules/@azure/msal-browser/lib/msal-browser.min.js dashboard/vendor/msal-browser.min.js
	cp node_modules/@azure/msal-browser/lib/redirect-bridge/msal-redirect-bridge.min.js \
	  dashboard/vendor/msal-redirect-bridge.min.js
	@touch $@

# The folder azd deploys to the dashboard's Static Web App (azure.yaml service `web`).
.PHONY: dashboard-site
dashboard-site: setup
	$(PY) -m infra.dashboard_site .dashboard-site

run: setup
	$(PY) -m standalone --host $(HOST) --port $(PORT)

# Debian packages the tests need, installed with apt when a file of theirs is missing (and we
# may use apt). $(1): `file:package` entries.
define install_missing
	@missing=""; for tool in $(1); do \
	  [ -x "$${tool%%:*}" ] || missing="$$missing $${tool#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1; }; then \
	    echo "installing$$missing"; \
	    $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	  else echo "missing and cannot be installed here:$$missing" >&2; exit 1; fi; \
	fi
endef

# The host-scan tests: OpenSSH's and Dropbear's servers, BusyBox (a small device's userland),
# iproute2 (network namespaces).
host-scan-tools:
	$(call install_missing,/usr/sbin/sshd:openssh-server /usr/sbin/dropbear:dropbear-bin \
	  /bin/busybox:busybox /usr/sbin/ip:iproute2)

# tmux for the command-line client's live-view test (a real terminal).
tmux:
	$(call install_missing,/usr/bin/tmux:tmux)

# Debian's Chromium for the dashboard's browser tests (driven by Playwright through the system
# executable; a browser is never downloaded).
chromium:
	$(call install_missing,/usr/bin/chromium:chromium)

# PNGs of every dashboard page at desktop and phone width, in screenshots/ (git-ignored).
screenshots: setup host-scan-tools chromium
	$(PY) -m tests.dashboard.screenshots screenshots

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# checkov over infra/ (it parses Bicep offline). It has many dependencies, so it lives in its own
# venv, rebuilt only when missing or when the pinned version changes (the stamp names the version).
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

.PHONY: infra-check
# checkov silently skips a Bicep file it cannot parse, so every file must parse first.
infra-check: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/python tests/infra/bicep_parse_check.py infra
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -d infra --framework bicep \
	  --skip-download --compact --quiet

$(CHECKOV_STAMP):
	rm -rf $(CHECKOV_VENV)
	@$(PYTHON) -m venv $(CHECKOV_VENV) 2>/dev/null || { \
	  echo "python3 -m venv failed; installing python3-venv"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv && \
	  rm -rf $(CHECKOV_VENV) && $(PYTHON) -m venv $(CHECKOV_VENV); }
	$(CHECKOV_VENV)/bin/python -m pip install -q --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install -q checkov==$(CHECKOV_VERSION)
	@touch $@

test: setup host-scan-tools tmux chromium lint infra-check
	$(PY) -m pytest

bench: setup
	$(PY) bench/durable_fanout.py

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .venv-ansible .venv-doorstop node_modules dashboard/vendor .dashboard-site .standalone .pytest_cache .mypy_cache .ruff_cache screenshots
