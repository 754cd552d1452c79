# Quick start: `make up` serves the bundled example; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: install up test clean bench-deps

$(BIN)/devd: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

SAM_VERSION := 1.170.0

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

# AWS SAM CLI in its own environment (its pins clash with devd's); the tests run `sam validate`.
.sam-venv/bin/sam:
	$(PYTHON) -m venv .sam-venv
	.sam-venv/bin/pip install --quiet aws-sam-cli==$(SAM_VERSION)

install: $(BIN)/devd node_modules/.package-lock.json

# A user whose TF_CLI_CONFIG_FILE names no file and who has no ~/.terraformrc gets a CLI config
# that installs providers from the local mirror, so `terraform init` works offline for deploys.
TF_PLUGIN_MIRROR ?= /opt/tf-plugins

up: install
	@if [ ! -f "$${TF_CLI_CONFIG_FILE:-}" ] && [ ! -e "$$HOME/.terraformrc" ] && [ -d "$(TF_PLUGIN_MIRROR)" ]; then \
		mkdir -p .devd; \
		printf 'provider_installation {\n  filesystem_mirror {\n    path = "%s"\n  }\n}\n' "$(TF_PLUGIN_MIRROR)" > .devd/terraform.tfrc; \
		export TF_CLI_CONFIG_FILE="$(CURDIR)/.devd/terraform.tfrc"; \
		echo "TF_CLI_CONFIG_FILE=$$TF_CLI_CONFIG_FILE (providers from $(TF_PLUGIN_MIRROR))"; \
	fi; \
	$(BIN)/devd up $(ARGS)

test: install .sam-venv/bin/sam
	$(BIN)/pytest $(ARGS)

# wrk and serverless-offline for bench/throughput.py and bench/save_to_response.py.
bench-deps:
	command -v wrk >/dev/null 2>&1 || (apt-get update && apt-get install -y wrk)
	npm ci --prefix bench/peers --no-audit --no-fund

clean:
	rm -rf $(VENV) .sam-venv node_modules .devd
