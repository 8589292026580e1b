"""In a notebook session, apply carries out the plan the engineer just read, and only that; the mode is read at
each call, never fixed at bootstrap."""

import pytest

from runbook import errors
from runbook import params as P
from runbook.notebook import Session
from runbook.steps.tagging import prepare_sheet
from tests.conftest import DEMO_SUBS

ITEM = "s1-monitoring-alerting"


@pytest.fixture
def session(clients, params_dir, evidence_dir):
    s = Session(P.load("demo"), 1)
    s.ctx.clients_factory = lambda: clients
    prepare_sheet(s.ctx)
    return s


def test_apply_carries_out_the_reviewed_plan(session, sandbox):
    shown = session.run(ITEM)
    assert shown.status == "open" and shown.planned and not shown.applied and "DRY RUN" in shown.as_text()
    done = session.apply_reviewed(ITEM)
    assert done.status == "fulfilled" and {(c.action, c.target) for c in done.applied} == {
        (c.action, c.target) for c in shown.planned
    }
    assert "APPLY" in done.as_text()
    with pytest.raises(errors.InputError):
        session.apply_reviewed(ITEM)  # that plan is used up; a new one must be shown first


def test_apply_is_refused_when_the_tenant_changed_since_the_plan(session, sandbox, clients):
    shown = session.run(ITEM)
    clients.resource(DEMO_SUBS[0]).resource_groups.create_or_update(
        "rg-intercept-monitoring", {"location": "westeurope"}
    )
    refused = session.apply_reviewed(ITEM)
    assert (
        refused.status == "failed"
        and refused.applied == []
        and "the tenant changed since the plan was shown" in refused.summary
    )
    assert "- create resource group" in refused.summary
    assert len(shown.planned) - len(session.run(ITEM).planned) == 1  # the new plan knows the group exists


def test_a_real_tenant_needs_its_name_to_confirm(session):
    session.params = session.params.model_copy(update={"target": "azure"})
    session.plans[ITEM] = []
    with pytest.raises(errors.InputError) as err:
        session.apply_reviewed(ITEM)
    assert "needs confirmation" in str(err.value) and "Contoso Demo BV" in str(err.value)


def test_the_mode_is_read_at_each_call(session, monkeypatch):
    class Shell:
        def __init__(self) -> None:
            self.user_ns = {"apply": True}

    shell = Shell()
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    assert session.mode() is True
    shell.user_ns["apply"] = False  # the engineer re-ran the parameters cell
    assert session.mode() is False and session.run(ITEM).applied == []


def test_the_bootstrap_says_who_where_and_the_real_gate(session, sandbox):
    page = session._repr_html_()
    assert "principal 9a2e4c61-7b3d-4f85-a1c9-0d6e8f2b5a73" in page and sandbox.url in page
    assert "NOT passed: stage 0 still has 2 item(s) not done" in page  # no Stage 0 evidence in this test
    assert "DRY RUN" in page
    sandbox.sandbox.stop()
    session.ctx.clients_factory = lambda: __import__("runbook.connect", fromlist=["x"]).make_clients(session.params)
    session.__dict__.pop("clients", None)
    session.ctx.__dict__.pop("clients", None)
    assert "UNREACHABLE" in session.whoami() and "runbook sandbox serve" in session.whoami()
