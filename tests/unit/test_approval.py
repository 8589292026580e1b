"""Four eyes without Azure: the plan's hash, who is the same principal, the gate's four answers, the approval run in
the evidence chain; and before/after per change (from a step's reading, or the change's own values) as the evidence
HTML shows it."""

import json

import pytest

from runbook.customer import params as P
from runbook.errors import ApprovalRequired, ParameterError
from runbook.evidence import EvidenceStore, approval, archive
from runbook.evidence.approval import Principal
from runbook.evidence.diff import as_html, as_text
from runbook.evidence.results import Change, ItemResult
from runbook.steps import states

AG = "/subscriptions/s1/resourceGroups/rg-msp/providers/Microsoft.Insights/actionGroups/ag-msp"
VM = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
RUNBOOK = Principal("9a2e", "cust", "3c9f", kind="app")
APPROVER = Principal("77aa", "msp", "5b5b", name="Approver app", kind="app")


def plan() -> dict[str, list[Change]]:
    return {
        "s1-tag-managed-resources": [Change(VM, "merge tag", {"key": "Intercept", "value": "Managed", "was": None})],
        "s1-monitoring-alerting": [
            Change(AG, "create action group", {"name": "ag-msp", "values": {"properties.enabled": True}})
        ],
    }


def dry_run(store: EvidenceStore, plans: dict[str, list[Change]], stage: int = 1) -> str:
    """A sealed dry run of a stage that planned `plans`, as the runner seals one."""
    run = store.new_run(stage)
    items = []
    for item, changes in plans.items():
        r = ItemResult(item, stage, "Engineer", "automated", item, "open", planned=changes)
        items.append(r.to_dict())
    header = {"customer": store.customer, "run_id": run.run_id, "stage": stage, "status": "incomplete"}
    header |= {"apply": False, "forced": False, "planned_by": "Runbook app (object id 9a2e, tenant cust)"}
    store.archive(run, header, items)
    return run.run_id


def test_the_plan_hash_is_canonical():
    a, b = plan(), plan()
    b["s1-tag-managed-resources"][0].target = VM.upper()  # Azure's IDs are case-insensitive
    b = dict(reversed(list(b.items())))
    b["s1-advisor"] = []  # an item planning nothing
    assert approval.plan_hash(a) == approval.plan_hash(b)
    b["s1-tag-managed-resources"][0].detail["value"] = "Other"
    assert approval.plan_hash(a) != approval.plan_hash(b)
    assert approval.plan_hash({**a, "s3-documentation": [Change("evidence/x", "generate")]}) == approval.plan_hash(a)


def test_who_is_the_same_principal():
    assert RUNBOOK.same_as(Principal("9A2E", "other"))
    assert RUNBOOK.same_as(Principal("other-oid", "msp", "3C9F", kind="app"))  # a multi-tenant app, another tenant
    user = Principal("u1", "msp", "04b07795", upn="ann@msp.example", kind="user")
    assert not user.same_as(Principal("u2", "msp", "04b07795", upn="bob@msp.example", kind="user"))  # both az CLI
    assert user.same_as(Principal("u9", "cust", upn="Ann@msp.example", kind="user"))
    assert not RUNBOOK.same_as(APPROVER)
    claims = {"oid": "u1", "tid": "t", "appid": "a", "name": "Ann", "upn": "ann@x.example", "scp": "user_impersonation"}
    assert Principal.from_claims(claims).kind == "user"
    assert (
        Principal.from_claims({"oid": "o", "appid": "a", "idtyp": "app"}).describe() == "app a (object id o, tenant )"
    )


def test_the_gate_refuses_three_ways_and_passes_a_second_principal(evidence_dir):
    store = EvidenceStore("acme")
    with pytest.raises(ApprovalRequired, match="no dry run of the stage") as err:
        approval.check("acme", 1, approval.reviewed_plan(store, 1), [], RUNBOOK)
    assert err.value.exit_code == 3
    dry_run(store, plan())
    reviewed = approval.reviewed_plan(store, 1)
    assert reviewed is not None and reviewed.changes == 2 and reviewed.planned_by.startswith("Runbook app")
    with pytest.raises(ApprovalRequired, match=r"has no approval\. Fix: .*runbook approve acme --stage 1"):
        approval.check("acme", 1, reviewed, approval.approvals(store, 1), RUNBOOK)
    approval.record(store, reviewed, RUNBOOK)  # the applier approves its own plan
    with pytest.raises(ApprovalRequired, match="approved only by the principal applying it"):
        approval.check("acme", 1, reviewed, approval.approvals(store, 1), RUNBOOK)
    approval.record(store, reviewed, APPROVER)
    ok = approval.check("acme", 1, reviewed, approval.approvals(store, 1), RUNBOOK)
    assert ok.principal == APPROVER and ok.plan_run == reviewed.run_id
    changed = plan()
    changed["s1-tag-managed-resources"] = []  # someone tagged the VM meanwhile; a new dry run plans less
    dry_run(store, changed)
    with pytest.raises(ApprovalRequired, match="the plan differs from the approved one"):
        approval.check("acme", 1, approval.reviewed_plan(store, 1), approval.approvals(store, 1), RUNBOOK)


def test_an_approval_is_a_sealed_run_in_the_chain(evidence_dir):
    store = EvidenceStore("acme")
    run = dry_run(store, plan())
    made = approval.record(store, approval.reviewed_plan(store, 1), APPROVER)
    assert archive.run_kind(made.run_id) == "approval" and store.verify() == []
    data = json.loads((store.folder / made.run_id / archive.RESULTS).read_text())
    assert data["approval"]["plan_run"] == run and data["approval"]["approver"]["object_id"] == "77aa"
    assert data["approved_by"].startswith("Approver app") and data["stage"] == 1
    assert approval.approved_plans("acme", made.run_id)["s1-monitoring-alerting"][0].target == AG
    assert store.latest() == {} or all(r.run_id != made.run_id for r in store.latest().values())
    # the approved hash is checked against the dry run it names: a forged plan is refused (and verify names it)
    path = store.folder / run / archive.RESULTS
    forged = json.loads(path.read_text())
    forged["items"][0]["planned"][0]["detail"]["value"] = "Forged"
    path.write_text(json.dumps(forged))
    with pytest.raises(Exception, match="is not what that run's evidence holds now"):
        approval.approved_plans("acme", made.run_id)
    assert any("results.json was changed" in p for p in store.verify())


def test_the_kernel_reads_the_approved_plan_the_runner_names(evidence_dir, monkeypatch):
    assert approval.from_environment("acme") is None  # no four eyes
    monkeypatch.setenv(approval.APPROVAL_ENV, approval.NOTHING)
    assert approval.from_environment("acme") == {}  # a plan that changes nothing: nothing may be applied
    store = EvidenceStore("acme")
    dry_run(store, plan())
    made = approval.record(store, approval.reviewed_plan(store, 1), APPROVER)
    monkeypatch.setenv(approval.APPROVAL_ENV, made.run_id)
    assert set(approval.from_environment("acme")) == set(plan())


def test_require_approval_defaults_by_target_and_is_validated(params_dir):
    p = P.load("demo")
    assert p.target == "sandbox" and not p.approval_required
    text = (params_dir / "demo.yml").read_text()
    (params_dir / "demo.yml").write_text(text.replace("target: sandbox", "target: azure"))
    assert P.load("demo").approval_required
    (params_dir / "demo.yml").write_text(text + "msp: {require_approval: true}\n")
    assert P.load("demo").approval_required
    (params_dir / "demo.yml").write_text(text + "msp: {require_approval: perhaps}\n")
    with pytest.raises(ParameterError, match="require_approval"):
        P.load("demo")


class Reads:
    """A step that reads a state for the action group only."""

    def state(self, ctx, obs, change):
        return obs.get(change.target, states.UNREAD)


class Ctx:
    journal = None
    item_id = "s1-monitoring-alerting"


def test_before_and_after_from_the_reading_or_the_changes_own_values():
    tag = Change(VM, "merge tag", {"key": "Intercept", "value": "Managed", "was": "old"})
    ag = Change(AG, "create action group", {"values": {"properties.enabled": True}})
    upd = Change(AG + "2", "update action group", {"values": {"properties.groupShortName": {"old": "a", "new": "b"}}})
    hook = "https://hooks.example/x?sig=abc"
    states.before(Reads(), Ctx(), {AG: None}, [tag, ag, upd])
    assert (
        tag.before == {"tags.Intercept": "old"}
        and ag.before is None
        and upd.before == {"properties.groupShortName": "a"}
    )
    after = {AG: {"properties.enabled": True, "properties.webhookReceivers": [{"serviceUri": hook}]}}
    states.after(Reads(), Ctx(), after, [tag, ag, upd], pending=[upd])
    assert tag.after == {"tags.Intercept": "Managed"} and upd.after == states.STILL_PENDING
    assert ag.after["properties.webhookReceivers"] == [{"serviceUri": "https://hooks.example/x?***"}]
    rec = ItemResult("s1-monitoring-alerting", 1, "Engineer", "automated", "t", applied=[tag, ag]).to_dict()
    assert rec["applied"][1]["before"] is None and rec["applied"][1]["after"]["properties.enabled"] is True
    assert "before" not in ItemResult("x", 1, "E", "automated", "t", planned=[tag]).to_dict()["planned"][0]
    assert as_text(tag.before, tag.after) == ["tags.Intercept: old -> Managed"]
    page = ItemResult("s1", 1, "E", "automated", "t", applied=[tag, ag], apply=True).as_html()
    assert "before &rarr; after" in page and "created: " in page and "(absent)" in page
    assert "<code>tags.Intercept</code></td><td>old</td><td>&rarr;</td><td>Managed</td>" in as_html(
        tag.before, tag.after
    )


def offboard_dry_run(store: EvidenceStore, plans: dict[str, list[Change]], tier_to: str = "") -> str:
    """A sealed offboard dry run (`runbook offboard`, or a tier change's removals with `tier_to`) that planned `plans`."""
    run = store.new_run(0, kind="offboard")
    items = [ItemResult(i, 3, "Engineer", "automated", i, "open", planned=c).to_dict() for i, c in plans.items()]
    header = {"customer": store.customer, "run_id": run.run_id, "kind": "offboard", "stage": None}
    header |= {"status": "planned", "apply": False, "forced": False, "planned_by": "Runbook app"}
    header |= {"tier_to": tier_to} if tier_to else {}
    store.archive(run, header, items)
    return run.run_id


def test_an_offboarding_plan_is_approved_by_the_same_engine_apart_from_the_stages(evidence_dir):
    """`runbook approve --offboard`: the newest offboard dry run (an offboarding's, or a tier change's removals), its
    subject on the approval; the gate of an offboarding takes only approvals of an offboarding's plan, a stage's gate
    only a stage's, and every refusal names `runbook approve <customer> --offboard`."""
    store = EvidenceStore("acme")
    removals = {"s1-monitoring-alerting": [Change(AG, "remove action group", {"name": "ag-msp"})]}
    stage = 5
    with pytest.raises(ApprovalRequired, match=r"acme offboarding: .*no dry run .*Fix: `runbook offboard acme`"):
        approval.check("acme", stage, approval.reviewed_plan(store, stage, subject="offboard"), [], RUNBOOK, "offboard")
    run = offboard_dry_run(store, removals)
    dry_run(store, plan())  # a stage's dry run in between: not the offboarding's
    reviewed = approval.reviewed_plan(store, stage, subject=approval.OFFBOARD)
    assert reviewed is not None and reviewed.run_id == run and reviewed.changes == 1
    with pytest.raises(ApprovalRequired, match=r"has no approval\. Fix: .*`runbook approve acme --offboard`"):
        approval.check("acme", stage, reviewed, approval.approvals(store, stage, "offboard"), RUNBOOK, "offboard")
    stage_plan = approval.reviewed_plan(store, 1)
    assert stage_plan is not None
    approval.record(store, stage_plan, APPROVER)  # a stage's approval does not open the offboarding's gate
    assert approval.approvals(store, stage, "offboard") == []
    made = approval.record(store, reviewed, APPROVER)
    assert made.subject == "offboard" and approval.approvals(store, 1)[0].subject == ""
    ok = approval.check("acme", stage, reviewed, approval.approvals(store, stage, "offboard"), RUNBOOK, "offboard")
    assert ok.run_id == made.run_id and set(approval.approved_plans("acme", made.run_id)) == set(removals)
    tier = offboard_dry_run(store, removals | {"s3-backup-deployed": []}, tier_to="Premium")
    newest = approval.reviewed_plan(store, stage, subject=approval.ANY_OFFBOARD)
    assert newest is not None and newest.run_id == tier and newest.subject == "tier:Premium"
    with pytest.raises(ApprovalRequired, match=r"tier change to Premium .*has no approval"):
        approval.check("acme", stage, newest, approval.approvals(store, stage, newest.subject), RUNBOOK, newest.subject)
    assert store.verify() == []
