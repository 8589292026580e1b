"""Issue 24: Ctrl-C or SIGTERM stops a Dask batch cleanly, every started run sealed.

A real `runbook run --all --stage 0 --workers 2` process (a LocalCluster of two worker processes) over six small
sandbox customers (tests/support/batch_customers.py), slowed by injected latency so that, when the first run's
journal appears, that run is still executing and most customers have not started. Then the signal: SIGINT to the
process group, as a terminal's Ctrl-C delivers it (the Dask workers get it too), SIGTERM to the process alone, as
`kill` does, or SIGTERM to the whole group, as systemd stops a service. Afterwards: exit 130; every run folder sealed (`interrupted` or `complete`) and `runbook evidence verify`
passing for its customer; the customers never started reported `cancelled`, with no run folder; no `.run.lock` left;
no process the batch started (workers, fork servers, kernels) still running. Every wait is bounded. Also: a second
Ctrl-C while the runs seal, and a Ctrl-C while the cluster is still starting."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from runbook import PROJECT_ROOT
from runbook.batch import CANCELLED
from runbook.cli import main
from runbook.errors import EXIT_INTERRUPTED
from runbook.evidence import archive as evidence
from runbook.evidence import journal, lock
from tests.conftest import DEMO_FIXTURE, SandboxHandle
from tests.support import batch_customers

pytestmark = pytest.mark.notebooks
RUNBOOK = [sys.executable, "-m", "runbook.cli"]
CUSTOMERS = 6
LATENCY_MS = 400  # each sandbox call: a Stage 0 run then takes several seconds, so it is still running at the signal


@pytest.fixture(scope="module")
def tenant(tmp_path_factory):
    """One demo sandbox and a parameters folder of six small customers, shared by this module's tests."""
    from azure_sandbox import Sandbox

    root = tmp_path_factory.mktemp("batch-interrupts")
    sb = Sandbox(DEMO_FIXTURE, root / "sandbox")
    sb.start()
    handle = SandboxHandle(sb)
    handle.root = root
    handle.customers = batch_customers.write(root / "parameters", CUSTOMERS, sandbox_dir=sb.state_dir)
    yield handle
    sb.stop()


class BatchProcess:
    """A `runbook run --all --stage 0 --workers 2` process in a session of its own (its group: the batch and its Dask
    workers), its output in files; every process it starts is remembered while it runs."""

    def __init__(self, tenant, evidence_dir: Path, out: Path) -> None:
        self.evidence_dir, self.out = evidence_dir, out
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(PROJECT_ROOT / "lib"), str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]
            ),
            "RUNBOOK_SANDBOX": str(tenant.connection_file),
            "RUNBOOK_EVIDENCE_DIR": str(evidence_dir),
            "RUNBOOK_PARAMETERS_DIR": str(tenant.root / "parameters"),
        }
        self.stdout, self.stderr = (out / "stdout").open("w"), (out / "stderr").open("w")
        self.proc = subprocess.Popen(
            [*RUNBOOK, "run", "--all", "--stage", "0", "--workers", "2"],
            env=env,
            stdout=self.stdout,
            stderr=self.stderr,
            text=True,
            start_new_session=True,
        )
        self.seen: dict[int, psutil.Process] = {}

    def output(self) -> tuple[str, str]:
        return (self.out / "stdout").read_text(), (self.out / "stderr").read_text()

    def note_descendants(self) -> None:
        try:
            for p in psutil.Process(self.proc.pid).children(recursive=True):
                self.seen.setdefault(p.pid, p)
        except psutil.NoSuchProcess:
            pass

    def wait_for_a_started_run(self, limit: float = 180) -> Path:
        """The first run folder whose journal exists (its kernel is executing the stage)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            self.note_descendants()
            found = sorted(self.evidence_dir.glob(f"*/*/{journal.JOURNAL}"))
            if found:
                return found[0].parent
            assert self.proc.poll() is None, f"the batch ended before any run started: {self.output()}"
            time.sleep(0.05)
        raise AssertionError(f"no run started within {limit} s: {self.output()}")

    def wait(self, limit: float = 180) -> int:
        """The batch's exit code, noting the processes it starts until it ends."""
        deadline = time.monotonic() + limit
        while self.proc.poll() is None:
            assert time.monotonic() < deadline, f"the batch did not end within {limit} s: {self.output()}"
            self.note_descendants()
            time.sleep(0.05)
        self.stdout.close()
        self.stderr.close()
        return self.proc.returncode

    def left_running(self, limit: float = 60) -> list[str]:
        """The processes the batch started that are still alive `limit` seconds after it ended (a zombie is gone)."""
        deadline = time.monotonic() + limit
        while True:
            alive = []
            for p in self.seen.values():
                try:
                    if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                        alive.append(f"{p.pid} {' '.join(p.cmdline())[:160]}")
                except psutil.NoSuchProcess:
                    pass
            if not alive or time.monotonic() > deadline:
                return alive
            time.sleep(0.2)

    def kill(self) -> None:
        """After a failed assertion: nothing of this batch outlives the test."""
        for p in (
            [psutil.Process(self.proc.pid), *self.seen.values()] if self.proc.poll() is None else self.seen.values()
        ):
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        self.proc.wait(30)


@contextmanager
def slowed_batch(tenant, tmp_path: Path, monkeypatch) -> Iterator[BatchProcess]:
    """A batch started on the slowed sandbox (its evidence in tmp_path/evidence, where this test's own `runbook`
    calls look too); killed with all it started when the block fails, the sandbox's latency off again afterwards."""
    evidence_dir = tmp_path / "evidence"
    monkeypatch.setenv("RUNBOOK_SANDBOX", str(tenant.connection_file))
    monkeypatch.setenv("RUNBOOK_EVIDENCE_DIR", str(evidence_dir))
    monkeypatch.setenv("RUNBOOK_PARAMETERS_DIR", str(tenant.root / "parameters"))
    tenant.set_faults(latency_ms=LATENCY_MS)
    batch = BatchProcess(tenant, evidence_dir, tmp_path)
    try:
        yield batch
    except BaseException:
        batch.kill()
        raise
    finally:
        tenant.set_faults(latency_ms=0)


def stopped(batch: BatchProcess, code: int) -> tuple[str, str]:
    """The interrupted batch's output, after checking it ended as interrupted (130) without a traceback."""
    out, err = batch.output()
    assert code == EXIT_INTERRUPTED, out[-3000:] + err[-3000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    return out, err


def assert_sealed(customer: str, capsys, repair: bool = False) -> None:
    """Every run of the customer sealed (its manifest written, its status `interrupted` or `complete`) and its
    evidence verified by `runbook evidence verify`; with `repair`, `evidence verify --repair` first seals what the
    batch left unsealed, from its journal (as the customer's next run would)."""
    if repair:
        assert main(["evidence", "verify", customer, "--repair"]) == 0, capsys.readouterr()
    for run_dir in evidence.runs(customer):
        assert (run_dir / evidence.MANIFEST).exists(), f"{customer}: {run_dir.name} was left unsealed"
        status = json.loads((run_dir / evidence.RESULTS).read_text())["status"]
        assert status in ("interrupted", "complete"), (customer, run_dir.name, status)
    assert main(["evidence", "verify", customer]) == 0, capsys.readouterr()


@pytest.mark.parametrize(
    "sig, to_group",
    [(signal.SIGINT, True), (signal.SIGTERM, False), (signal.SIGTERM, True)],
    ids=["ctrl-c-to-the-process-group", "sigterm-to-the-process", "sigterm-to-the-process-group"],
)
def test_an_interrupted_batch_seals_every_started_run_and_cancels_the_rest(
    tenant, tmp_path, monkeypatch, capsys, sig, to_group
):
    evidence_dir = tmp_path / "evidence"
    with slowed_batch(tenant, tmp_path, monkeypatch) as batch:
        first = batch.wait_for_a_started_run()
        if to_group:
            os.killpg(batch.proc.pid, sig)
        else:
            batch.proc.send_signal(sig)
        code = batch.wait()
    out, err = stopped(batch, code)
    assert re.search(r"^interrupted: \d+ customer\(s\) not started, every started run sealed$", err, re.M), err

    started, cancelled = [], []
    for c in tenant.customers:
        runs = evidence.runs(c)
        reported = re.findall(rf"^{c}: .*$", out + err, re.M)
        assert len(reported) == 1, f"{c} reported {len(reported)} times: {out + err}"
        if not runs:  # never started: reported cancelled, no lock taken, nothing written
            assert reported[0] == f"{c}: error: {CANCELLED}", reported
            assert not (evidence_dir / c).exists() or not any((evidence_dir / c).iterdir())
            cancelled.append(c)
            continue
        started.append(c)
        assert_sealed(c, capsys)
    assert first.parent.name in started
    results = json.loads((first / evidence.RESULTS).read_text())
    assert results["status"] == "interrupted", results  # stopped mid-notebook, and says by what
    assert results["error"].startswith("interrupted by the batch's stop (Ctrl-C or SIGTERM to the batch)"), results
    assert cancelled, f"every customer had started: {out}"  # the signal came while some had not
    assert not list(evidence_dir.glob(f"*/{lock.LOCK}*")), "a lock was left behind"
    assert batch.seen, "no worker process was seen"
    assert batch.left_running() == []


def test_a_second_ctrl_c_stops_at_once_and_the_next_verify_repairs_what_it_left(tenant, tmp_path, monkeypatch, capsys):
    """Ctrl-C, then Ctrl-C again while the started runs are being sealed (and a third while the cluster closes): the
    batch stops at once (exit 130, no traceback, no process of it left); a run it left unsealed is sealed from its journal by `evidence verify
    --repair` (as by the customer's next run), and its stale lock taken over."""
    evidence_dir = tmp_path / "evidence"
    with slowed_batch(tenant, tmp_path, monkeypatch) as batch:
        first = batch.wait_for_a_started_run()
        os.killpg(batch.proc.pid, signal.SIGINT)
        deadline = time.monotonic() + 60
        while not list(evidence_dir.glob("*/*/*.html")) and batch.proc.poll() is None:  # sealing has begun
            assert time.monotonic() < deadline, batch.output()
            batch.note_descendants()
            time.sleep(0.02)
        second = time.monotonic()
        os.killpg(batch.proc.pid, signal.SIGINT)
        # a third Ctrl-C once the customers are reported, while the cluster closes: it changes nothing
        while ": error: cancelled" not in batch.output()[1] and batch.proc.poll() is None:
            assert time.monotonic() < deadline, batch.output()
            batch.note_descendants()
            time.sleep(0.02)
        if batch.proc.poll() is None:
            os.killpg(batch.proc.pid, signal.SIGINT)
        code = batch.wait()
        took = time.monotonic() - second
    _, err = stopped(batch, code)
    assert took < 60, f"the second Ctrl-C took {took:.0f} s to stop the batch"
    # the last line says what it left: nothing (the runs sealed before the second Ctrl-C landed) or whose runs
    assert re.search(
        r"^interrupted: \d+ customer\(s\) not started(, every started run sealed|; stopped at once: a run of c\d{3}(, c\d{3})* may be unsealed)",
        err,
        re.M,
    ), err
    assert batch.left_running() == []
    for c in tenant.customers:
        if evidence.runs(c):
            assert_sealed(c, capsys, repair=True)
    assert not list(evidence_dir.glob(f"*/{lock.LOCK}*"))
    assert first.exists()


def test_a_ctrl_c_while_the_cluster_starts_stops_the_batch_before_any_task(tenant, tmp_path, monkeypatch, capsys):
    """Ctrl-C to the process group while the LocalCluster starts (its first worker process is up, nothing submitted):
    held until the cluster has started, never a half-started cluster; then the batch stops before submitting
    anything: exit 130 without a traceback, every customer reported `cancelled` once, no run folder, no lock, no
    process of the batch left running."""
    evidence_dir = tmp_path / "evidence"
    with slowed_batch(tenant, tmp_path, monkeypatch) as batch:
        deadline = time.monotonic() + 120
        while not batch.seen:  # the first process the batch starts: one of the cluster's workers
            assert batch.proc.poll() is None, f"the batch ended before its cluster started: {batch.output()}"
            assert time.monotonic() < deadline, batch.output()
            batch.note_descendants()
            time.sleep(0.01)
        os.killpg(batch.proc.pid, signal.SIGINT)
        code = batch.wait()
    out, err = stopped(batch, code)
    assert re.search(rf"^interrupted: {CUSTOMERS} customer\(s\) not started, every started run sealed$", err, re.M), err
    for c in tenant.customers:
        assert re.findall(rf"^{c}: .*$", out + err, re.M) == [f"{c}: error: {CANCELLED}"], out + err
        assert not evidence.runs(c)
    assert not list(evidence_dir.glob(f"*/{lock.LOCK}*")), "a lock was left behind"
    assert batch.left_running() == []
