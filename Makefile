# Quick start: `make up` serves the bundled example; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: install up test clean

$(BIN)/devd: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

install: $(BIN)/devd node_modules/.package-lock.json

up: install
	$(BIN)/devd up $(ARGS)

test: install
	$(BIN)/pytest $(ARGS)

clean:
	rm -rf $(VENV) node_modules .devd
