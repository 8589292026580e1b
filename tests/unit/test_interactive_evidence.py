"""A stage stepped through by hand leaves the evidence a papermill run leaves: every item in the journal as it
finishes (so status sees it at once and a dead kernel loses nothing), then, sealed, the executed cells, HTML,
results and the chained manifest, marked interactive."""

import json
import os
import socket

import pytest

from runbook import errors, runner
from runbook.customer import params as P
from runbook.evidence import archive as evidence
from runbook.evidence import journal, status
from runbook.evidence import lock as runlock
from runbook.evidence.transcript import Transcript
from runbook.notebook import Session
from runbook.steps.tagging import prepare_sheet

ITEM = "s1-monitoring-alerting"


@pytest.fixture
def session(clients, params_dir, evidence_dir, monkeypatch):
    class Shell:
        def __init__(self) -> None:
            self.user_ns = {"apply": True}

    monkeypatch.setattr("IPython.get_ipython", Shell)
    s = Session(P.load("demo"), 1, forced=True)
    s.ctx.clients_factory = lambda: clients
    prepare_sheet(s.ctx)
    s.begin_record(None)  # what notebook.start does by hand (no kernel to record cells from here)
    yield s
    if s.record is not None and not s.record.sealed:
        s.record.seal("01-technical-onboarding.ipynb")


def test_each_item_is_on_the_record_when_it_finishes_then_sealed_as_interactive(session, sandbox):
    session.run(ITEM)
    done = session.apply_reviewed(ITEM)
    assert done.status == "fulfilled" and done.applied
    run_dir = session.record.run_dir
    entries, _ = journal.read(run_dir / journal.JOURNAL)
    assert [e["action"] for e in entries if e["kind"] == "change"] == [c.action for c in done.applied]
    live = status.latest("demo")[ITEM]
    assert live.how == "in progress" and live.result.status == "fulfilled"  # status sees it before the seal

    summary = session.finish()
    assert summary.evidence_dir == str(run_dir)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["interactive"] is True and results["apply"] is True and results["status"] == "incomplete"
    assert [i["item_id"] for i in results["items"]] == [ITEM]  # only what ran: other items keep their evidence
    assert {"01-technical-onboarding.ipynb", "01-technical-onboarding.html", "manifest.json"} <= {
        p.name for p in run_dir.iterdir()
    }
    assert status.latest("demo")[ITEM].how == "interactive"
    assert evidence.verify("demo") == []
    assert not (evidence.customer_dir("demo") / runlock.LOCK).exists()  # the lock is given back


def test_a_session_is_refused_while_another_process_holds_the_customer(clients, params_dir, evidence_dir):
    folder = evidence.customer_dir("demo")
    folder.mkdir(parents=True)
    holder = {"user": "ci", "host": socket.gethostname(), "pid": os.getppid(), "what": "stage 1 --apply"}
    (folder / runlock.LOCK).write_text(json.dumps(holder))
    s = Session(P.load("demo"), 1)
    with pytest.raises(errors.CustomerBusy) as err:
        s.begin_record(None)
    assert "stage 1 --apply" in str(err.value)


def test_what_a_dead_kernel_applied_is_sealed_by_the_next_run(session, sandbox):
    session.run(ITEM)
    done = session.apply_reviewed(ITEM)
    run_dir = session.record.run_dir
    session.record.sealed = True  # the kernel died here: nothing sealed, the lock's holder is gone
    runlock.release(evidence.customer_dir("demo"))
    assert runner.recover("demo") == [run_dir.name]
    results = json.loads((run_dir / "results.json").read_text())
    record = next(i for i in results["items"] if i["item_id"] == ITEM)
    assert record["status"] == "fulfilled" and len(record["applied"]) == len(done.applied)
    assert evidence.verify("demo") == []


def test_the_transcript_is_what_the_kernel_executed_with_its_outputs():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.run_cell("apply = False", store_history=True)
        t = Transcript()
        t.install(shell)
        shell.run_cell("apply = True", store_history=True)
        shell.run_cell("41 + 1", store_history=True)
        shell.run_cell("1 / 0", store_history=True)
        t.uninstall()
        shell.run_cell("'not recorded'", store_history=True)
    finally:
        InteractiveShell.clear_instance()
    nb = t.notebook()
    sources = [c.source for c in nb.cells]
    assert sources[:1] == ["apply = False"] and sources[-3:] == ["apply = True", "41 + 1", "1 / 0"]
    result = nb.cells[-2].outputs[0]
    assert result.output_type == "execute_result" and result.data["text/plain"] == "42"
    error = nb.cells[-1].outputs[0]
    assert error.output_type == "error" and error.ename == "ZeroDivisionError" and error.traceback == []
    assert "'not recorded'" not in sources
