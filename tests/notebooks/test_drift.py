"""`runbook drift` on the demo tenant after its stages are complete (issue 26, part 1): the drift notebook executed by
papermill, its run sealed in the customer's chain; deviations made in the sandbox through the SDK are found, named
and repaired; what Azure normalises is not drift; decisions accept a finding until their date."""

from __future__ import annotations

import json
from datetime import date

import pytest

from runbook import PROJECT_ROOT
from runbook.cli import main
from runbook.customer import params
from runbook.evidence import EvidenceStore
from runbook.evidence import archive as evidence
from runbook.operate import drift
from tests.conftest import DEMO_SECRET_STORE, DEMO_SUBS
from tests.notebooks.conftest import onboard

pytestmark = pytest.mark.notebooks
SUB = DEMO_SUBS[0]


@pytest.fixture(scope="module")
def demo(module_sandbox):
    """A sandbox whose demo customer went through every stage with --apply (all five complete), shared by the tests of
    this module, which run in order."""
    text = (PROJECT_ROOT / "parameters" / "demo.yml").read_text()
    secret = module_sandbox.root / "secrets" / "demo-app-secret"
    return onboard(module_sandbox, "demo", text.replace(DEMO_SECRET_STORE, f"secret_store: {{file: {secret}}}"))


def put(clients, rid: str, body: dict, api: str) -> None:
    clients.resource(SUB).resources.begin_create_or_update_by_id(rid, body, api_version=api).result()


def get(clients, rid: str, api: str) -> dict:
    return clients.resource(SUB).resources.get_by_id(rid, api_version=api).as_dict()


def by_item(outcome) -> dict[str, drift.ItemDrift]:
    return {i.item_id: i for i in outcome.items}


def test_right_after_onboarding_nothing_drifted(demo, capsys):
    assert main(["drift", "demo"]) == 0
    out = capsys.readouterr().out
    assert "drift demo: complete - " in out and " unchanged" in out and "drifted" not in out
    run_dir = evidence.runs("demo")[-1]
    assert run_dir.name.split("Z-")[1].startswith("drift-")
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "drift.html",
        "drift.ipynb",
        "journal.jsonl",
        "manifest.json",
        "results.json",
    ]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["kind"] == "drift" and results["status"] == "complete" and results["apply"] is False
    states = {d["item_id"]: d["state"] for d in results["drift"]}
    # every automated item of the stages that applies to Full Stack (the connector checks included: configured)
    assert {"s0-msp-authorized", "s1-monitoring-alerting", "s1-tag-managed-resources", "s3-defender-enabled"} <= set(
        states
    )
    assert set(states.values()) == {"unchanged"}
    html = (run_dir / "drift.html").read_text()
    assert "run_id = " not in html and "Drift run settings" in html and "s3-defender-enabled" in html
    assert evidence.verify("demo") == []


def test_drift_as_json_is_one_document_for_the_batch(demo, capsys):
    assert main(["drift", "demo", "--format", "json"]) == 0
    [doc] = json.loads(capsys.readouterr().out)
    assert (doc["customer"], doc["status"], doc["exit_code"], doc["apply"]) == ("demo", "complete", 0, False)
    assert doc["totals"] == {"unchanged": len(doc["items"])} and doc["error"] == ""
    assert {"s1-monitoring-alerting", "s3-defender-enabled"} <= {i["item_id"] for i in doc["items"]}
    assert doc["run_id"] == evidence.runs("demo")[-1].name
    assert main(["drift", "nobody", "--format", "json"]) == 2
    out = capsys.readouterr()
    [refused] = json.loads(out.out)
    assert refused["customer"] == "nobody" and refused["exit_code"] == 2 and "nobody" in refused["error"]


def test_what_azure_normalises_is_not_drift(demo, capsys):
    """Casing Azure ignores (an e-mail address, a pricing tier, a tag name), and a list in another order (the Advisor
    digest's categories), written through the SDK: the next drift run finds nothing."""
    clients = demo.clients()
    rg = f"/subscriptions/{SUB}/resourceGroups/rg-intercept-monitoring"
    ag_id = f"{rg}/providers/Microsoft.Insights/actionGroups/ag-intercept"
    body = {
        "location": "Global",
        "properties": {
            "groupShortName": "intercept",
            "enabled": True,
            "emailReceivers": [
                {"name": "msp-alerts", "emailAddress": "ALERTS@Intercept.Example", "useCommonAlertSchema": True}
            ],
        },
    }
    put(clients, ag_id, body, "2023-01-01")
    assert get(clients, ag_id, "2023-01-01")["properties"]["emailReceivers"][0]["emailAddress"].startswith("ALERTS@")
    pricing = f"/subscriptions/{SUB}/providers/Microsoft.Security/pricings/SqlServers"
    put(clients, pricing, {"properties": {"pricingTier": "standard"}}, "2024-01-01")
    advisor = f"/subscriptions/{SUB}/providers/Microsoft.Advisor/configurations/default"
    config = get(clients, advisor, "2023-01-01")["properties"]
    config["digests"][0]["categories"] = list(reversed(config["digests"][0]["categories"]))
    assert len(config["digests"][0]["categories"]) > 1
    put(clients, advisor, {"properties": config}, "2023-01-01")
    p = params.load("demo")
    vm = next(
        k
        for k, v in demo.state.arm.items()
        if k.startswith(f"/subscriptions/{SUB}/") and "/virtualmachines/" in k and k.count("/") == 8
    )
    clients.resource(SUB).tags.begin_update_at_scope(
        vm, {"operation": "Delete", "properties": {"tags": {p.managed_tag.key: p.managed_tag.value}}}
    ).result()
    clients.resource(SUB).tags.begin_update_at_scope(
        vm, {"operation": "Merge", "properties": {"tags": {p.managed_tag.key.upper(): p.managed_tag.value}}}
    ).result()
    clients.close()
    assert main(["drift", "demo"]) == 0, capsys.readouterr().out
    assert "drifted" not in capsys.readouterr().out


@pytest.fixture(scope="module")
def broken(demo):
    """Three deviations a customer makes after onboarding, through the SDK: a baseline metric alert deleted, a managed
    resource untagged, a Defender plan turned off (Free)."""
    clients = demo.clients()
    p = params.load("demo")
    alert = next(
        k for k in demo.state.arm if k.startswith(f"/subscriptions/{SUB}/") and "/microsoft.insights/metricalerts/" in k
    )
    alert_id = get(clients, alert, "2018-03-01")["id"]
    clients.resource(SUB).resources.begin_delete_by_id(alert_id, api_version="2018-03-01").result()
    storage = next(
        k
        for k, v in demo.state.arm.items()
        if k.startswith(f"/subscriptions/{SUB}/") and "/microsoft.storage/storageaccounts/" in k and k.count("/") == 8
    )
    storage_id = get(clients, storage, "2023-05-01")["id"]
    clients.resource(SUB).tags.begin_update_at_scope(
        storage_id, {"operation": "Delete", "properties": {"tags": {p.managed_tag.key: p.managed_tag.value}}}
    ).result()
    pricing = f"/subscriptions/{SUB}/providers/Microsoft.Security/pricings/KeyVaults"
    put(clients, pricing, {"properties": {"pricingTier": "Free"}}, "2024-01-01")
    clients.close()
    return {"alert": alert_id, "storage": storage_id, "pricing": pricing}


def test_drift_names_the_three_deviations(demo, broken, capsys):
    assert main(["drift", "demo"]) == 3
    out = capsys.readouterr().out
    assert "drift demo: drift - " in out
    results = json.loads((evidence.runs("demo")[-1] / "results.json").read_text())
    deviating = {d["item_id"]: d for d in results["drift"] if d["state"] != "unchanged"}
    # the untagged resource is named by both tagging items (Stage 1's and Stage 3's, the same mechanism)
    tagging = {"s1-tag-managed-resources", "s3-tag-sheet-resources"}
    assert set(deviating) == {"s1-monitoring-alerting", "s3-defender-enabled", *tagging}
    assert all(d["state"] == "drifted" for d in deviating.values())
    found = {f["target"].lower(): f for f in results["findings"]}
    assert len(results["findings"]) == 4
    assert set(found) == {broken["alert"].lower(), broken["storage"].lower(), broken["pricing"].lower()}
    pricing = found[broken["pricing"].lower()]
    assert (
        pricing["what"].startswith("update Defender plan")
        and "properties.pricingTier: Free -> Standard" in (pricing["values"])
    )
    # since when: the last run that verified it, here the drift run before this one (it found it unchanged)
    before = json.loads((evidence.runs("demo")[-2] / "results.json").read_text())
    assert pricing["since_run"] == before["run_id"] and pricing["since"] == next(
        i["finished_at"] for i in before["items"] if i["item_id"] == "s3-defender-enabled"
    )
    for f in found.values():
        assert f["id"] in out and f["what"] in out
    # the stage gates and status are the stages': the drift run shows beside them
    store = EvidenceStore("demo")
    assert store.gate(4) == [] and store.latest()["s3-defender-enabled"].result.status == "fulfilled"
    assert main(["status", "demo"]) == 0  # every stage item still fulfilled: the drift run does not reopen them
    status_out = capsys.readouterr().out
    assert "last drift run" in status_out and "4 drifted" in status_out and "s3-defender-enabled" in status_out
    # the ids are stable: a second dry run finds the same findings
    assert main(["drift", "demo"]) == 3
    again = json.loads((evidence.runs("demo")[-1] / "results.json").read_text())
    assert {f["id"] for f in again["findings"]} == {f["id"] for f in results["findings"]}
    assert evidence.verify("demo") == []


def test_an_accepted_finding_is_not_drift_until_it_expires(demo, broken, capsys):
    results = json.loads((evidence.runs("demo")[-1] / "results.json").read_text())
    pricing = next(f for f in results["findings"] if f["target"].lower() == broken["pricing"].lower())
    assert main(["drift", "demo", "--accept", "s3-nothing:0000", "--reason", "x"]) == 2
    assert "no such finding" in capsys.readouterr().err
    assert main(["drift", "demo", "--accept", pricing["id"]]) == 2  # a reason is required
    assert main(["drift", "demo", "--accept", pricing["id"], "--reason", "x", "--until", "2001-01-01"]) == 2
    capsys.readouterr()
    until = date.today().isoformat()
    reason = "the customer runs Key Vault scanning in its own SIEM"
    assert main(["drift", "demo", "--accept", pricing["id"], "--reason", reason, "--until", until]) == 0
    decision_dir = evidence.runs("demo")[-1]
    assert decision_dir.name.split("Z-")[1].startswith("decision-")
    record = json.loads((decision_dir / "results.json").read_text())
    assert record["kind"] == "decision" and record["decision"]["reason"] == reason
    assert record["decision"]["by"].startswith("Eva Engineer (") and record["decision"]["until"] == until
    # --apply repairs the two others and leaves the accepted one as it is; the run ends with nothing open
    capsys.readouterr()
    assert main(["drift", "demo", "--apply"]) == 0
    out = capsys.readouterr().out
    states = {i.split()[1].rstrip(":"): i.split()[0] for i in out.splitlines()[1:] if i.startswith("  ") and ":" in i}
    for item in ("s1-monitoring-alerting", "s1-tag-managed-resources", "s3-tag-sheet-resources"):
        assert states[item] == "repaired", out
    assert states["s3-defender-enabled"] == "accepted" and pricing["id"] in out
    clients = demo.clients()
    assert get(clients, broken["alert"], "2018-03-01")["id"].lower() == broken["alert"].lower()
    assert get(clients, broken["pricing"], "2024-01-01")["properties"]["pricingTier"] == "Free"
    clients.close()
    assert main(["drift", "demo"]) == 0
    assert "accepted" in capsys.readouterr().out
    # the acceptance expires: a decision recorded with an earlier day (as if made last month) no longer holds
    drift.accept("demo", pricing["id"], reason, "2001-02-01", today=date(2001, 1, 15))
    assert main(["drift", "demo"]) == 3
    out = capsys.readouterr().out
    assert f"drifted      {pricing['id']}" in out and "expired on 2001-02-01" in out
    assert main(["drift", "demo", "--apply"]) == 0
    assert main(["drift", "demo"]) == 0
    assert evidence.verify("demo") == []


def test_drift_over_all_customers_goes_on_past_a_bad_one(demo, capsys):
    (demo.folder / "broken.yml").write_text(
        (demo.folder / "demo.yml")
        .read_text()
        .replace("customer: demo", "customer: broken")
        .replace("tier: Full Stack", "tier: Gold")
    )
    # the Premium customer of the same tenant, not onboarded yet: its kernel runs beside demo's, with nothing in scope
    (demo.folder / "demo-premium.yml").write_text((PROJECT_ROOT / "parameters" / "demo-premium.yml").read_text())
    try:
        assert main(["drift", "--all", "--workers", "3"]) == 2
    finally:
        (demo.folder / "broken.yml").unlink()
        (demo.folder / "demo-premium.yml").unlink()
    out = capsys.readouterr()
    assert "== demo" in out.out and "drift demo: complete" in out.out
    assert "drift demo-premium: complete - no item in scope" in out.out and "no stage is complete" in out.out
    assert evidence.verify("demo-premium") == [] and len(evidence.runs("demo-premium")) == 1
    assert "broken: error: " in out.err and "field 'tier'" in out.err and len(out.err.strip().splitlines()) == 1
    assert main(["drift"]) == 2 and main(["drift", "demo", "--all"]) == 2


def test_the_portfolio_reads_the_real_evidence_of_the_onboarded_customer(demo, capsys):
    """`runbook portfolio` over the evidence real runs left (every stage with --apply, a monthly report, drift and
    decision runs): onboarded, nothing open, the last drift clean, the report's month, the evidence verified; the
    Premium customer whose parameter file the test above removed is still listed, from its evidence."""
    assert main(["portfolio", "--format", "json"]) == 0
    rows = {r["customer"]: r for r in json.loads(capsys.readouterr().out)["customers"]}
    row = rows["demo"]
    assert (row["status"], row["stage"], row["tier"]) == ("onboarded", 5, "Full Stack")
    assert row["open_items"] == {"CSM": 0, "Engineer": 0} and row["failed"] == []
    assert row["drift"] == "no drift" and "unchanged" in row["drift_detail"]
    assert row["report_month"] == EvidenceStore("demo").reports()[-1].month
    assert row["evidence"] == "ok" and row["runs"] == len(evidence.runs("demo"))
    newest = evidence.runs("demo")[-1]
    assert row["evidence_html"] == f"demo/{newest.name}/drift.html"
    assert row["last_touched"] == json.loads((newest / "results.json").read_text())["finished_at"]
    premium = rows["demo-premium"]
    assert premium["status"] == "invalid parameters" and "no such parameter file" in premium["error"]
    assert premium["drift"] == "no drift" and premium["evidence"] == "ok"
    assert main(["portfolio"]) == 0
    assert (evidence.root() / "portfolio.html").read_text().count("<tr data-customer=") == 2
