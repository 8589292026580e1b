"""Runs that are interrupted (SIGTERM, SIGINT), killed (SIGKILL) or doubled keep a complete, verifiable record:
every change present in the sandbox is in the evidence, `verify` passes, and a re-run converges without duplicates.
Each run is a real `runbook run` process against the sandbox, slowed by injected latency so there is time to
interrupt it mid-apply; every wait is bounded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runbook import runner
from runbook.evidence import archive as evidence
from runbook.evidence import journal

pytestmark = pytest.mark.notebooks
RUNBOOK = [sys.executable, "-m", "runbook.cli"]
APP = "Intercept Managed Services"


def start_stage1(evidence_dir: Path) -> subprocess.Popen:
    """`runbook run demo --stage 1 --apply --force` in its own process (Stage 0 evidence is not needed)."""
    return subprocess.Popen(
        [*RUNBOOK, "run", "demo", "--stage", "1", "--apply", "--force"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


def wait_for_changes(evidence_dir: Path, n: int, proc: subprocess.Popen, limit: float = 120) -> Path:
    """The run folder once its journal holds at least n accepted changes."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        for j in (evidence_dir / "demo").glob(f"*/{journal.JOURNAL}"):
            entries, _ = journal.read(j)
            if sum(e["kind"] == "change" for e in entries) >= n:
                return j.parent
        if proc.poll() is not None:
            raise AssertionError(
                f"the run ended before {n} changes: {proc.stdout.read()[-2000:]} {proc.stderr.read()[-2000:]}"
            )
        time.sleep(0.05)
    raise AssertionError(f"no {n} changes within {limit} s")


def applied_in_evidence(run_dir: Path) -> set[tuple[str, str]]:
    results = json.loads((run_dir / evidence.RESULTS).read_text())
    return {(c["action"], c["target"].lower()) for item in results["items"] for c in item["applied"]}


def tags_in_sandbox(sandbox) -> set[str]:
    return {
        o["id"].lower()
        for o in sandbox.state.arm.values()
        if any(k.lower() == "intercept" for k in (o.get("tags") or {}))
        and o.get("type", "").lower() != "microsoft.resources/resourcegroups"
    }


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_run_seals_everything_it_applied(sandbox, evidence_dir, params_dir, sig):
    sandbox.set_faults(latency_ms=150)
    before = tags_in_sandbox(sandbox)
    proc = start_stage1(evidence_dir)
    run_dir = wait_for_changes(evidence_dir, 5, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == runner.EXIT_INTERRUPTED, out[-2000:] + err[-2000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    results = json.loads((run_dir / evidence.RESULTS).read_text())
    assert results["status"] == "interrupted"
    recorded = applied_in_evidence(run_dir)
    # every app object and tag the sandbox now holds was recorded
    assert sum(a["displayName"] == APP for a in sandbox.state.applications.values()) <= 1
    if any(a["displayName"] == APP for a in sandbox.state.applications.values()):
        assert any(action == "create application" for action, _ in recorded)
    new_tags = tags_in_sandbox(sandbox) - before
    assert new_tags <= {t for a, t in recorded if a == "merge tag"}
    assert evidence.verify("demo") == []
    # a re-run converges: no duplicate app, every item done
    sandbox.set_faults(latency_ms=0)
    again = subprocess.run(
        [*RUNBOOK, "run", "demo", "--stage", "1", "--apply", "--force"], capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert sum(a["displayName"] == APP for a in sandbox.state.applications.values()) == 1
    assert evidence.verify("demo") == []


def test_a_killed_run_is_sealed_from_its_journal_and_never_deleted(sandbox, evidence_dir, params_dir):
    sandbox.set_faults(latency_ms=150)
    proc = start_stage1(evidence_dir)
    run_dir = wait_for_changes(evidence_dir, 5, proc)
    proc.kill()  # SIGKILL: no handler runs, nothing is sealed
    proc.communicate(timeout=60)
    time.sleep(0.5)  # the orphaned kernel may still append a line; the journal tolerates it
    entries, _ = journal.read(run_dir / journal.JOURNAL)
    journaled = {(e["action"], e["target"].lower()) for e in entries if e["kind"] == "change"}
    assert not (run_dir / evidence.MANIFEST).exists()
    assert evidence.verify("demo") != []  # unsealed, and verify says so
    repaired = subprocess.run(
        [*RUNBOOK, "evidence", "verify", "demo", "--repair"], capture_output=True, text=True, timeout=300
    )
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert f"sealed {run_dir.name}" in repaired.stdout
    assert json.loads((run_dir / evidence.RESULTS).read_text())["status"] == "interrupted"
    assert journaled <= applied_in_evidence(run_dir)
    assert run_dir.exists() and evidence.verify("demo") == []


def test_a_second_run_of_the_same_customer_is_refused_while_the_first_holds_the_lock(sandbox, evidence_dir, params_dir):
    sandbox.set_faults(latency_ms=150)
    first = start_stage1(evidence_dir)
    try:
        wait_for_changes(evidence_dir, 1, first)
        second = subprocess.run(
            [*RUNBOOK, "run", "demo", "--stage", "1", "--force"], capture_output=True, text=True, timeout=120
        )
        assert second.returncode == runner.EXIT_BUSY
        assert "customer 'demo' is already being run by" in second.stderr and "stage 1 --apply" in second.stderr
    finally:
        sandbox.set_faults(latency_ms=0)
        first.communicate(timeout=300)
    assert first.returncode in (runner.EXIT_OK, runner.EXIT_INCOMPLETE)
    assert len(evidence.runs("demo")) == 1 and evidence.verify("demo") == []


def test_errors_drops_and_failed_operations_during_apply_leave_a_complete_record(sandbox, evidence_dir, params_dir):
    """503s, dropped connections and failed long-running operations while Stage 1 applies: whatever Azure accepted
    is in the evidence, verify passes, and a re-run without faults converges with no duplicates."""
    before = tags_in_sandbox(sandbox)
    sandbox.set_faults(
        error_rate=0.2,
        drop_rate=0.05,
        error_retry_after=0.05,
        fractional_retry_after=True,
        seed=11,
        lro_fail_types=["Microsoft.Resources/tags"],
    )
    run = subprocess.run(
        [*RUNBOOK, "run", "demo", "--stage", "1", "--apply", "--force"], capture_output=True, text=True, timeout=600
    )
    assert run.returncode in (runner.EXIT_OK, runner.EXIT_FAILED, runner.EXIT_INCOMPLETE), run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    run_dir = evidence.runs("demo")[-1]
    recorded = applied_in_evidence(run_dir)
    assert tags_in_sandbox(sandbox) - before <= {t for a, t in recorded if a == "merge tag"}
    if any(a["displayName"] == APP for a in sandbox.state.applications.values()):
        assert any(action == "create application" for action, _ in recorded)
    assert evidence.verify("demo") == []
    sandbox.set_faults()
    again = subprocess.run(
        [*RUNBOOK, "run", "demo", "--stage", "1", "--apply", "--force"], capture_output=True, text=True, timeout=600
    )
    assert again.returncode == runner.EXIT_OK, again.stdout[-2000:] + again.stderr[-2000:]
    assert sum(a["displayName"] == APP for a in sandbox.state.applications.values()) == 1
    assert evidence.verify("demo") == []
