# Two commands for a fresh machine: `make demo` and `make test`. Each builds .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/runbook: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

.PHONY: install demo test contract bench clean
install: $(BIN)/runbook

demo: install  ## sandbox tenant + all stages for the demo customer + status + evidence
	$(BIN)/runbook demo

test: install  ## the whole test suite: unit, contract (incl. azure-cli), notebooks
	$(BIN)/python -m pytest

contract: install
	$(BIN)/python -m pytest tests/contract

bench: install
	$(BIN)/python benchmarks/tagging.py

clean:
	rm -rf $(VENV) .sandbox .cache
