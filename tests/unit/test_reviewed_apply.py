"""In a notebook session, apply carries out the plan the engineer just read, and only that; the mode is read at
each call, never fixed at bootstrap; by hand, a cell that runs an item only plans, and applying is the next cell's
explicit act, allowed only in apply mode and past an open stage gate."""

import pytest

from runbook import errors
from runbook.customer import params as P
from runbook.notebook import Note, Session
from runbook.steps.tagging import prepare_sheet
from tests.conftest import DEMO_SUBS

ITEM = "s1-monitoring-alerting"


class Shell:
    """The notebook's namespace as the session reads it (the parameters cell sets `apply`)."""

    def __init__(self, apply: bool) -> None:
        self.user_ns = {"apply": apply}


@pytest.fixture
def shell(monkeypatch):
    sh = Shell(True)
    monkeypatch.setattr("IPython.get_ipython", lambda: sh)
    return sh


@pytest.fixture
def session(clients, params_dir, evidence_dir):
    s = Session(P.load("demo"), 1, forced=True)  # no Stage 0 evidence here: past the gate, as `forced = True` does
    s.ctx.clients_factory = lambda: clients
    prepare_sheet(s.ctx)
    return s


def test_by_hand_a_run_only_plans_even_in_apply_mode(session, shell, sandbox):
    shown = session.run(ITEM)
    assert shown.status == "open" and shown.planned and not shown.applied
    assert 'session.apply_reviewed("s1-monitoring-alerting")' in shown.summary
    assert session.run(ITEM).planned == shown.planned  # nothing was changed by showing the plan


def test_apply_in_dry_run_mode_changes_nothing_and_says_how(session, shell, sandbox):
    shell.user_ns["apply"] = False  # the engineer ran the parameters cell again with apply = False
    shown = session.run(ITEM)
    note = session.apply_reviewed(ITEM)
    assert isinstance(note, Note) and "DRY RUN" in repr(note) and "apply = True" in repr(note)
    assert session.run(ITEM).planned == shown.planned


def test_apply_carries_out_the_reviewed_plan(session, shell, sandbox):
    shown = session.run(ITEM)
    # issue 28: the card's mode badge is the session's (APPLY), though this cell only shows the plan
    assert shown.status == "open" and shown.planned and not shown.applied and "(APPLY)" in shown.as_text()
    done = session.apply_reviewed(ITEM)
    assert done.status == "fulfilled" and {(c.action, c.target) for c in done.applied} == {
        (c.action, c.target) for c in shown.planned
    }
    assert "APPLY" in done.as_text()
    again = session.apply_reviewed(ITEM)  # that plan is used up: running the cell again applies nothing
    assert isinstance(again, Note) and "nothing to apply" in repr(again)


def test_apply_is_refused_when_the_tenant_changed_since_the_plan(session, shell, sandbox, clients):
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


def test_a_real_tenant_needs_its_name_to_confirm(session, shell):
    session.params = session.params.model_copy(update={"target": "azure"})
    session.plans[ITEM] = []
    with pytest.raises(errors.InputError) as err:
        session.apply_reviewed(ITEM)
    assert "needs confirmation" in str(err.value) and "Contoso Demo BV" in str(err.value)


def test_applying_needs_the_stage_gate_open(clients, params_dir, evidence_dir, shell, sandbox):
    s = Session(P.load("demo"), 1)  # not forced, and Stage 0 has no evidence
    s.ctx.clients_factory = lambda: clients
    prepare_sheet(s.ctx)
    assert s.run(ITEM).planned  # looking is allowed
    with pytest.raises(errors.StageGateError) as err:
        s.apply_reviewed(ITEM)
    assert "s0-signed-sla" in str(err.value) and "--force" in str(err.value)


def test_the_mode_is_read_at_each_call(session, shell):
    assert session.mode() is True
    shell.user_ns["apply"] = False  # the engineer re-ran the parameters cell
    assert session.mode() is False and session.run(ITEM).applied == []


def test_the_bootstrap_says_who_where_and_the_real_gate(session, sandbox):
    page = session._repr_html_()
    assert "principal 9a2e4c61-7b3d-4f85-a1c9-0d6e8f2b5a73" in page and sandbox.url in page
    assert "FORCED: stage 0 still has 2 item(s) not done" in page  # no Stage 0 evidence in this test
    assert "DRY RUN" in page
    sandbox.sandbox.stop()
    session.ctx.clients_factory = lambda: __import__("runbook.customer.connect", fromlist=["x"]).make_clients(
        session.params
    )
    session.__dict__.pop("clients", None)
    session.ctx.__dict__.pop("clients", None)
    assert "UNREACHABLE" in session.whoami() and "runbook sandbox serve" in session.whoami()


def test_the_bootstrap_shows_the_preflight_folded(session, sandbox):
    """Issue 21: the JupyterLab session cell shows `runbook preflight`'s summary; a missing Graph permission is
    named for Stage 1 (this session's stage)."""
    page = session._repr_html_()
    assert "<details class='runbook-preflight'>" in page and "Preflight</b>: ready" in page
    assert "graph permission" in page and "Application.ReadWrite.All" in page
    sandbox.state.graph_permissions[sandbox.conn.client_id.lower()] = {"Directory.Read.All"}
    fresh = Session(P.load("demo"), 1, forced=True)  # a new session signs in anew: its token has the roles of now
    made = sandbox.clients()
    fresh.ctx.clients_factory = lambda: made
    try:
        page = fresh._repr_html_()
    finally:
        made.close()  # its connections too (the preflight's connectors read HubSpot and TOPdesk over its httpx client)
    assert "this stage: graph permission: the token lacks Application.ReadWrite.All" in page
    assert fresh.ctx.applied == [] and fresh.ctx.item_id == ""  # the preflight ran in a context of its own


def test_a_tag_set_in_the_tenant_after_the_plan_makes_the_apply_refuse_naming_it(session, shell, sandbox, clients):
    """Issue 28: the plan said merge Intercept=Managed on a resource (it had no such tag); someone set the tag to
    another value in the tenant; the re-inspect compares what each change replaces, not only which changes there are."""
    tagging = "s1-tag-managed-resources"
    shown = session.run(tagging)
    change = next(c for c in shown.planned if c.detail.get("was") is None)
    assert f"{change.detail['key']}: null -> Managed" in change.value_lines()  # the review shows what it replaces
    resource = sandbox.state.get(change.target)
    resource.setdefault("tags", {})[change.detail["key"]] = "Unmanaged"
    refused = session.apply_reviewed(tagging)
    assert refused.status == "failed" and refused.applied == []
    assert "1 with other values" in refused.summary and f"~ merge tag: {change.target.lower()}" in refused.summary
    assert 'was: reviewed null, now "Unmanaged"' in refused.summary
    assert sandbox.state.get(change.target)["tags"][change.detail["key"]] == "Unmanaged"  # nothing was applied


def test_a_monitoring_plan_shows_the_values_it_writes(session, shell):
    """Issue 28: the action group's e-mail receivers (and the alerts' conditions and scopes) are in the plan."""
    shown = session.run(ITEM)
    group = next(c for c in shown.planned if c.action == "create action group")
    lines = group.value_lines()
    assert any("emailReceivers" in v and "alerts@intercept.example" in v for v in lines), lines
    alert = next(c for c in shown.planned if c.action == "create metric alert")
    assert any(v.startswith("properties.criteria.allOf[") for v in alert.value_lines())
    page = shown.as_html()
    assert "<details class='runbook-values'>" in page and "alerts@intercept.example" in page


def test_values_are_masked_where_they_could_hold_a_secret():
    from runbook.steps.desired import masked

    hook = {"name": "pager", "serviceUri": "https://events.example.com/integration?token=abc123"}
    assert masked(hook) == {"name": "pager", "serviceUri": "https://events.example.com/integration?***"}
    assert masked({"clientSecret": "x", "keyId": "k", "password": "p"}) == {
        "clientSecret": "***",
        "keyId": "k",
        "password": "***",
    }


def test_an_item_cell_run_again_after_an_apply_keeps_the_applied_changes(session, shell):
    """Issue 28: re-running the item cell after apply_reviewed showed it "In place" with 0 applied, and the run's
    results lost the changes only the journal still held."""
    shown = session.run(ITEM)
    done = session.apply_reviewed(ITEM)
    assert len(done.applied) == len(shown.planned)
    again = session.run(ITEM)
    assert again.status == "fulfilled" and len(again.applied) == len(done.applied)
    assert "applied earlier in this run are kept on the record" in again.summary
    assert session.results[ITEM].applied == again.applied


def test_the_summary_counts_every_item_of_the_stage(session, shell):
    """Issue 28: "4 item(s), 4 fulfilled" while an item was open: every item of the stage is counted."""
    session.run(ITEM)
    summary = session.finish()
    totals = summary.totals()
    assert sum(totals.values()) == 5 and totals["not run"] == 4 and totals["open"] == 1
    assert "Stage 1 summary: 5 item(s)" in summary._repr_html_()


def test_an_edited_parameter_file_is_not_silently_ignored(session, shell, params_dir, sandbox):
    """Issue 28: the alert e-mail was changed in the file between plan and apply; the session applied the old one.
    Now the plan's card warns, the apply is refused with the fix, and nothing changes in the tenant."""
    shown = session.run(ITEM)
    assert not shown.summary.startswith("WARNING")
    text = (params_dir / "demo.yml").read_text()
    (params_dir / "demo.yml").write_text(text.replace("alerts@intercept.example", "noc@intercept.example"))
    again = session.run(ITEM)
    assert again.summary.startswith("WARNING: ") and "Fix: run the session cell again" in again.summary
    before = len(sandbox.state.arm)
    with pytest.raises(errors.InputError) as err:
        session.apply_reviewed(ITEM)
    assert "nothing was applied" in str(err.value) and "demo.yml (or the MSP's msp.yml) changed" in str(err.value)
    assert len(sandbox.state.arm) == before
    (params_dir / "msp.yml").write_text((params_dir / "msp.yml").read_text() + "\n")  # the MSP's file counts too
    (params_dir / "demo.yml").write_text(text)
    assert session.stale_parameters()  # msp.yml differs from what the session read


def test_an_item_says_when_the_mode_changed_since_the_session_card(session, shell):
    """Issue 28: the session banner kept saying DRY RUN after apply = True until its cell was re-run."""
    shell.user_ns["apply"] = False
    assert "DRY RUN" in session._repr_html_()
    shell.user_ns["apply"] = True  # the parameters cell was run again with apply = True
    shown = session.run(ITEM)
    assert shown.summary.startswith("The mode is now APPLY (apply = True); the session card above still says DRY RUN")
    assert "APPLY" in session._repr_html_()  # redrawn: no note any more
    assert not session.run(ITEM).summary.startswith("The mode is now")
