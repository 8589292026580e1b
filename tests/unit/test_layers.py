"""The house's layout is a contract (issue 20): packages that are the layers, no import cycles, the moved names
still importable for one version with a warning, and a failed part's scope kept as data."""

from __future__ import annotations

import ast
import copy
import importlib
import json
import sys
from pathlib import Path

import pytest

from runbook.errors import PartialFailure, ScopeFailure
from tests.support import import_cycles

LIB = Path(__file__).resolve().parents[2] / "lib"


def test_the_top_level_holds_the_entry_points_and_the_layers() -> None:
    top = sorted(p.name for p in (LIB / "runbook").glob("*.py"))
    assert len(top) <= 7, top  # __init__, _moved, errors and the entry points: cli, notebook, runner, batch
    packages = sorted(p.parent.name for p in (LIB / "runbook").glob("*/__init__.py"))
    assert packages == ["adapters", "authoring", "customer", "evidence", "operate", "steps"]
    for name in packages:
        doc = ast.get_docstring(ast.parse((LIB / "runbook" / name / "__init__.py").read_text())) or ""
        assert "May import:" in doc, f"runbook/{name}/__init__.py does not say what it may import"


def test_no_import_cycles_in_lib() -> None:
    assert import_cycles.cycles(["runbook", "azure_sandbox"]) == []


def test_the_cycle_check_finds_a_cycle_also_through_an_import_inside_a_function(tmp_path, monkeypatch) -> None:
    pkg = tmp_path / "cyclepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def later():\n    from . import a\n    return a\n")
    (pkg / "c.py").write_text("from . import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles.cycles(["cyclepkg"]) == [["cyclepkg.a", "cyclepkg.b"]]
    assert import_cycles.main(["cyclepkg"]) == 1


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("runbook.params", "runbook.customer.params"),
        ("runbook.clients", "runbook.adapters.clients"),
        ("runbook.sealing", "runbook.evidence.seal"),
        ("runbook.notebook_gen", "runbook.authoring.notebooks"),
    ],
)
def test_a_moved_module_imports_by_its_old_name_with_a_warning(old: str, new: str) -> None:
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {new}"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)  # one module, one state: not a copy
    # and it keeps its own spec: relative imports inside it (run later, e.g. in a function) do not warn
    assert module.__spec__.name == new and module.__package__ == module.__spec__.parent


def test_the_old_evidence_functions_resolve_with_a_warning() -> None:
    import runbook.evidence
    from runbook.evidence import archive

    with pytest.warns(DeprecationWarning, match="runbook.evidence.verify moved to runbook.evidence.archive.verify"):
        verify = runbook.evidence.verify
    assert verify is archive.verify
    with pytest.raises(AttributeError):
        runbook.evidence.no_such_function  # noqa: B018


def test_a_scope_failure_reads_as_its_line_and_keeps_its_scope() -> None:
    f = ScopeFailure("/subscriptions/AbC/resourceGroups/rg", "cannot list: 403 AuthorizationFailed")
    assert f == "/subscriptions/AbC/resourceGroups/rg: cannot list: 403 AuthorizationFailed"
    assert (f.scope, f.subscription) == ("/subscriptions/AbC/resourceGroups/rg", "/subscriptions/abc")
    assert ScopeFailure("s2-budget-alert", "no budget").subscription == ""
    record = copy.deepcopy({"missing": [f]})  # what dataclasses.asdict does for the evidence
    assert type(record["missing"][0]) is str and json.dumps(record)
    assert str(PartialFailure([f])) == f"1 part(s) failed: {f}"


def test_a_moved_module_still_runs_by_its_old_name() -> None:
    """A clone whose git filter was configured before the move runs `python -m runbook.workcopy strip`."""
    import subprocess

    nb = {"cells": [{"cell_type": "code", "source": "1", "metadata": {}, "outputs": [{"x": 1}], "execution_count": 3}]}
    nb.update(metadata={}, nbformat=4, nbformat_minor=5)
    out = subprocess.run(
        [sys.executable, "-m", "runbook.workcopy", "strip"],
        input=json.dumps(nb),
        capture_output=True,
        text=True,
        check=True,
        env={**__import__("os").environ, "PYTHONPATH": str(LIB)},
    )
    stripped = json.loads(out.stdout)
    assert stripped["cells"][0]["outputs"] == [] and stripped["cells"][0]["execution_count"] is None
