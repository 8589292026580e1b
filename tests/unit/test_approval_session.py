"""Four eyes in JupyterLab: with approval required (here turned on for the sandbox, as msp.require_approval: true
does), a session's apply cell carries out the plan it shows only when that plan is the approved one for the item,
approved by another principal than the session's; the applied changes carry before and after."""

import pytest

from runbook.customer import params as P
from runbook.errors import ApprovalRequired
from runbook.evidence import EvidenceStore, approval
from runbook.evidence.approval import Principal
from runbook.notebook import Session
from runbook.steps.tagging import prepare_sheet
from tests.unit.test_approval import dry_run

ITEM = "s1-monitoring-alerting"


class Shell:
    def __init__(self) -> None:
        self.user_ns = {"apply": True}


@pytest.fixture
def session(sandbox, clients, params_dir, evidence_dir, monkeypatch):
    monkeypatch.setattr("IPython.get_ipython", lambda: Shell())
    text = (params_dir / "demo.yml").read_text()
    (params_dir / "demo.yml").write_text(text + "msp: {require_approval: true}\n")
    s = Session(P.load("demo"), 1, forced=True)
    assert s.params.approval_required and s.interactive
    s.ctx.clients_factory = lambda: clients
    prepare_sheet(s.ctx)
    return s


def test_the_apply_cell_needs_a_second_principals_approval_of_the_plan_it_shows(session, sandbox):
    shown = session.run(ITEM)
    assert shown.planned
    with pytest.raises(ApprovalRequired, match="no dry run of the stage"):
        session.apply_reviewed(ITEM)
    store = EvidenceStore("demo")
    dry_run(store, {ITEM: shown.planned[1:]})  # a reviewed plan without the first change
    me = Principal.from_claims(session.ctx.clients.target.signed_in())
    approval.record(store, approval.reviewed_plan(store, 1), me)
    with pytest.raises(ApprovalRequired, match="approved only by the principal applying it"):
        session.apply_reviewed(ITEM)
    approval.record(
        store, approval.reviewed_plan(store, 1), Principal("someone-else", kind="user", upn="ann@x.example")
    )
    with pytest.raises(ApprovalRequired, match="the plan shown differs from the approved one"):
        session.apply_reviewed(ITEM)
    dry_run(store, {ITEM: shown.planned})
    approval.record(
        store, approval.reviewed_plan(store, 1), Principal("someone-else", kind="user", upn="ann@x.example")
    )
    done = session.apply_reviewed(ITEM)
    assert done.status == "fulfilled" and len(done.applied) == len(shown.planned)
    group = next(c for c in done.applied if c.action == "create action group")
    assert group.before is None and group.after["properties.groupShortName"] == "intercept"
