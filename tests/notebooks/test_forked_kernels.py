"""Kernels forked from a pre-imported process (runbook.authoring.forkserver): inside `runner.fork_kernels()` (a batch
of customers in one process, a Dask worker) every notebook still gets a kernel process of its own, with the runner's
environment and working directory at its launch, and what the server imported; interrupting the runner stops the
kernel; a server that is gone, or a kernel command it cannot fork faithfully, gives the ordinary kernel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from runbook import PROJECT_ROOT, runner
from runbook.authoring import kernels

pytestmark = pytest.mark.notebooks

PROBE = """
import json, os, sys
facts = {
    "pid": os.getpid(), "ppid": os.getppid(), "cwd": os.getcwd(), "sid": os.getsid(0),
    "probe": os.environ.get("RUNBOOK_PROBE"),
    "graph_models_loaded": "msgraph.generated.models.application" in sys.modules,
}
open(out_file, "w").write(json.dumps(facts))
"""


def notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('out_file = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(c) for c in cells)]
    nb.metadata["kernelspec"] = {"name": runner.KERNEL, "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def run_probe(tmp_path: Path, name: str, probe: str = "") -> dict:
    source = notebook(tmp_path / "probe.ipynb", PROBE)
    out = tmp_path / f"{name}.json"
    os.environ["RUNBOOK_PROBE"] = probe or name
    try:
        error, interrupted = runner.execute(source, tmp_path / f"{name}.ipynb", {"out_file": str(out)}, 120, False)
    finally:
        del os.environ["RUNBOOK_PROBE"]
    assert (error, interrupted) == ("", False)
    counts = [c.execution_count for c in nbformat.read(tmp_path / f"{name}.ipynb", as_version=4).cells]
    assert counts == [1, 2, 3]  # parameters, papermill's injected parameters, the probe: a kernel of its own
    return json.loads(out.read_text())


def test_each_notebook_gets_a_forked_kernel_of_its_own_with_the_runners_environment(tmp_path):
    ordinary = run_probe(tmp_path, "ordinary")
    assert not ordinary["graph_models_loaded"]  # a fresh kernel imports msgraph's models only when it reads Graph
    with runner.fork_kernels() as server:
        assert server.ready()
        first = run_probe(tmp_path, "first")
        second = run_probe(tmp_path, "second")
        assert server.forked == 2
        zygote = server.process.pid
        deadline = time.monotonic() + 10  # the server reports each ended kernel's peak memory (the batch's line)
        while not server.kernel_peak_kb and time.monotonic() < deadline:
            time.sleep(0.05)
        assert 20 * 1024 < kernels.forked_kernel_peak_kb() == server.kernel_peak_kb < 4 * 1024 * 1024
    assert first["ppid"] == second["ppid"] == zygote  # forked by the server...
    assert first["pid"] != second["pid"] and first["sid"] == first["pid"]  # ...each its own process and session
    assert first["graph_models_loaded"] and second["graph_models_loaded"]  # with what the server imported
    assert (first["probe"], second["probe"]) == ("first", "second")  # the runner's environment at each launch
    assert first["cwd"] == second["cwd"] == ordinary["cwd"] == str(PROJECT_ROOT)
    assert server.process is None  # the block's end stops the server
    with pytest.raises(ProcessLookupError):
        os.kill(zygote, 0)


def test_a_server_that_is_gone_or_a_command_it_cannot_fork_gives_the_ordinary_kernel(tmp_path, monkeypatch):
    with runner.fork_kernels() as server:
        assert server.ready()
        monkeypatch.setenv("PYTHONPATH", f"{os.environ.get('PYTHONPATH', '')}{os.pathsep}{tmp_path}")
        other_path = run_probe(tmp_path, "other-path")  # not the server's module search path: not forked
        assert other_path["ppid"] != server.process.pid and not other_path["graph_models_loaded"]
        monkeypatch.undo()
        server.process.kill()
        server.process.wait()
        gone = run_probe(tmp_path, "gone")
        assert not gone["graph_models_loaded"] and gone["ppid"] == os.getpid()


def test_interrupting_the_runner_stops_the_forked_kernel(tmp_path):
    source = notebook(tmp_path / "slow.ipynb", PROBE, "import time\ntime.sleep(60)")
    out = tmp_path / "slow.json"
    with runner.fork_kernels() as server:
        assert server.ready()
        timer = threading.Thread(target=_sigterm_when, args=(out,), daemon=True)
        timer.start()
        error, interrupted = runner.execute(source, tmp_path / "slow-run.ipynb", {"out_file": str(out)}, 120, False)
        timer.join(5)
        assert interrupted and "SIGTERM" in error
        kernel = json.loads(out.read_text())["pid"]
        deadline = time.monotonic() + 20
        while _alive(kernel) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(kernel)  # the kernel manager killed its client; the server killed the kernel with it
        assert server.alive()  # the server itself serves on


ATTACHED_RUNNER = """
import sys
from pathlib import Path
from runbook import runner
from runbook.authoring import kernels
server = kernels.fork_for_process(sys.argv[1])  # $RUNBOOK_FORK_SERVER: the batch's server, not one of its own
assert server.shared and server.ready(30), "not attached"
runner.execute(Path(sys.argv[2]), Path(sys.argv[3]), {"out_file": sys.argv[4]}, 120, False)
"""


def test_a_worker_attached_to_its_batchs_server_that_dies_takes_its_kernel_with_it(tmp_path):
    # a LocalCluster's workers fork their kernels from their batch's one server (issue 24: one preload per machine);
    # the server outlives a worker killed under its task, the kernel that worker was running must not
    source = notebook(tmp_path / "slow.ipynb", PROBE, "import time\ntime.sleep(60)")
    out = tmp_path / "slow.json"
    with runner.fork_kernels() as server:
        assert server.ready()
        env = {**os.environ, kernels.FORK_SERVER_ENV: server.address}
        worker = subprocess.Popen(
            [
                sys.executable,
                "-c",
                ATTACHED_RUNNER,
                str(PROJECT_ROOT),
                str(source),
                str(tmp_path / "run.ipynb"),
                str(out),
            ],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            facts = _written(out, worker)
            assert facts, worker.communicate(timeout=30)[1][-2000:]
            assert facts["ppid"] == server.process.pid and facts["graph_models_loaded"]  # forked by the batch's server
        finally:
            worker.kill()  # SIGKILL: nothing of the worker's own gets to stop its kernel
            worker.communicate(timeout=10)
        deadline = time.monotonic() + 20
        while _alive(facts["pid"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(facts["pid"])  # its client saw the worker gone and exited; the server killed the kernel
        assert server.alive()  # and serves the batch's other workers on


def _written(path: Path, proc: subprocess.Popen) -> dict:
    """The probe's facts once the kernel has written them whole ({} if the process ended or 60 s passed first)."""
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):  # not there yet, or being written
            time.sleep(0.05)
    return {}


def _sigterm_when(path: Path) -> None:
    deadline = time.monotonic() + 60
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # inside the sleeping cell
    os.kill(os.getpid(), signal.SIGTERM)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_without_a_server_the_kernel_command_is_unchanged():
    assert kernels.kernel_command(["python", "-m", "ipykernel_launcher"]) == ["python", "-m", "ipykernel_launcher"]


def test_a_run_starts_its_kernel_in_the_projects_root_without_moving_this_process(tmp_path, monkeypatch):
    # papermill's `cwd` is a chdir of the whole process: two worker threads' runs would undo it under each other
    monkeypatch.chdir(tmp_path)
    moves: list[str] = []
    real_chdir = os.chdir
    monkeypatch.setattr(os, "chdir", lambda path: (moves.append(str(path)), real_chdir(path))[1])
    facts = run_probe(tmp_path, "here")
    assert facts["cwd"] == str(PROJECT_ROOT)  # the kernel's
    # this process's: never moved (papermill's local file handler "changes" to the directory it is in, around each
    # read and write: a no-op while nothing moves the process)
    assert set(moves) <= {str(tmp_path)} and os.getcwd() == str(tmp_path)
