"""Issue 22: `runbook preflight` reports the Exact Online connector: OK (the refresh token exchanged and its
successor stored, the customer's account found), MISSING (what fails, and that s1-invoice-run and s4-first-invoice
of stages 1 and 4 will fail), OFF (not configured: the items use their attestations, nothing is asked of Exact)."""

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


def test_the_demo_exact_connector_is_ok_and_finds_the_account(sandbox, params_dir, capsys):
    token = Path(sandbox.conn.service_credentials["exact-refresh-token"])
    before = token.read_text()
    assert main(["preflight", "demo"]) == 0
    out = capsys.readouterr().out
    exact = next(x for x in out.splitlines() if "connector exact" in x)
    assert exact.strip().startswith("OK       connector exact")
    assert "the refresh token was exchanged and its successor stored" in exact
    assert "account 42 (Contoso Demo BV) found in division 3120456" in exact
    assert "stage 1: nothing found that blocks it" in out and "stage 4: nothing found that blocks it" in out
    assert token.read_text() != before  # the rotated token is where the next run reads it
    assert main(["preflight", "demo"]) == 0  # ... and the next run uses the access token stored with it
    again = capsys.readouterr().out
    assert (
        "OK       connector exact" in again and "the stored access token (another run's, still valid) was used" in again
    )
    assert sandbox.service("exact").exchanges == 1


def test_a_spent_refresh_token_is_missing_and_names_the_items_and_stages(sandbox, params_dir, capsys):
    token = Path(sandbox.conn.service_credentials["exact-refresh-token"])
    spent = token.read_text()
    assert main(["preflight", "demo"]) == 0
    capsys.readouterr()
    token.write_text(spent)
    assert main(["preflight", "demo", "--format", "json"]) == 3
    result = json.loads(capsys.readouterr().out)
    check = next(c for c in result["checks"] if c["what"] == "connector exact")
    assert check["state"] == "missing" and check["blocks"] == [1, 4]
    assert check["detail"].startswith(
        "Exact Online: cannot exchange its refresh token for an access token: it refused the refresh token (400 invalid_grant"
    )
    assert check["detail"].endswith("(s1-invoice-run, s4-first-invoice will fail)")
    assert any(p.startswith("connector exact: Exact Online:") for p in result["stages"]["4"])
    assert next(c for c in result["checks"] if c["what"] == "connector hubspot")["state"] == "ok"


def test_an_unknown_account_is_named(sandbox, params_dir):
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    data["exact"]["account_code"] = "999"
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    exact = line(report(sandbox), "connector exact")
    assert exact.state == "missing" and exact.blocks == (1, 4)
    assert "Exact Online: cannot find account 999: division 3120456 has no account with code 999" in exact.detail


def test_an_unconfigured_exact_connector_is_off_and_asks_nothing(sandbox, params_dir):
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    del data["exact"]
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    before = sandbox.stats()
    pf = report(sandbox)
    assert line(pf, "connector exact").state == "off"
    assert line(pf, "connector exact").detail == (
        "not configured (no exact.account_code in demo.yml (the customer's account)): s1-invoice-run, "
        "s4-first-invoice use(s) the attestation"
    )
    assert pf.ok and "OFF      connector exact" in pf.text()
    assert sandbox.stats().get("exact_calls", 0) == before.get("exact_calls", 0)
