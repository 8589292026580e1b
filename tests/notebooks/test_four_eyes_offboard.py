"""Four eyes on offboarding (issue 25): deleting is the most dangerous thing the runbook does, so on a target that
requires approval `runbook offboard <customer> --apply` (and a tier change's removals) is refused, exit 3 in one line
before any run folder, unless a second principal approved the dry run's plan (`runbook approve <customer> --offboard`)
and the plan has not changed since; the applier may not be the approver. As test_four_eyes.py does it: the sandbox as a
custom cloud (`target: azure`), the runbook signing in with its own secret, the approver through the default chain as
a second app of the MSP's tenant. The four cases: no approval, the applier's own, a changed plan (a newer dry run; the
tenant changed under an approved plan), accepted; the evidence HTML says who planned, approved and applied."""

import json
from pathlib import Path

import pytest

from runbook import runner
from runbook.cli import main
from runbook.evidence import EvidenceStore, approval, archive
from tests.notebooks.test_four_eyes import real_target

pytestmark = pytest.mark.notebooks
TAG = "s1-tag-managed-resources"
AGREED = '  tier-change-agreed: {by: Chris CSM, at: 2027-01-15, reference: "SLA amendment 2027-01"}\n'


def approve_as(monkeypatch, sandbox, client_id: str, secret: str, capsys) -> tuple[int, str]:
    """`runbook approve demo --offboard`, signed in through the default chain (EnvironmentCredential) as `client_id`."""
    with monkeypatch.context() as m:
        m.setenv("AZURE_TENANT_ID", sandbox.conn.msp_tenant_id)
        m.setenv("AZURE_CLIENT_ID", client_id)
        m.setenv("AZURE_CLIENT_SECRET", secret)
        code = main(["approve", "demo", "--offboard"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def run(capsys, *args: str) -> tuple[int, str]:
    code = main(["offboard", "demo", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def results_of(run_dir: Path) -> dict:
    return json.loads((run_dir / archive.RESULTS).read_text())


def test_four_eyes_on_offboarding_a_real_tenant(sandbox, evidence_dir, params_dir, monkeypatch, capsys):
    real_target(sandbox, params_dir)
    path = params_dir / "demo.yml"
    onboarding = path.read_text()
    path.write_text(onboarding + "msp: {require_approval: false}\n")  # the onboarding is not what is tested here
    stage1 = runner.run_stage("demo", 1, apply=True, force=True)
    assert any(r.applied for r in stage1.items), stage1.error
    path.write_text(onboarding.replace("attestations:\n", "attestations:\n" + AGREED, 1))  # approval required again
    store = EvidenceStore("demo")
    runbook_secret = Path(sandbox.conn.secret_path).read_text()

    # a tier change's removals pass the same gate: no dry run of them, nothing to approve: exit 3 before any run
    runs = len(store.runs())
    assert main(["tier", "demo", "--to", "Premium", "--apply"]) == 3
    out = capsys.readouterr()
    assert "tier change to Premium" in out.err + out.out and "runbook approve demo --offboard" in out.err + out.out
    assert len(store.runs()) == runs

    code, out = run(capsys)  # the reviewed plan: a dry run, who planned it on its record
    assert code == 0, out
    dry = results_of(store.runs()[-1])
    assert dry["status"] == "planned" and sandbox.conn.client_id in dry["planned_by"]
    planned = {i["item_id"]: i["planned"] for i in dry["items"] if i["planned"]}
    assert planned[TAG] and planned["s1-monitoring-alerting"]
    runs = len(store.runs())

    # 1. no approval: refused before anything runs (exit 3, one line naming the fix)
    code, out = run(capsys, "--apply")
    assert code == 3 and "demo offboarding: nothing was applied" in out and "has no approval" in out
    assert "runbook approve demo --offboard" in out and "Traceback" not in out and len(store.runs()) == runs

    # 2. the applier's own approval: recorded, but the apply is refused
    code, out = approve_as(monkeypatch, sandbox, sandbox.conn.client_id, runbook_secret, capsys)
    assert code == 0 and "approved: offboarding plan of run" in out and f"app {sandbox.conn.client_id}" in out
    code, out = run(capsys, "--apply")
    assert code == 3 and "approved only by the principal applying it" in out
    assert [archive.run_kind(r.name) for r in store.runs()][runs:] == ["approval"]

    # 3. a second principal approves; then the plan changes. A newer dry run that plans otherwise: refused before any
    # run (the approved plan is not the reviewed one any more) ...
    approver_id, approver_secret, approver_oid = sandbox.add_principal("Intercept offboarding approver")
    code, out = approve_as(monkeypatch, sandbox, approver_id, approver_secret, capsys)
    assert code == 0 and approver_oid in out
    first = planned[TAG][0]
    clients = sandbox.clients()
    body = {"operation": "Delete", "properties": {"tags": {first["detail"]["key"]: first["detail"]["value"]}}}
    clients.resource(first["target"].split("/")[2]).tags.begin_update_at_scope(first["target"], body).result()
    code, out = run(capsys)
    assert code == 0
    runs = len(store.runs())
    code, out = run(capsys, "--apply")
    assert code == 3 and "the plan differs from the approved one" in out and len(store.runs()) == runs
    # ... and a tenant that changed under the approved plan: that item is refused, nothing removed for it, the others'
    # approved removals go on
    code, out = approve_as(monkeypatch, sandbox, approver_id, approver_secret, capsys)
    assert code == 0
    second = next(c for c in planned[TAG][1:] if c["target"] != first["target"])
    body = {"operation": "Delete", "properties": {"tags": {second["detail"]["key"]: second["detail"]["value"]}}}
    clients.resource(second["target"].split("/")[2]).tags.begin_update_at_scope(second["target"], body).result()
    code, out = run(capsys, "--apply")
    assert code == 3, out
    refused = results_of(store.runs()[-1])
    item = next(i for i in refused["items"] if i["item_id"] == TAG)
    assert item["status"] == "failed" and not item["applied"]
    assert "The plan differs from the approved offboarding plan" in item["summary"]
    assert f"- remove tag: {second['target'].lower()}" in item["summary"]
    others = [i for i in refused["items"] if i["item_id"] == "s1-monitoring-alerting"]
    assert others and others[0]["applied"] and others[0]["status"] == "fulfilled"
    assert refused["approved_by"].startswith(f"app {approver_id}")

    # 4. a new dry run, approved by the second principal: removed, verified, and the evidence says who
    code, out = run(capsys)
    assert code == 0
    plan_run = store.runs()[-1].name
    code, out = approve_as(monkeypatch, sandbox, approver_id, approver_secret, capsys)
    assert code == 0 and plan_run in out
    code, out = run(capsys, "--apply")
    assert code == 0 and "offboard demo: offboarded (--apply)" in out, out
    run_dir = store.runs()[-1]
    results = results_of(run_dir)
    assert results["status"] == "offboarded" and results["approved_plan"]["run"] == plan_run
    assert any(r["item"] == TAG for r in results["removed"])
    assert results["approved_by"].startswith(f"app {approver_id}") and approver_oid in results["approved_by"]
    assert sandbox.conn.client_id in results["applied_by"] and sandbox.conn.client_id in results["planned_by"]
    page = next(run_dir.glob("*.html")).read_text()
    head = page[: page.find("</table>")]
    for fact in ("planned_by", "approved_by", "applied_by", approver_oid):
        assert fact in head, fact
    offboard_approvals = approval.approvals(store, 5, approval.OFFBOARD)
    assert len(offboard_approvals) == 4 and approval.approvals(store, 1) == []  # a stage's approvals are its own
    assert store.verify() == []
    assert all(runbook_secret not in f.read_text() for d in store.runs() for f in d.iterdir() if f.is_file())
