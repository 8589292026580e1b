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

.PHONY: install demo test lint contract bench clean
install: $(BIN)/runbook

demo: install  ## sandbox tenant + all stages for the demo customer + status + evidence
	$(BIN)/runbook demo

lint: install  ## ruff (lint + format), mypy (strict below the entry points), import-linter (the layers), no import cycles
	$(BIN)/ruff check lib tests benchmarks
	$(BIN)/ruff format --check lib tests benchmarks
	$(BIN)/mypy
	PYTHONPATH=lib $(BIN)/lint-imports
	PYTHONPATH=lib $(BIN)/python tests/support/import_cycles.py runbook azure_sandbox

test: lint  ## lint and types, then the whole test suite: unit, contract (incl. azure-cli), faults, notebooks, wheel
	$(BIN)/python -m pytest

contract: install
	$(BIN)/python -m pytest tests/contract

bench: install
	$(BIN)/python benchmarks/sandbox_speed.py
	$(BIN)/python benchmarks/tagging.py

clean:
	rm -rf $(VENV) .sandbox .cache
