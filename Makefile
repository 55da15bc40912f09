# The two commands a newcomer needs: `make run` (the dashboard on localhost) and `make test`.
# Each creates or updates its own virtual environment (.venv) from the pinned lock file.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
STAMP  := $(VENV)/.installed
WEB_STAMP := src/dallas_calls/web/vendor/.built

.PHONY: run demo test lint typecheck unit install web lock package-lambda checkov tf-check infra-check clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $@

install: $(STAMP)

# Map libraries come from npm (pinned in package-lock.json) and are served by the app: no CDN.
$(WEB_STAMP): package.json package-lock.json scripts/build_web_vendor.py
	@command -v npm >/dev/null || { echo "npm is needed to install the map libraries (Node.js 18+)"; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund --silent
	$(PYTHON) scripts/build_web_vendor.py
	@touch $@

web: $(WEB_STAMP)

run: install web
	$(BIN)/dallas-calls serve --port $(PORT)

demo: install web
	$(BIN)/dallas-calls serve --demo --port $(PORT)

lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: install
	$(BIN)/mypy

unit: install web
	$(BIN)/pytest -q

test: lint typecheck unit

lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^dallas-calls' > requirements.lock

package-lambda: install
	$(BIN)/python scripts/package_lambda.py

# Static checks of the Terraform. checkov lives in its own venv (it pins many packages of its own).
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.3.30

$(CHECKOV_VENV)/.installed:
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet checkov==$(CHECKOV_VERSION)
	@touch $@

checkov: $(CHECKOV_VENV)/.installed
	$(CHECKOV_VENV)/bin/checkov --config-file infra/terraform/.checkov.yaml -d infra/terraform

# terraform fmt and validate run where terraform is installed (it is not on PyPI, npm or Debian).
# validate needs the AWS provider, which `terraform init` fetches (or finds in a plugin cache or
# mirror): where it cannot, validate is skipped with a message; fmt and validate failures fail.
TF_DIRS := $(sort $(wildcard infra/terraform/modules/*)) infra/terraform/envs/example

tf-check:
	@if ! command -v terraform >/dev/null; then echo "terraform not installed: skipping terraform fmt -check and validate"; exit 0; fi; \
	terraform fmt -check -recursive infra/terraform || exit 1; echo "terraform fmt: clean"; \
	for dir in $(TF_DIRS); do \
	  if terraform -chdir=$$dir init -backend=false -input=false -no-color >/dev/null 2>&1; then \
	    terraform -chdir=$$dir validate -no-color || exit 1; \
	  else echo "terraform validate: skipped in $$dir (terraform init could not get the providers)"; fi; \
	done

infra-check: checkov tf-check

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules src/dallas_calls/web/vendor build .pytest_cache .mypy_cache .ruff_cache
