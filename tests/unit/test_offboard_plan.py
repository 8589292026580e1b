"""The offboarding's planning (issue 25): what the evidence names as the MSP's, each item's undo on an onboarded and on
a partially onboarded tenant (the sandbox, through the SDK), a look-alike of the customer's never deleted, the order,
the run's state and the offboarded customer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook.customer import catalogue
from runbook.customer import params as P
from runbook.evidence import EvidenceStore, journal
from runbook.evidence.results import Change, ItemResult
from runbook.operate import offboard
from runbook.steps.app_registration import AppRegistration
from runbook.steps.base import Context, execute
from runbook.steps.budget import BudgetAlert
from runbook.steps.monitoring import MonitoringAlerting
from runbook.steps.tagging import prepare_sheet
from tests.conftest import DEMO_SUBS

SUB, DEV, SHARED = DEMO_SUBS
RUN = "20261201T080000.000000Z-stage1-abcd"


def test_types_api_versions_and_the_reverse_order():
    rg = f"/subscriptions/{SUB}/resourceGroups/rg-x"
    assert offboard.type_of(rg) == "resourcegroups"
    assert offboard.type_of(f"{rg}/providers/Microsoft.Insights/actionGroups/ag") == "microsoft.insights/actiongroups"
    ra = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/1"
    assert offboard.api_for(ra, {}) == "2022-04-01" and offboard.api_for(ra, {"api_version": "x"}) == "x"
    items = catalogue.load().items
    ordered = [i.id for i in offboard.order([i for i in items if i.undo is not None])]
    assert ordered[-1] == "s3-lighthouse"  # the delegation last: it may carry the runbook's own access
    assert (
        ordered.index("s3-azure-policy") < ordered.index("s1-monitoring-alerting") < ordered.index("s0-msp-authorized")
    )


def test_records_read_every_journaled_change_of_stage_and_drift_runs_only(evidence_dir):
    folder = evidence_dir / "demo"
    for run, entries in {
        RUN: [("s2-budget-alert", "create budget", "/b1")],
        "20261202T080000.000000Z-drift-abcd": [("s2-budget-alert", "update budget", "/b1")],
        "20261203T080000.000000Z-offboard-abcd": [("s2-budget-alert", "remove budget", "/b1")],
    }.items():
        j = journal.Journal(folder / run / journal.JOURNAL)
        for item, action, target in entries:
            j.change(item, Change(target, action, {"kind": "budget"}))
    found = offboard.records(EvidenceStore("demo"))
    assert [(r.action, r.run_id[:8]) for r in found] == [("create budget", "20261201"), ("update budget", "20261202")]
    assert [r.creating for r in found] == [True, False]


def test_run_state_and_the_offboarded_customer(evidence_dir):
    def result(item_id: str, status: str) -> ItemResult:
        item = catalogue.load().item(item_id)
        return ItemResult(item.id, item.stage, item.role, item.kind, item.title, status=status)

    undone = [result("s2-budget-alert", "open"), result("off-final-report", "open")]
    assert offboard.state_of(undone, apply=False) == "planned"
    assert offboard.state_of([result("s2-budget-alert", "fulfilled"), undone[1]], apply=True) == "offboarded"
    assert offboard.state_of([result("s2-budget-alert", "failed")], apply=True) == "incomplete"
    assert offboard.state_of(undone, apply=True, error="cell 3") == "failed"
    store = EvidenceStore("demo")
    assert offboard.offboarded(store) is None
    for n, (apply, status) in enumerate([(False, "planned"), (True, "offboarded")]):
        run = evidence_dir / "demo" / f"2026120{n + 1}T080000.000000Z-offboard-abc{n}"
        run.mkdir(parents=True)
        (run / "results.json").write_text(json.dumps({"apply": apply, "status": status}))
        assert (offboard.offboarded(store) is not None) == apply


def onboard(clients, evidence_dir: Path, steps) -> Context:
    """Apply some of the onboarding's steps with their changes journaled in a stage run of the evidence."""
    ctx = Context(P.load("demo"), lambda: clients, apply=True, ran_by="test")
    ctx.journal = journal.Journal(evidence_dir / "demo" / RUN / journal.JOURNAL)
    prepare_sheet(ctx)
    for step in steps:
        assert execute(step, ctx).status == "fulfilled"
    ctx.apply, ctx.journal = False, None
    return ctx


def undo(ctx: Context, item_id: str, shared: offboard.Plan | None = None, **kw) -> ItemResult:
    recs = offboard.records(EvidenceStore("demo"))
    item = catalogue.load().item(item_id)
    return execute(
        offboard.undo_for(item, offboard.by_item(recs).get(item_id, []), shared or offboard.Plan(recs)), ctx, **kw
    )


def test_partially_onboarded_each_undo_plans_what_its_runs_made_and_nothing_else(clients, params_dir, evidence_dir):
    """Stage 1's app registration and monitoring and Stage 2's budget applied, nothing of Stage 3: each item's undo
    plans exactly what the evidence names, the others nothing; a dry run changes nothing; apply removes the reviewed
    plan, a re-run finds nothing left."""
    ctx = onboard(clients, evidence_dir, [AppRegistration(), MonitoringAlerting(), BudgetAlert()])
    budget = undo(ctx, "s2-budget-alert")
    assert budget.status == "open" and len(budget.planned) == 3
    assert {c.target.rsplit("/", 1)[-1] for c in budget.planned} == {"msp-monthly-budget"}
    mon = undo(ctx, "s1-monitoring-alerting")
    kinds = [c.detail["kind"] for c in mon.planned]
    assert kinds.index("metric alert") < kinds.index("action group") < kinds.index("resource group")  # newest first
    app = undo(ctx, "s1-app-registration")
    assert [c.action for c in app.planned][-3:] == [
        "remove service principal",
        "remove application",
        "remove client secret",
    ]
    assert sum(c.action == "remove role assignment" for c in app.planned) == 6  # 3 roles on the 2 RBAC subscriptions
    for item_id in ("s3-azure-policy", "s3-patching-deployed", "s3-backup-deployed"):  # not onboarded: nothing to do
        r = undo(ctx, item_id)
        assert r.status == "fulfilled" and r.planned == [] and "Nothing of the MSP's" in r.summary, item_id
    light = undo(ctx, "s3-lighthouse")  # the fixture's delegation, deployed by the customer: theirs to remove
    assert light.planned == [] and {r["decision"] for r in light.observed} == {"needs the customer"}
    # apply the reviewed plan: the budgets go, verified; a second run finds nothing
    ctx.apply = True
    done = undo(ctx, "s2-budget-alert", reviewed=budget.planned)
    assert done.status == "fulfilled" and len(done.applied) == 3, done.summary
    assert {r["decision"] for r in done.observed} == {"gone"}
    assert clients.consumption(SUB).budgets.list(f"/subscriptions/{SUB}") is not None
    assert [b.name for b in clients.consumption(SUB).budgets.list(f"/subscriptions/{SUB}")] == []
    again = undo(ctx, "s2-budget-alert")
    assert again.planned == [] and again.status == "fulfilled"
    # a plan that no longer matches the tenant is refused, nothing removed
    stale = undo(ctx, "s1-monitoring-alerting", reviewed=mon.planned[:-1])
    assert stale.status == "failed" and "the tenant changed since the plan was shown" in stale.summary
    assert stale.applied == []


def test_a_look_alike_without_record_or_tag_is_never_deleted(clients, params_dir, evidence_dir):
    """The customer's own budget and action group under the MSP's very names, and no record in the evidence: listed as
    not the MSP's, never planned, still there after an apply."""
    budget = f"/subscriptions/{SUB}/providers/Microsoft.Consumption/budgets/msp-monthly-budget"
    res = clients.resource(SUB).resources
    res.begin_create_or_update_by_id(
        budget,
        {
            "properties": {
                "category": "Cost",
                "amount": 100,
                "timeGrain": "Monthly",
                "timePeriod": {"startDate": "2026-12-01T00:00:00Z"},
            }
        },
        api_version="2024-08-01",
    ).result()
    rg = f"/subscriptions/{SUB}/resourceGroups/rg-intercept-monitoring"
    res.begin_create_or_update_by_id(rg, {"location": "westeurope"}, api_version="2025-04-01").result()
    ag = f"{rg}/providers/Microsoft.Insights/actionGroups/ag-intercept"
    body = {"location": "Global", "properties": {"groupShortName": "own", "enabled": True, "emailReceivers": []}}
    res.begin_create_or_update_by_id(ag, body, api_version="2023-01-01").result()
    ctx = Context(P.load("demo"), lambda: clients, apply=True, ran_by="test")
    prepare_sheet(ctx)
    for item_id, target in (("s2-budget-alert", budget), ("s1-monitoring-alerting", ag)):
        r = undo(ctx, item_id)
        assert r.planned == [] and r.applied == [], item_id
        rows = {row["id"].lower(): row["decision"] for row in r.observed}
        assert rows[target.lower()] == "not the MSP's", item_id
        assert res.get_by_id(target, api_version="2024-08-01" if "budgets" in target else "2023-01-01").id
    app = undo(ctx, "s1-app-registration")  # no app of that name was created by the runbook: nothing to remove
    assert app.planned == []


def test_a_locked_artefact_is_reported_not_unlocked(clients, params_dir, evidence_dir):
    ctx = onboard(clients, evidence_dir, [BudgetAlert()])
    lock = f"/subscriptions/{DEV}/providers/Microsoft.Authorization/locks/customer-freeze"
    clients.resource(DEV).resources.begin_create_or_update_by_id(
        lock, {"properties": {"level": "CanNotDelete"}}, api_version="2020-05-01"
    ).result()
    plan = undo(ctx, "s2-budget-alert")
    decided = {row["subscription"]: row["decision"] for row in plan.observed}
    assert decided == {SUB: "remove", DEV: "locked", SHARED: "remove"}
    assert "customer-freeze (CanNotDelete)" in next(r["why"] for r in plan.observed if r["subscription"] == DEV)
    ctx.apply = True
    done = undo(ctx, "s2-budget-alert", reviewed=plan.planned)
    assert len(done.applied) == 2
    assert clients.resource(DEV).resources.get_by_id(lock, api_version="2020-05-01").id  # still locked
    assert [b.name for b in clients.consumption(DEV).budgets.list(f"/subscriptions/{DEV}")] == ["msp-monthly-budget"]


@pytest.mark.parametrize("item_id", ["s3-defender-enabled", "s3-iac-pushed", "s0-msp-authorized"])
def test_what_is_handed_over_is_listed_with_its_reason(item_id, evidence_dir, params_dir):
    ctx = Context(P.load("demo"), None, ran_by="test")
    r = undo(ctx, item_id)
    assert r.planned == [] and r.status == "fulfilled"
    if item_id != "s3-defender-enabled":  # no record: nothing read from the tenant
        assert {row["decision"] for row in r.observed} <= {"hand over", "needs the customer"} and r.observed


def test_a_tier_change_undoes_what_the_new_tier_leaves_out_and_adds_what_it_needs():
    from runbook.operate import tier

    removes, adds = tier.plan_items("Full Stack", "Premium")
    assert {"s3-backup-deployed", "s3-patching-deployed"} <= {i.id for i in removes} and adds == []
    removes, adds = tier.plan_items("Premium", "CSP")
    assert {i.id for i in removes} == {"s1-monitoring-alerting", "s3-advisor", "s3-defender-enabled", "s3-azure-policy"}
    assert all(i.undo is not None for i in removes)
    removes, adds = tier.plan_items("CSP", "Premium")
    assert removes == [] and {"s1-monitoring-alerting", "s3-azure-policy", "s3-defender-discussed"} <= {
        i.id for i in adds
    }


def test_a_tier_change_refuses_bad_input_before_any_call(params_dir):
    from runbook.errors import InputError
    from runbook.operate import tier

    def never(*a, **kw):
        raise AssertionError("no run")

    with pytest.raises(InputError, match="not a tier"):
        tier.change("demo", "Gold", never, never)
    with pytest.raises(InputError, match="already on Full Stack"):
        tier.change("demo", "Full Stack", never, never)
    with pytest.raises(InputError, match=r"attestations\.tier-change-agreed is required"):
        tier.change("demo", "Premium", never, never, apply=True)


def test_the_app_and_its_secret_in_key_vault_are_removed(clients, vault_params, evidence_dir):
    """The demo's app secret lives in the MSP's Key Vault (parameters/demo.yml as committed): the undo removes the
    app's role assignments, its service principal and the application, then deletes the secret (soft delete)."""
    ctx = onboard(clients, evidence_dir, [AppRegistration()])
    ref = ctx.params.app_registration.secret_store
    assert ctx.secrets.versions(ref)
    plan = undo(ctx, "s1-app-registration")
    assert plan.planned[-1].action == "remove client secret" and plan.planned[-1].target == ref.describe()
    ctx.apply = True
    done = undo(ctx, "s1-app-registration", reviewed=plan.planned)
    assert done.status == "fulfilled" and len(done.applied) == len(plan.planned), done.summary
    assert ctx.secrets.versions(ref) == []
    assert "payload" not in json.dumps(done.to_dict()) and "secret_text" not in json.dumps(done.to_dict())


def test_backup_protection_is_stopped_and_its_data_retained(clients, params_dir, evidence_dir):
    """Backup stays the customer's: the undo stops the protection the runbook enabled, retaining the recovery points
    (PUT of the protected item with protectionState ProtectionStopped: learn.microsoft.com/azure/backup/
    backup-azure-arm-userestapi-backupazurevms, "Stop protection but retain existing data"), and keeps the vault and
    its policy; a stop for an item that is not protected is refused (400
    BMSUserErrorInvalidConfigureProtectionRequest, as configure protection's own input errors)."""
    from azure.core.exceptions import HttpResponseError

    from runbook.steps.backup import BackupDeployed

    ctx = onboard(clients, evidence_dir, [BackupDeployed()])
    plan = undo(ctx, "s3-backup-deployed")
    assert plan.planned and {c.action for c in plan.planned} == {"stop protection, retain data"}
    kept = {row["kind"] for row in plan.observed if row["decision"] == "kept"}
    assert {"Recovery Services vault", "backup policy"} <= kept
    ctx.apply = True
    done = undo(ctx, "s3-backup-deployed", reviewed=plan.planned)
    assert done.status == "fulfilled" and len(done.applied) == len(plan.planned), done.summary
    item = plan.planned[0].target
    got = clients.resource(SUB).resources.get_by_id(item, api_version=plan.planned[0].detail["api_version"])
    assert got.properties["protectionState"] == "ProtectionStopped"
    assert all(r["decision"] == "kept" for r in done.observed)  # the vaults, policies, stopped items: kept
    again = undo(ctx, "s3-backup-deployed")
    assert again.planned == []
    missing = item.rsplit(";", 1)[0] + ";no-such-vm"
    with pytest.raises(HttpResponseError) as err:
        clients.resource(SUB).resources.begin_create_or_update_by_id(
            missing,
            {
                "properties": {
                    "protectedItemType": "Microsoft.Compute/virtualMachines",
                    "protectionState": "ProtectionStopped",
                }
            },
            api_version=plan.planned[0].detail["api_version"],
        ).result()
    assert err.value.status_code == 400 and err.value.error.code == "BMSUserErrorInvalidConfigureProtectionRequest"


def test_backup_data_deleted_only_with_the_customers_written_agreement(clients, params_dir, evidence_dir):
    """`offboarding.backup_data: delete`: the plan says per protected item that its protection is stopped and its
    recovery points deleted (irreversible), and the apply deletes the item (ProtectedItems_Delete, 202 + an LRO:
    Common/ProtectedItem_Delete.json), which the vault's soft delete keeps soft-deleted (isScheduledForDeferredDelete);
    the vault and its policy stay. Without attestations.off-backup-data-deletion-agreed an apply is exit 2 before
    anything runs (`check_inputs`), and the undo itself refuses the deletion in one line; a re-run plans nothing."""
    from datetime import date

    from runbook.errors import InputError
    from runbook.steps.backup import BackupDeployed

    ctx = onboard(clients, evidence_dir, [BackupDeployed()])
    ctx.params = ctx.params.model_copy(update={"offboarding": P.Offboarding(backup_data="delete")})
    plan = undo(ctx, "s3-backup-deployed")
    assert plan.planned and {c.action for c in plan.planned} == {"stop protection, delete data"}
    rows = [r for r in plan.observed if r["decision"] == "remove"]
    assert rows and all("delete its recovery points: irreversible" in r["why"] for r in rows)
    assert all(f"needs attestations.{offboard.DELETION_AGREED}" in r["why"] for r in rows)
    kept = {row["kind"] for row in plan.observed if row["decision"] == "kept"}
    assert {"Recovery Services vault", "backup policy"} <= kept
    with pytest.raises(InputError) as err:
        offboard.check_inputs(ctx.params, apply=True)
    assert "offboarding.backup_data is delete" in str(err.value) and offboard.DELETION_AGREED in str(err.value)
    offboard.check_inputs(ctx.params, apply=False)  # a dry run shows the plan
    offboard.check_inputs(ctx.params, apply=True, only=("s3-patching-deployed",))  # a tier change without backup
    ctx.apply = True
    refused = undo(ctx, "s3-backup-deployed", reviewed=plan.planned)  # the undo never deletes without it either
    assert refused.status == "failed" and not refused.applied
    assert all(offboard.DELETION_AGREED in m for m in refused.missing)
    item = plan.planned[0].target
    api = plan.planned[0].detail["api_version"]
    assert (
        not clients.resource(SUB)
        .resources.get_by_id(item, api_version=api)
        .properties.get("isScheduledForDeferredDelete")
    )

    agreed = P.Attestation(by="Chris CSM", at=date(2027, 6, 30), reference="TOPdesk I2706-0001: letter signed")
    ctx.params = ctx.params.model_copy(
        update={"attestations": {**ctx.params.attestations, offboard.DELETION_AGREED: agreed}}
    )
    offboard.check_inputs(ctx.params, apply=True)
    ctx.apply = False
    plan = undo(ctx, "s3-backup-deployed")
    assert all("needs attestations" not in r["why"] for r in plan.observed)
    ctx.apply = True
    done = undo(ctx, "s3-backup-deployed", reviewed=plan.planned)
    assert done.status == "fulfilled" and len(done.applied) == len(plan.planned), done.summary
    got = clients.resource(SUB).resources.get_by_id(item, api_version=api).properties
    assert got["isScheduledForDeferredDelete"] is True and got["protectionState"] == "ProtectionStopped"
    gone = [r for r in done.observed if r["decision"] == "gone"]
    assert len(gone) == len(plan.planned) and all("soft-deleted until" in r["why"] for r in gone)
    assert {r["kind"] for r in done.observed if r["decision"] == "kept"} >= {"Recovery Services vault"}
    ctx.apply = False
    assert undo(ctx, "s3-backup-deployed").planned == []


def test_the_notebooks_remove_cell_passes_the_four_eyes_gate_first(clients, params_dir, evidence_dir):
    """In JupyterLab (no runner: no run folder) with approval required, the offboarding notebook's remove cell checks
    the plan it shows against an approval by another principal before anything else: without one it is refused
    (ApprovalRequired, exit 3) naming `runbook approve <customer> --offboard`; nothing is removed."""
    from runbook.errors import ApprovalRequired

    onboard(clients, evidence_dir, [MonitoringAlerting()])
    params = P.load("demo")
    params = params.model_copy(update={"msp": params.msp.model_copy(update={"require_approval": True})})
    session = offboard.OffboardSession(params, apply=True)
    session.ctx = Context(params, lambda: clients, False)
    before = {r.id.lower() for r in clients.resource(SUB).resources.list()}
    session.plan()
    assert session.results["s1-monitoring-alerting"].planned
    with pytest.raises(ApprovalRequired, match=r"demo offboarding: .*runbook approve demo --offboard"):
        session.remove()
    assert {r.id.lower() for r in clients.resource(SUB).resources.list()} == before
