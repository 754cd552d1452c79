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

up: install
	$(BIN)/devd up $(ARGS)

test: install .sam-venv/bin/sam
	$(BIN)/pytest $(ARGS)

# wrk and serverless-offline for bench/throughput.py and bench/save_to_response.py.
bench-deps:
	command -v wrk >/dev/null 2>&1 || (apt-get update && apt-get install -y wrk)
	npm ci --prefix bench/peers --no-audit --no-fund

clean:
	rm -rf $(VENV) .sam-venv node_modules .devd
