"""Issue 24 (fast stage runs): the stages of one customer's batch share one warm kernel, and each still leaves the
executed notebook, journal and results a kernel of its own gives."""

import gc
import json
import os
import signal
import time

import nbformat
import pytest

from runbook import runner
from runbook.authoring import kernels
from runbook.evidence import archive as evidence

pytestmark = pytest.mark.notebooks


def code_counts(path):
    nb = nbformat.read(path, as_version=4)
    return [c.execution_count for c in nb.cells if c.cell_type == "code"]


def journal_items(run_dir):
    entries = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    return {e["result"]["item_id"] if e["kind"] == "item" else e["item"] for e in entries}


def test_a_batch_runs_its_stages_on_one_kernel_each_with_its_own_evidence(sandbox, evidence_dir, params_dir):
    with runner.reuse_kernel() as pool:
        outcomes = runner.run_all("demo", stages=[0, 1])
        client = pool.kc
        report = runner.run_report("demo")  # the report notebook too, as `runbook demo` runs it
        assert pool.notebooks == 3 and pool.warm == 2  # the second and third notebook: no new kernel
        assert pool.km is not None and pool.km.has_kernel
        assert client is not None and pool.kc is client  # ... nor a new client (its channels kept connected)
    assert pool.km is None and pool.kc is None  # the block's end stops the kernel and closes the client
    assert not client.channels_running
    assert [o.status for o in outcomes] == ["complete", "incomplete"] and report.status == "complete"
    for o in [*outcomes, report]:
        nb = next(o.run_dir.glob("*.ipynb"))
        counts = code_counts(nb)
        assert counts == list(range(1, len(counts) + 1)), nb.name  # a fresh IPython session: counts start at 1
    # each kernel run wrote the journal of its own run (the runner's environment reached the warm kernel)
    assert journal_items(outcomes[0].run_dir) == {"s0-signed-sla", "s0-msp-authorized"}
    assert journal_items(outcomes[1].run_dir) and all(i.startswith("s1-") for i in journal_items(outcomes[1].run_dir))
    results = json.loads((outcomes[1].run_dir / "results.json").read_text())
    assert {i["status"] for i in results["items"]} - {"not-verified"}  # the stage-1 items ran and were recorded
    assert evidence.verify("demo") == []


def test_the_prelude_resets_the_session_and_gives_the_runner_environment():
    code = kernels.prelude("/work", {"RUNBOOK_JOURNAL": "/e/journal.jsonl"})
    ns: dict = {
        "get_ipython": lambda: type("S", (), {"reset": lambda self, new_session: ns.update(reset=new_session)})()
    }
    before = dict(os.environ)
    try:
        os.environ["RUNBOOK_STALE"] = "x"
        cwd = os.getcwd()
        code = code.replace("/work", cwd)
        exec(code, ns)
        assert os.environ["RUNBOOK_JOURNAL"] == "/e/journal.jsonl" and "RUNBOOK_STALE" not in os.environ
        assert ns["reset"] is True
        assert gc.get_freeze_count() > 0  # what outlived the reset is no longer scanned by the next one
    finally:
        gc.unfreeze()  # this is the test's process, not a kernel
        os.environ.clear()
        os.environ.update(before)


def test_a_warm_kernel_that_died_between_two_stages_is_replaced(sandbox, evidence_dir, params_dir):
    with runner.reuse_kernel() as pool:
        first = runner.run_stage("demo", 0)
        pid = pool.km.provisioner.pid
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while pool.km.provisioner.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        second = runner.run_stage("demo", 0)
        assert pool.km.provisioner.pid != pid and pool.warm == 0
    assert first.status == second.status == "complete", second.error
    assert evidence.verify("demo") == []


def test_a_new_client_of_a_running_kernel_is_ready_and_gets_every_output():
    """The runner's clients (`kernels.quick_ready_client`) check the kernel answers on shell and IOPub without
    jupyter_client's 0.2-s waits; a client ready that soon still gets every output of its first request."""
    from jupyter_core.utils import run_sync

    km = runner._ipc_kernel_manager()(kernel_name=runner.KERNEL)
    run_sync(km.start_kernel)()
    try:
        for n in range(3):  # clients after the first meet a kernel already up, as in a batch's warm kernel
            kc = km.client()
            assert isinstance(kc, kernels.quick_ready_client())
            kc.start_channels()
            try:
                run_sync(kc.wait_for_ready)(timeout=60)
                msg_id = kc.execute(f"print('hello {n}')")
                text, idle = "", False
                while not idle:
                    msg = run_sync(kc.iopub_channel.get_msg)(timeout=30)
                    if msg["parent_header"].get("msg_id") != msg_id:
                        continue  # the kernel_info requests' status: told apart by their parent
                    if msg["msg_type"] == "stream":
                        text += msg["content"]["text"]
                    idle = msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
                assert text == f"hello {n}\n"
            finally:
                kc.stop_channels()
    finally:
        run_sync(km.shutdown_kernel)(now=True)


def test_a_prestarted_kernel_runs_its_notebooks_and_refuses_input(tmp_path):
    """`runbook demo`'s kernel, started before the sandbox (`runner.prestarted_kernel`): its first notebook runs on it
    after the warm-up import, and its client, like nbclient's own, gives no stdin: a cell's input() fails at once."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import sys\nloaded = 'runbook.notebook' in sys.modules"),
        nbformat.v4.new_code_cell("print(loaded)"),
        nbformat.v4.new_code_cell("input('?')"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source, out = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, source)
    pool = runner.prestarted_kernel()
    with runner.reuse_kernel(pool) as inside:
        assert inside is pool and pool.km.has_kernel
        error, interrupted = runner.execute(source, out, {}, 30, False)
    assert "StdinNotImplementedError" in error and not interrupted, error
    ran = nbformat.read(out, as_version=4)
    shown = next(c for c in ran.cells if c.source == "print(loaded)")
    assert shown.outputs[0]["text"] == "True\n"  # the warm-up's import, kept through the prelude's reset
    assert pool.km is None and pool.kc is None
