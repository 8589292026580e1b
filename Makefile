# Two commands for a fresh machine: `make demo` and `make test`. Each builds .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/runbook: pyproject.toml
	@mkdir -p .cache
	$(PYTHON) -m venv $(VENV)
	@echo "installing the project into $(VENV) (log: .cache/pip-install.log)"
	@$(BIN)/python -m pip install -q --upgrade pip > .cache/pip-install.log 2>&1 || (tail -30 .cache/pip-install.log; exit 1)
	@$(BIN)/python -m pip install -q -e '.[test]' >> .cache/pip-install.log 2>&1 || (tail -30 .cache/pip-install.log; exit 1)
	@$(BIN)/python -m runbook.authoring.workcopy setup  # the project's named Jupyter kernel, and the git filter for notebooks/
	touch $@

AZURITE := .cache/npm/node_modules/azurite/dist/src/blob/main.js

.PHONY: install azurite demo test lint contract bench clean
install: $(BIN)/runbook azurite

azurite:  ## the evidence archive's local Blob server (npm azurite, pinned) for the demo and the tests, when npm exists
	@if [ -f $(AZURITE) ]; then :; \
	elif command -v npm >/dev/null 2>&1; then mkdir -p .cache; echo "installing Azurite into .cache/npm (log: .cache/npm-install.log)"; \
	  npm install --prefix .cache/npm --no-audit --no-fund azurite@3.37.0 > .cache/npm-install.log 2>&1 || (tail -20 .cache/npm-install.log; exit 1); \
	else echo "npm not found: Azurite is not installed (runbook demo does not push its evidence; the archive tests skip)"; fi

demo: install  ## sandbox tenant + all stages for the demo customer + status + evidence
	$(BIN)/runbook demo

lint: install  ## ruff (lint + format), mypy (strict below the entry points), import-linter (the layers), no import cycles
	$(BIN)/ruff check lib tests benchmarks
	$(BIN)/ruff format --check lib tests benchmarks
	$(BIN)/mypy
	PYTHONPATH=lib $(BIN)/lint-imports
	PYTHONPATH=lib $(BIN)/python tests/support/import_cycles.py runbook azure_sandbox

test: lint  ## lint and types, then the whole test suite: unit, contract (incl. azure-cli), faults, notebooks, wheel
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=15

contract: install
	$(BIN)/python -m pytest tests/contract

bench: install
	$(BIN)/python benchmarks/sandbox_speed.py
	$(BIN)/python benchmarks/tagging.py

clean:
	rm -rf $(VENV) .sandbox .cache
