"""Four eyes on a real tenant (issue 23, part 4) and before/after per change (part 5): the sandbox registered as a
custom cloud (`target: azure`, as `test_real_target_path_with_a_custom_cloud` does), the runbook signing in with its
own client secret, an approver signing in with the default credential chain (environment variables) as a second app
of the MSP's tenant. An apply is refused without an approval, with the applier's own approval, and after the plan
changed; it is accepted with the second principal's approval, and its evidence HTML shows who planned, approved and
applied, and the before/after of the tag merges and the action group creation."""

import json
from pathlib import Path

import pytest

from runbook import runner
from runbook.cli import main
from runbook.evidence import EvidenceStore, approval, archive

pytestmark = pytest.mark.notebooks
TAG = "s1-tag-managed-resources"


def real_target(sandbox, params_dir) -> None:
    text = (params_dir / "demo.yml").read_text().replace("target: sandbox", "target: azure")
    text += (
        f"cloud: {{name: custom, arm_endpoint: '{sandbox.url}', authority: '{sandbox.url}', ca_bundle: '{sandbox.conn.ca_path}'}}\n"
        f"credential: {{client_id: {sandbox.conn.client_id}, client_secret: {{file: '{sandbox.conn.secret_path}'}}}}\n"
    )
    (params_dir / "demo.yml").write_text(text)


def approve_as(monkeypatch, sandbox, client_id: str, secret: str, capsys) -> tuple[int, str]:
    """`runbook approve demo --stage 1` signed in through the default chain (EnvironmentCredential) as `client_id`."""
    with monkeypatch.context() as m:
        m.setenv("AZURE_TENANT_ID", sandbox.conn.msp_tenant_id)
        m.setenv("AZURE_CLIENT_ID", client_id)
        m.setenv("AZURE_CLIENT_SECRET", secret)
        code = main(["approve", "demo", "--stage", "1"])
    return code, capsys.readouterr().out


def stage0_header(outcome) -> dict:
    return json.loads((outcome.run_dir / archive.RESULTS).read_text())


def apply(capsys, *extra: str) -> tuple[int, str]:
    code = main(["run", "demo", "--stage", "1", "--apply", "--force", *extra])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_four_eyes_on_a_real_tenant_and_before_after_per_change(sandbox, evidence_dir, params_dir, monkeypatch, capsys):
    real_target(sandbox, params_dir)
    store = EvidenceStore("demo")
    assert runner.run_stage("demo", 0).status == "complete"  # Stage 0 plans nothing: its apply needs no approval
    stage0 = runner.run_stage("demo", 0, apply=True)
    assert stage0.status == "complete" and "changes nothing" in stage0_header(stage0)["approved_by"]
    dry = runner.run_stage("demo", 1, force=True)  # the reviewed plan
    assert dry.status == "incomplete", dry.error
    planned = {r.item_id: r.planned for r in dry.items}
    assert planned[TAG] and planned["s1-monitoring-alerting"]
    runbook_secret = Path(sandbox.conn.secret_path).read_text()
    before = sandbox.stats()

    # 1. no approval: refused before anything runs (exit 3, one line naming the fix)
    code, out = apply(capsys)
    assert code == 3 and "has no approval" in out and "runbook approve demo --stage 1" in out
    assert "Traceback" not in out and len(store.runs()) == 3

    # 2. the applier's own approval: recorded, but the apply is refused
    code, out = approve_as(monkeypatch, sandbox, sandbox.conn.client_id, runbook_secret, capsys)
    assert code == 0 and f"app {sandbox.conn.client_id}" in out
    code, out = apply(capsys)
    assert code == 3 and "approved only by the principal applying it" in out
    assert [archive.run_kind(r.name) for r in store.runs()][3:] == ["approval"]

    # 3. a second principal approves; then the tenant changes: the item whose plan changed is refused, nothing applied
    approver_id, approver_secret, approver_oid = sandbox.add_principal("Intercept change approver")
    code, out = approve_as(monkeypatch, sandbox, approver_id, approver_secret, capsys)
    assert code == 0 and approver_oid in out
    first = planned[TAG][0].target
    clients = sandbox.clients()
    sub = first.split("/")[2]
    body = {"operation": "Merge", "properties": {"tags": {"Intercept": "Managed"}}}
    clients.resource(sub).tags.begin_update_at_scope(first, body).result()  # someone tagged it meanwhile
    writes = sandbox.stats()
    code, out = apply(capsys, "--item", TAG)
    assert code == 3, out
    refused = json.loads((store.runs()[-1] / archive.RESULTS).read_text())
    item = next(i for i in refused["items"] if i["item_id"] == TAG)
    assert item["status"] == "failed" and not item["applied"]
    assert (
        "The plan differs from the approved one" in item["summary"]
        and f"- merge tag: {first.lower()}" in item["summary"]
    )
    assert refused["approved_by"].startswith(f"app {approver_id}") and writes != before

    # 4. a new dry run, approved by the second principal: applied, verified, and the evidence says who and what
    dry = runner.run_stage("demo", 1, force=True)
    code, out = approve_as(monkeypatch, sandbox, approver_id, approver_secret, capsys)
    assert code == 0
    code, out = apply(capsys, "--show-plan")
    run_dir = store.runs()[-1]
    results = json.loads((run_dir / archive.RESULTS).read_text())
    by_id = {r["item_id"]: r for r in results["items"]}
    assert by_id[TAG]["status"] == "fulfilled" and by_id["s1-monitoring-alerting"]["status"] == "fulfilled", out
    assert "before -> after: tags.Intercept: (absent) -> Managed" in out
    assert results["approved_plan"]["run"] == dry.run_id
    assert results["approved_by"].startswith(f"app {approver_id}") and approver_oid in results["approved_by"]
    assert sandbox.conn.client_id in results["applied_by"] and sandbox.conn.client_id in results["planned_by"]
    page = next(run_dir.glob("*.html")).read_text()
    head = page[: page.find("</table>")]
    for fact in ("planned_by", "approved_by", "applied_by", approver_oid):
        assert fact in head, fact
    tags = next(i for i in results["items"] if i["item_id"] == TAG)["applied"]  # the key in the casing it had
    assert tags and all(c["before"] == {f"tags.{c['detail']['key']}": c["detail"]["was"]} for c in tags)
    assert all(c["after"] == {f"tags.{c['detail']['key']}": "Managed"} for c in tags)
    assert any(c["before"] == {"tags.Intercept": None} for c in tags)
    groups = [
        c
        for c in next(i for i in results["items"] if i["item_id"] == "s1-monitoring-alerting")["applied"]
        if c["action"] == "create action group"
    ]
    assert groups and all(c["before"] is None for c in groups)
    assert groups[0]["after"]["properties.emailReceivers[name,emailAddress]"] == [
        {"name": "msp-alerts", "emailAddress": "alerts@intercept.example"}
    ]
    assert "before &rarr; after" in page and "<code>tags.Intercept</code></td><td>(absent)</td>" in page
    assert "created: " in page and "<code>properties.groupShortName</code>" in page
    journal = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    assert any(e["kind"] == "after" and e["action"] == "create action group" for e in journal)
    assert any(e["kind"] == "change" and e["action"] == "merge tag" and "before" in e for e in journal)
    assert store.verify() == [] and len(approval.approvals(store, 1)) == 3
    assert all(runbook_secret not in f.read_text() for d in store.runs() for f in d.iterdir())
