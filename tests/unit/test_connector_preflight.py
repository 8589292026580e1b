"""Issue 22: `runbook preflight` reports each configured connector as reachable (its credential accepted, the
customer's record found) or names what fails and which items of which stage it blocks; an unconfigured connector is
off, which blocks nothing (its items use their attestations)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from runbook.cli import main
from runbook.customer import params
from runbook.operate import preflight
from runbook.steps.base import Context


def report(sandbox, customer: str = "demo") -> preflight.Preflight:
    clients = sandbox.clients()
    try:
        return preflight.run(params.load(customer), Context(params.load(customer), lambda: clients, journal=None))
    finally:
        clients.close()


def line(pf: preflight.Preflight, what: str) -> preflight.Check:
    return next(c for c in pf.checks if c.what == what)


def test_the_demo_connectors_are_reachable_and_find_the_customers_records(sandbox, params_dir, capsys):
    assert main(["preflight", "demo"]) == 0
    out = capsys.readouterr().out
    hubspot = next(x for x in out.splitlines() if "connector hubspot" in x)
    assert hubspot.strip().startswith("OK       connector hubspot")
    assert "the private app token is accepted at https://api.hubapi.sandbox.test (companies readable)" in hubspot
    assert "company 9431077120 (Contoso Demo BV) found" in hubspot
    topdesk = next(x for x in out.splitlines() if "connector topdesk" in x)
    assert "operator Intercept Runbook (API) is signed in at https://intercept.topdesk.sandbox.test" in topdesk
    assert "branch 3f2a6c1e-8d4b-4c57-9e21-5b7d0a9c4e11 (Contoso Demo BV) found" in topdesk
    assert "stage 2: nothing found that blocks it" in out and out.strip().endswith("ready")


def test_a_refused_token_is_named_with_the_items_and_stage_it_blocks(sandbox, params_dir, capsys):
    Path(sandbox.conn.service_credentials["hubspot-token"]).write_text("pat-eu1-revoked")
    assert main(["preflight", "demo", "--format", "json"]) == 3
    result = json.loads(capsys.readouterr().out)
    check = next(c for c in result["checks"] if c["what"] == "connector hubspot")
    assert check["state"] == "missing" and check["blocks"] == [2]
    assert check["detail"].startswith(
        "HubSpot: cannot list companies (the preflight's read): it refused the private app token (401 INVALID_AUTHENTICATION"
    )
    assert check["detail"].endswith("(s2-hubspot-contacts will fail)")
    assert any(p.startswith("connector hubspot: HubSpot: cannot list companies") for p in result["stages"]["2"])
    assert (
        result["stages"]["1"] == []
        and next(c for c in result["checks"] if c["what"] == "connector topdesk")["state"] == "ok"
    )


def test_an_unknown_branch_and_a_missing_credential_file_are_named(sandbox, params_dir):
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    data["topdesk"]["branch_id"] = "00000000-0000-0000-0000-000000000001"
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    Path(sandbox.conn.service_credentials["hubspot-token"]).unlink()
    pf = report(sandbox)
    topdesk = line(pf, "connector topdesk")
    assert topdesk.state == "missing" and topdesk.blocks == (2,)
    assert "TOPdesk: cannot read branch 00000000-0000-0000-0000-000000000001: 404 No branch found" in topdesk.detail
    assert topdesk.detail.endswith("(s2-topdesk-sla, s2-topdesk-contacts will fail)")
    hubspot = line(pf, "connector hubspot")
    assert hubspot.state == "missing" and "HubSpot: cannot read its private app token (secret file" in hubspot.detail
    assert not pf.ok and len(pf.stages()[2]) == 2


def test_an_unconfigured_connector_is_off_and_blocks_nothing(sandbox, params_dir):
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    del data["crm"]
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    msp = yaml.safe_load((params_dir / "msp.yml").read_text())
    del msp["msp"]["connectors"]["topdesk"]
    (params_dir / "msp.yml").write_text(yaml.safe_dump(msp))
    before = sandbox.stats()
    pf = report(sandbox)
    assert line(pf, "connector hubspot").state == "off"
    assert line(pf, "connector hubspot").detail == (
        "not configured (no crm.hubspot_company_id in demo.yml (the customer's company card)): s2-hubspot-contacts "
        "use(s) the attestation"
    )
    assert "no msp.connectors.topdesk in parameters/msp.yml" in line(pf, "connector topdesk").detail
    assert pf.ok and pf.stages()[2] == []
    assert "OFF      connector hubspot" in pf.text()
    after = sandbox.stats()
    assert after.get("hubspot_calls", 0) == before.get("hubspot_calls", 0) and after.get("topdesk_calls", 0) == 0
