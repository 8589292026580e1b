"""Notebooks are committed thin and clean: no outputs, one parameters cell, fixed kernel, one call per item."""

import re
import subprocess
import sys

import nbformat
import pytest

from runbook import PROJECT_ROOT
from runbook.authoring.notebooks import REPORT_NOTEBOOK, REPORT_SECTIONS
from runbook.customer import catalogue

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))
OPERATIONS = [
    "drift.ipynb",
    "offboard.ipynb",
]  # after onboarding (`runbook drift`, `runbook offboard`), beside the report
STAGE_NOTEBOOKS = [p for p in NOTEBOOKS if p.name != REPORT_NOTEBOOK]  # the stages' and drift's: one call per item


def test_one_notebook_per_stage_the_drift_notebook_and_the_monthly_report():
    assert [p.name for p in STAGE_NOTEBOOKS] == [s.notebook for s in catalogue.load().stages] + OPERATIONS
    assert (PROJECT_ROOT / "notebooks" / REPORT_NOTEBOOK) in NOTEBOOKS


def test_the_report_notebook_is_thin_with_one_call_per_section():
    """One parameters cell (customer, month, run_id), then one short call per cell: one per section."""
    nb = nbformat.read(PROJECT_ROOT / "notebooks" / REPORT_NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is code[0]
    assert all(f"{name} = " in tagged[0].source for name in ("customer", "month", "run_id"))
    for cell in code[1:]:
        assert len([ln for ln in cell.source.splitlines() if ln.strip()]) <= 3
        assert not re.search(r"^\s*(for|while|if|def|class|try)\b", cell.source, re.M)
    calls = re.findall(r'r\.section\("([a-z]+)"\)', "\n".join(c.source for c in code))
    assert calls == list(REPORT_SECTIONS) and len(calls) == 7


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    extra = "metadata.papermill cell.metadata.papermill cell.metadata.execution"
    # --keep-id: cell ids are derived from item ids by runbook.authoring.notebooks, not renumbered 0..n
    cmd = [sys.executable, "-m", "nbstripout", "--verify", "--keep-id", "--extra-keys", extra, str(path)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("path", STAGE_NOTEBOOKS, ids=lambda p: p.name)
def test_thin_and_parameterised(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is code[0]
    assert 'customer = "demo"' in tagged[0].source and "apply = False" in tagged[0].source
    for cell in code[1:]:
        lines = [ln for ln in cell.source.splitlines() if ln.strip()]
        assert len(lines) <= 3, f"cell holds logic, move it to lib/: {cell.source!r}"
        assert not re.search(r"^\s*(for|while|if|def|class|try)\b", cell.source, re.M)
    if path.name in OPERATIONS:  # one library call per cell, none of them a stage item's
        assert "run_id = " in tagged[0].source and not re.search(r"session\.run\(", "\n".join(c.source for c in code))
        return
    stage = int(path.name[:2])
    runs = re.findall(r'session\.run\("([a-z0-9-]+)"\)', "\n".join(c.source for c in code))
    assert runs == [i.id for i in catalogue.load().for_stage(stage)]
    assert sum(c.cell_type == "markdown" for c in nb.cells) >= len(runs) + 1
