"""A batch over many customers on Dask (issue 24, part 1): `runbook run|drift --all` on a LocalCluster started by the
test, and `--scheduler` pointed at a separately started `dask scheduler` with one `dask worker`; each customer's
evidence verified, a customer's bad parameters its own exit 2 while the others finish, and a second concurrent batch
refused by the run lock for the customer they share (exit 4). Stage 0 of small sandbox customers
(tests/support/batch_customers.py); the 20-customer case of the issue is `benchmarks/portfolio.py --done-when`."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runbook import PROJECT_ROOT, batch
from runbook.cli import main
from runbook.evidence import archive as evidence
from runbook.evidence import lock
from tests.support import batch_customers

pytestmark = pytest.mark.notebooks
RUNBOOK = [sys.executable, "-m", "runbook.cli"]
LIB = str(PROJECT_ROOT / "lib")
SCHEDULER = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
WORKER = [sys.executable, "-m", "distributed.cli.dask_worker"]


@pytest.fixture(scope="module")
def tenant(module_sandbox):
    """One demo sandbox and a parameters folder of 4 small customers and a broken one, shared by this module."""
    module_sandbox.customers = batch_customers.write(
        module_sandbox.folder, 4, bad="broken", sandbox_dir=module_sandbox.sandbox.state_dir
    )
    return module_sandbox


def env_of(tenant) -> dict[str, str]:
    """This test's locations for a `runbook` subprocess."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([LIB, str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]),
        "RUNBOOK_SANDBOX": str(tenant.connection_file),
        "RUNBOOK_EVIDENCE_DIR": str(tenant.root / "evidence"),
        "RUNBOOK_PARAMETERS_DIR": str(tenant.root / "parameters"),
    }


def test_run_all_on_a_local_cluster_finishes_every_customer_past_a_bad_one(tenant, capsys):
    assert main(["run", "--all", "--stage", "0", "--workers", "2"]) == 2
    out = capsys.readouterr()
    assert "run of 5 customer(s) on a LocalCluster of 2 worker(s)" in out.out
    for c in tenant.customers:  # one line each, as it finished
        assert len(re.findall(rf"^{c}: exit 0 - stage 0 complete \(2 fulfilled\)  evidence: {c}/", out.out, re.M)) == 1
        assert len(evidence.runs(c)) == 1 and evidence.verify(c) == []
    assert "broken: error: broken.yml: field 'tier'" in out.err and "Traceback" not in out.err
    assert not evidence.runs("broken")
    workers = re.search(r"^peak memory per worker: (.*)$", out.out, re.M)
    # the LocalCluster's two workers (threads of this process: told apart by their Dask names)
    assert workers and len(workers.group(1).split(", ")) == 2
    assert {w.split(" ")[0] for w in workers.group(1).split(", ")} == {
        f"{os.uname().nodename}:{os.getpid()}/worker-{n}" for n in (0, 1)
    }
    # the kernels forked from the batch's server: their peak is the server's to see, and is reported
    assert all(int(mb) > 50 for mb in re.findall(r"\(kernel (\d+) MB\)", workers.group(1)))
    assert not list((tenant.root / "evidence").glob(f"*/{lock.LOCK}"))  # every lock given back


def facts(dask_worker) -> tuple:
    """On a worker: its process, the fork server its kernels fork from, whether Dask's profiler samples it."""
    from runbook.authoring import kernels

    server = kernels.fork_for_process(str(PROJECT_ROOT))
    return os.getpid(), server.shared, server.address, "profile" in dask_worker.periodic_callbacks


def test_a_local_clusters_workers_are_threads_forking_kernels_from_the_batchs_one_server(tenant):
    # what a run computes is in its kernel: worker processes would each import the runner, papermill and Dask again
    # and run Dask's machinery, a fifth more CPU on the cores the kernels need; one fork server (one preload, ~3 s of
    # CPU) for the machine; no statistical profiler sampling the workers' threads every 10 ms
    with batch.Batch(workers=2) as b:
        seen = b.client.run(facts)
        server = b.fork_server
        assert server.ready() and not server.shared
    assert list(seen.values()) == [(os.getpid(), False, server.address, False)] * 2
    assert server.process is None  # the batch's end stops it


def test_worker_processes_attach_to_the_batchs_one_server(tenant):
    with batch.Batch(workers=2, processes=True) as b:
        seen = b.client.run(facts)
        server = b.fork_server
    assert len({pid for pid, *_ in seen.values()} | {os.getpid()}) == 3
    assert [rest for _, *rest in seen.values()] == [[True, server.address, False]] * 2


def test_drift_all_on_a_local_cluster(tenant, capsys):
    assert main(["drift", "--all", "--workers", "2"]) == 2
    out = capsys.readouterr()
    for c in tenant.customers:
        assert f"== {c}\ndrift {c}: complete - 1 unchanged" in out.out
        assert evidence.verify(c) == []
    assert "broken: error: " in out.err and "Traceback" not in out.err


def test_a_second_concurrent_batch_is_refused_the_customer_the_first_holds(tenant, capsys):
    """The first batch's worker holds c002's lock (in the evidence folder); the second batch, its own cluster, gets
    exit 4 for c002 and goes on with the rest (a bad customer: exit 2 for it); the first finishes undisturbed."""
    # the first batch's Stage 0 runs take long enough (some 12 s) for the second batch to start its cluster meanwhile,
    # on a loaded machine too (1.5 s a request let the first batch's worker threads finish c002 first under load)
    tenant.set_faults(latency_ms=4000)
    first = subprocess.Popen(
        [*RUNBOOK, "run", "c001", "c002", "--stage", "0", "--workers", "2"],
        env=env_of(tenant),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        held = tenant.root / "evidence" / "c002" / lock.LOCK
        deadline = time.monotonic() + 120
        while not held.exists():
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.1)
        assert main(["run", "c002", "broken", "--stage", "0", "--workers", "2"]) == 4
        out = capsys.readouterr()
        assert "c002: error: customer 'c002' is already being run by" in out.err and "stage 0" in out.err
        assert "broken: error: broken.yml" in out.err
    finally:
        tenant.set_faults(latency_ms=0)
        stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    assert "c002: exit 0 - stage 0 complete" in stdout and "c001: exit 0 - stage 0 complete" in stdout
    assert evidence.verify("c002") == [] and not held.exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def scheduler(tenant, tmp_path):
    """A `dask scheduler` and one `dask worker` (one process, one thread), started apart from this test's process,
    on free ports; the worker's environment has the runbook importable, nothing else of the test's."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = env_of(tenant)
    for name in ("RUNBOOK_SANDBOX", "RUNBOOK_EVIDENCE_DIR", "RUNBOOK_PARAMETERS_DIR"):
        env.pop(name)  # the batch sends its locations with each task
    logs = [(tmp_path / f"{n}.log").open("w") for n in ("scheduler", "worker")]
    procs = [
        subprocess.Popen(
            [*SCHEDULER, "--host", "127.0.0.1", "--port", str(port), "--no-dashboard", "--dashboard-address", ":0"],
            env=env,
            stdout=logs[0],
            stderr=subprocess.STDOUT,
        )
    ]
    procs.append(
        subprocess.Popen(
            [*WORKER, address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
            env=env,
            cwd=tmp_path,
            stdout=logs[1],
            stderr=subprocess.STDOUT,
        )
    )
    try:
        deadline = time.monotonic() + 120
        while "Starting established connection" not in (tmp_path / "worker.log").read_text():
            assert all(p.poll() is None for p in procs) and time.monotonic() < deadline, (
                tmp_path / "scheduler.log"
            ).read_text() + (tmp_path / "worker.log").read_text()
            time.sleep(0.2)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(60)
        for f in logs:
            f.close()


def test_scheduler_points_the_batch_at_a_separately_started_scheduler(tenant, scheduler, capsys):
    before = {c: len(evidence.runs(c)) for c in ("c003", "c004")}
    assert main(["run", "c003", "c004", "--stage", "0", "--scheduler", scheduler]) == 0
    out = capsys.readouterr()
    assert f"run of 2 customer(s) on {scheduler}" in out.out
    for c in ("c003", "c004"):
        assert re.search(rf"^{c}: exit 0 - stage 0 complete", out.out, re.M)
        assert len(evidence.runs(c)) == before[c] + 1 and evidence.verify(c) == []
    workers = re.search(r"^peak memory per worker: (.*)$", out.out, re.M)
    assert workers and len(workers.group(1).split(", ")) == 1 and f":{os.getpid()} " not in workers.group(1)


def test_an_unreachable_scheduler_is_one_line(tenant, capsys, monkeypatch):
    import dask

    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", f"tcp://127.0.0.1:{free_port()}")
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):  # Dask's own 30 s, shortened for the test
        assert main(["run", "c001", "--stage", "0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach the Dask scheduler at tcp://127.0.0.1:") and "Fix: " in err
    assert len(err.strip().splitlines()) == 1


def test_workers_1_runs_in_this_process_one_after_another(tenant, capsys):
    assert main(["run", "c001", "c002", "--stage", "0", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "LocalCluster" not in out and "== c001" in out and "== c002" in out


def test_batch_arguments_are_checked(tenant, capsys):
    assert main(["run", "--stage", "0"]) == 2
    assert main(["run", "c001", "--all", "--stage", "0"]) == 2
    assert main(["drift", "--all", "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "name the customers or give --all" in err and "--workers must be 1 or more" in err
    assert Path(tenant.connection_file).exists()


def test_a_customer_named_twice_runs_once(tenant, capsys):
    before = len(evidence.runs("c003"))
    assert main(["run", "c003", "c003", "--stage", "0"]) == 0
    assert len(evidence.runs("c003")) == before + 1 and evidence.verify("c003") == []
