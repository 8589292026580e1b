"""Every notebook also runs top to bottom under nbval (lax: outputs are not compared), as a user would in Jupyter."""

import json
import os
import subprocess
import sys

import pytest

from runbook import PROJECT_ROOT

pytestmark = pytest.mark.notebooks


def test_notebooks_run_under_nbval(sandbox, evidence_dir, params_dir):
    env = {**os.environ, "RUNBOOK_SANDBOX": str(sandbox.connection_file), "RUNBOOK_PARAMETERS_DIR": str(params_dir)}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "-p",
            "no:cacheprovider",
            "-q",
            "-o",
            "addopts=",
            "-W",
            "ignore::DeprecationWarning",
            "notebooks/",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert " passed" in out.stdout and "failed" not in out.stdout
    assert (params_dir / "demo.resources.xlsx").exists()  # Stage 1 generated the sheet where the parameters live
    # stepped through as by hand, each notebook sealed its own evidence, marked interactive, and the chain holds
    from runbook.evidence import archive as evidence

    sealed = [json.loads((r / "results.json").read_text()) for r in evidence.runs("demo")]
    assert sorted(r["stage"] for r in sealed) == [0, 1, 2, 3, 4]
    assert all(r["interactive"] and r["apply"] is False for r in sealed)
    assert evidence.verify("demo") == []
