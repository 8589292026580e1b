"""`runbook drift`'s classification on constructed results (issue 26): a fresh dry-run result against the item's last
verified result and the decisions on record gives unchanged, drifted, new in scope, accepted, or (after its day)
drifted again; finding ids are stable; the run's state and exit code follow its items."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from runbook.customer import catalogue
from runbook.evidence import EvidenceStore
from runbook.evidence import archive as evidence
from runbook.evidence.results import Change, ItemResult
from runbook.evidence.store import Latest
from runbook.operate import drift

SUB = "1a2b3c4d-0001-4e5f-8a9b-0c1d2e3f4a01"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-app"
VM1, VM2 = (
    f"{RG}/providers/Microsoft.Compute/virtualMachines/vm-01",
    f"{RG}/providers/Microsoft.Compute/virtualMachines/vm-02",
)
PLAN = f"/subscriptions/{SUB}/providers/Microsoft.Security/pricings/KeyVaults"
TODAY = date(2026, 12, 7)


def item(item_id: str) -> catalogue.Item:
    return catalogue.load().item(item_id)


def result(item_id: str, status: str, planned=(), observed=(), missing=()) -> ItemResult:
    it = item(item_id)
    return ItemResult(
        it.id,
        it.stage,
        it.role,
        it.kind,
        it.title,
        status,
        "",
        list(observed),
        list(missing),
        list(planned),
        finished_at="2026-11-20T10:00:00Z",
    )


def verified(item_id: str, observed) -> Latest:
    return Latest(result(item_id, "fulfilled", observed=observed), "20261120T100000.000000Z-stage1-abcd", Path("."))


def tag(target: str) -> Change:
    return Change(target, "merge tag", {"key": "Intercept", "value": "Managed", "was": None})


TAGGED = [{"resource": VM1, "type": "Microsoft.Compute/virtualMachines", "tag Intercept": "Managed"}]


def test_a_result_with_nothing_pending_is_unchanged_and_says_since_when():
    out = drift.classify(
        item("s1-tag-managed-resources"),
        result("s1-tag-managed-resources", "fulfilled"),
        verified("s1-tag-managed-resources", TAGGED),
        {},
        TODAY,
    )
    assert out.state == "unchanged" and out.findings == []
    assert out.since == "2026-11-20T10:00:00Z" and out.since_run.endswith("stage1-abcd")


def test_a_pending_change_on_a_verified_target_is_drift_and_one_on_a_new_target_is_new_in_scope():
    now = result("s1-tag-managed-resources", "open", planned=[tag(VM1), tag(VM2)])
    out = drift.classify(item("s1-tag-managed-resources"), now, verified("s1-tag-managed-resources", TAGGED), {}, TODAY)
    states = {f.target: f.state for f in out.findings}
    assert states == {VM1: "drifted", VM2: "new in scope"} and out.state == "drifted"
    first = out.findings[0]
    assert first.what == f"merge tag Intercept=Managed: {VM1}" and first.values == ["Intercept: null -> Managed"]
    only_new = drift.classify(
        item("s1-tag-managed-resources"),
        result("s1-tag-managed-resources", "open", planned=[tag(VM2)]),
        verified("s1-tag-managed-resources", TAGGED),
        {},
        TODAY,
    )
    assert only_new.state == "new in scope"


def test_a_desired_row_covers_its_resource_by_subscription_and_name():
    rows = [
        {"subscription": SUB, "kind": "Defender plan", "name": "KeyVaults", "watches": "KeyVaults", "state": "in place"}
    ]
    change = Change(
        PLAN, "update Defender plan", {"values": {"properties.pricingTier": {"old": "Free", "new": "Standard"}}}
    )
    out = drift.classify(
        item("s3-defender-enabled"),
        result("s3-defender-enabled", "open", planned=[change]),
        verified("s3-defender-enabled", rows),
        {},
        TODAY,
    )
    assert out.state == "drifted" and out.findings[0].values == ["properties.pricingTier: Free -> Standard"]
    other_sub = PLAN.replace(SUB, "1a2b3c4d-0009-4e5f-8a9b-0c1d2e3f4a09")  # a subscription added to the parameters
    out = drift.classify(
        item("s3-defender-enabled"),
        result("s3-defender-enabled", "open", planned=[Change(other_sub, "create Defender plan")]),
        verified("s3-defender-enabled", rows),
        {},
        TODAY,
    )
    assert out.state == "new in scope"


def test_finding_ids_are_stable_and_ignore_the_targets_casing():
    a = drift.finding_id("s1-tag-managed-resources", "merge tag", VM1)
    assert a == drift.finding_id("s1-tag-managed-resources", "merge tag", VM1.upper())
    assert a != drift.finding_id("s3-tag-sheet-resources", "merge tag", VM1) and a.startswith(
        "s1-tag-managed-resources:"
    )
    assert a != drift.finding_id("s1-tag-managed-resources", "remove tag", VM1)


def decision(finding: str, until: str | None) -> drift.Decision:
    return drift.Decision(
        finding,
        "s1-tag-managed-resources",
        "customer's own tagging",
        "Eva Engineer (eva)",
        "2026-12-01T09:00:00Z",
        until,
    )


def test_an_accepted_finding_holds_through_its_day_then_is_drift_again():
    now = result("s1-tag-managed-resources", "open", planned=[tag(VM1)])
    fid = drift.finding_id("s1-tag-managed-resources", "merge tag", VM1)
    base = verified("s1-tag-managed-resources", TAGGED)
    for until in (None, "2026-12-07", "2027-01-31"):
        out = drift.classify(item("s1-tag-managed-resources"), now, base, {fid: decision(fid, until)}, TODAY)
        assert (
            out.state == "accepted"
            and "accepted by Eva Engineer (eva) on 2026-12-01: customer's own tagging" in out.findings[0].note
        )
    expired = drift.classify(item("s1-tag-managed-resources"), now, base, {fid: decision(fid, "2026-12-06")}, TODAY)
    assert expired.state == "drifted" and "expired on 2026-12-06" in expired.findings[0].note
    # one accepted, one not: the item is as its worst finding
    both = result("s1-tag-managed-resources", "open", planned=[tag(VM1), tag(VM2)])
    assert (
        drift.classify(item("s1-tag-managed-resources"), both, base, {fid: decision(fid, None)}, TODAY).state
        == "new in scope"
    )


def test_a_check_that_finds_something_missing_is_drift_and_a_failed_inspect_is_named():
    now = result("s0-msp-authorized", "open", missing=[f"/subscriptions/{SUB}: no MSP access"])
    out = drift.classify(item("s0-msp-authorized"), now, verified("s0-msp-authorized", []), {}, TODAY)
    assert out.state == "drifted" and out.findings[0].what == f"/subscriptions/{SUB}: no MSP access"
    failed = result("s0-msp-authorized", "failed")
    failed.summary = "Azure answered with an error: 403 AuthorizationFailed: ..."
    out = drift.classify(item("s0-msp-authorized"), failed, verified("s0-msp-authorized", []), {}, TODAY)
    assert out.state == "failed" and out.summary.startswith("Azure answered")


def test_a_repaired_item_keeps_only_its_accepted_findings():
    now = result("s1-tag-managed-resources", "open", planned=[tag(VM1), tag(VM2)])
    fid = drift.finding_id("s1-tag-managed-resources", "merge tag", VM2)
    before = drift.classify(
        item("s1-tag-managed-resources"),
        now,
        verified("s1-tag-managed-resources", TAGGED),
        {fid: decision(fid, None)},
        TODAY,
    )
    applied = result("s1-tag-managed-resources", "fulfilled")
    applied.applied = [tag(VM1)]
    after = drift.repaired(before, applied)
    assert after.state == "repaired" and [f.id for f in after.findings] == [fid]
    assert after.summary == "1 change(s) re-applied and verified; 1 accepted finding(s) left as they are"
    assert drift.repaired(before, result("s1-tag-managed-resources", "failed")).state == "failed"


def test_the_runs_state_and_exit_code_follow_its_items():
    one = lambda state: drift.ItemDrift("s1-tag-managed-resources", 1, "t", state, "")  # noqa: E731
    assert drift.state_of([one("unchanged"), one("accepted"), one("repaired")]) == "complete"
    assert drift.state_of([one("unchanged"), one("new in scope")]) == "drift"
    assert drift.state_of([one("failed")]) == "incomplete" and drift.state_of([], error="cell 3") == "failed"
    codes = {
        s: drift.DriftOutcome("demo", "r", Path("."), s).exit_code
        for s in ("complete", "drift", "incomplete", "failed", "interrupted")
    }
    assert codes == {"complete": 0, "drift": 3, "incomplete": 3, "failed": 1, "interrupted": 130}


def test_drift_and_decision_runs_never_change_the_stages_status_or_gate(evidence_dir):
    stage_id, d = evidence.new_run("demo", 0)
    done = [result("s0-msp-authorized", "fulfilled").to_dict()]
    (d / "results.json").write_text(json.dumps({"items": done}))
    evidence.write_manifest("demo", d, {"stage": 0, "status": "complete"})
    run_id, d = evidence.new_run("demo", 0, kind="drift")
    assert evidence.run_kind(run_id) == "drift" and evidence.run_kind(stage_id) == "stage"
    (d / "results.json").write_text(
        json.dumps(
            {
                "kind": "drift",
                "status": "drift",
                "items": [result("s0-msp-authorized", "open").to_dict()],
                "drift": [drift.ItemDrift("s0-msp-authorized", 0, "t", "drifted", "1 drifted").to_dict()],
                "finished_at": "2026-12-07T10:00:00Z",
            }
        )
    )
    evidence.write_manifest("demo", d, {"stage": None, "status": "drift"})
    store = EvidenceStore("demo")
    assert store.latest()["s0-msp-authorized"].result.status == "fulfilled"  # the stage's word stands
    assert drift.verified(store)["s0-msp-authorized"].run_id == stage_id  # the last verified state too
    line = drift.status_line(store)
    assert line.startswith(f"last drift run {run_id} (2026-12-07T10:00:00Z): drift: 1 drifted; open: s0-msp-authorized")
    assert evidence.verify("demo") == []
