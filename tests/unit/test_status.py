"""Status table and checklist re-rendering from archived results."""

import json

from runbook.customer import params
from runbook.evidence import archive as evidence
from runbook.evidence import status
from runbook.evidence.results import ItemResult


def archive(customer, stage, records):
    run_id, d = evidence.new_run(customer, stage)
    (d / "results.json").write_text(json.dumps({"items": [r.to_dict() for r in records]}))
    evidence.write_manifest(customer, d, {"stage": stage, "status": "x"})
    return run_id


def rec(item_id, status_, **kw):
    return ItemResult(
        item_id, int(item_id[1]), "CSM", "attested", "t", status_, finished_at="2026-11-20T10:00:00Z", **kw
    )


def test_latest_result_wins_and_unrun_items_are_not_verified(evidence_dir):
    archive("demo", 0, [rec("s0-signed-sla", "open"), rec("s0-msp-authorized", "open")])
    second = archive("demo", 0, [rec("s0-signed-sla", "fulfilled")])
    df = status.table("demo")
    row = df.set_index("item").loc["s0-signed-sla"]
    assert row.status == "fulfilled" and row.evidence.endswith(second)
    assert df.set_index("item").loc["s0-msp-authorized"].status == "open"
    assert df.set_index("item").loc["s4-first-invoice"].status == "not-verified"
    assert len(df) == 40


def test_checklist_marks_done_items_and_fills_the_header(evidence_dir):
    archive("demo", 0, [rec("s0-signed-sla", "fulfilled"), rec("s0-msp-authorized", "open")])
    archive("demo", 3, [rec("s3-iac-pushed", "not-required", attestation={"reason": "no customer repo"})])
    md = status.checklist(params.load("demo"))
    assert "- TenantID: `6f1c2a9e-4b7d-4e38-9a51-2c8d0e7b3f10`" in md
    assert "- Managed Services: CSP, Premium or Full Stack: `Full Stack`" in md
    assert "   - [x] CSM >> Sales received a signed SLA\n" in md
    assert "   - [ ] Engineer >> Intercept is authorized as admin/owner to the customer environment _(open)_" in md
    assert (
        "[x] Engineer >> Infrastructure as code changes pushed to customer repo _(not required: no customer repo)_"
        in md
    )
    assert md.count("- [") == 40
