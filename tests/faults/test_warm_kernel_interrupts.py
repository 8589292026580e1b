"""Issue 24 (fast stage runs): a batch's stages share a warm kernel; interrupting the batch mid-apply on that kernel
stops it before the run is sealed, so nothing is written after the seal and the evidence verifies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from runbook import runner
from runbook.evidence import archive as evidence

from .test_interrupts import RUNBOOK, wait_for_changes

pytestmark = pytest.mark.notebooks


def test_sigterm_during_a_later_stage_on_the_warm_kernel_seals_it_and_stops_the_kernel(
    sandbox, evidence_dir, params_dir
):
    sandbox.set_faults(latency_ms=150)
    proc = subprocess.Popen(
        [*RUNBOOK, "run", "demo", "--stage", "all", "--apply"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    run_dir = wait_for_changes(evidence_dir, 5, proc)  # Stage 1, on the kernel Stage 0 started
    assert "-stage1-" in run_dir.name
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == runner.EXIT_INTERRUPTED, out[-2000:] + err[-2000:]
    assert "stage 0: complete" in out and "Traceback" not in err, out[-2000:] + err[-2000:]
    assert json.loads((run_dir / evidence.RESULTS).read_text())["status"] == "interrupted"
    journal = (run_dir / "journal.jsonl").read_bytes()
    time.sleep(1.5)  # a kernel left running would go on applying and journaling
    assert (run_dir / "journal.jsonl").read_bytes() == journal
    assert evidence.verify("demo") == []
    assert not list(evidence_dir.glob("demo/*-stage2-*"))  # the batch stopped at the interrupted stage
