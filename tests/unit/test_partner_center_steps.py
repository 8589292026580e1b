"""Issue 22: the CSM's Partner Center items in Stage 2. s2-csp-contract (the customer, its relationship, the Microsoft
Customer Agreement, its active subscriptions) and s2-partner-center-budget (the usage budget, which the step
configures: plan current -> agreed, apply only on an explicit apply, verify, a re-run changes nothing): both decision
tables, the checks against the sandbox's Partner Center (what the evidence holds and must not), the journal, the
reviewed plan, the settings, the preflight, and the fallback to the attestation without the connector."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import yaml

from runbook.adapters.connectors.partner_center import MCA, Agreement, Agreements, Customer, Subscription
from runbook.cli import main
from runbook.customer import catalogue, params
from runbook.customer.params import Attestation
from runbook.evidence import journal
from runbook.evidence.results import Change
from runbook.notebook import Session
from runbook.operate import preflight
from runbook.steps import REGISTRY
from runbook.steps.base import ConnectorCheck, Context, check_or_attest, execute
from runbook.steps.partner_center import budget_verdict, contract_verdict

ITEMS = ("s2-csp-contract", "s2-partner-center-budget")
CUSTOMER_ID = "6f1c2a9e-4b7d-4e38-9a51-2c8d0e7b3f10"
CUSTOMER = Customer.model_validate(
    {"id": CUSTOMER_ID, "companyProfile": {"companyName": "Contoso Demo BV"}, "relationshipToPartner": "reseller"}
)
AZURE = Subscription.model_validate({"id": "s1", "offerName": "Azure plan", "quantity": 1, "status": "active"})
M365 = Subscription.model_validate({"id": "s2", "offerName": "Microsoft 365 E3", "quantity": 5, "status": "suspended"})
ACCEPTED = Agreements((Agreement.model_validate({"type": MCA, "dateAgreed": "2026-11-18T00:00:00Z"}),))
REFUSED = Agreements(refused="Partner Center: cannot read the MicrosoftCustomerAgreement confirmations (403 ...)")
ATTESTED = Attestation(by="Chris CSM", at=date(2026, 11, 19), reference="MCA accepted 2026-11-18")


# --- the catalogue and the registry ----------------------------------------------------------------------------------
def test_both_items_are_both_with_the_partner_center_connector_and_the_budget_configures():
    cat = catalogue.load()
    for item_id in ITEMS:
        item = cat.item(item_id)
        assert (item.kind, item.connector, item.stage, item.role) == ("both", "partner_center", 2, "CSM")
        step = REGISTRY[item_id]()
        assert isinstance(step, ConnectorCheck) and step.connector == "partner_center"
    assert not cat.item("s2-csp-contract").configures and cat.item("s2-partner-center-budget").configures


# --- the contract check's decision table -----------------------------------------------------------------------------
def _customer(relationship: str) -> Customer:
    return CUSTOMER.model_copy(update={"relationship_to_partner": relationship})


@pytest.mark.parametrize(
    ("customer", "agreements", "subs", "attestation", "status", "says", "missing"),
    [
        (
            CUSTOMER,
            ACCEPTED,
            [AZURE, M365],
            None,
            "fulfilled",
            [
                "is a reseller customer; Microsoft Customer Agreement accepted 2026-11-18",
                "1 active subscription(s): Azure plan (1).",
                "Not active: Microsoft 365 E3 (suspended).",
            ],
            [],
        ),
        (
            CUSTOMER,
            REFUSED,
            [AZURE],
            ATTESTED,
            "fulfilled",
            ["acceptance attested by Chris CSM on 2026-11-19 (MCA accepted 2026-11-18; Partner Center does not show"],
            [],
        ),
        (
            CUSTOMER,
            REFUSED,
            [AZURE],
            None,
            "open",
            ["1 thing(s) missing"],
            ["the Microsoft Customer Agreement acceptance: Partner Center shows agreements to App+User sign-ins only"],
        ),
        (
            CUSTOMER,
            Agreements(),
            [AZURE],
            ATTESTED,  # read and not there: an attestation does not overrule what Partner Center says
            "open",
            ["relationship reseller; 1 active subscription(s); Azure plan (1); 1 thing(s) missing."],
            ["the Microsoft Customer Agreement: no acceptance is confirmed in Partner Center"],
        ),
        (
            CUSTOMER,
            ACCEPTED,
            [M365],
            None,
            "open",
            ["0 active subscription(s)"],
            ["an active subscription (the customer has: Microsoft 365 E3 (suspended))"],
        ),
        (
            _customer("advisor"),
            Agreements(),
            [],
            None,
            "open",
            ["3 thing(s) missing"],
            [
                "the customer's relationship to the partner is advisor, not reseller",
                "the Microsoft Customer Agreement: no acceptance",
                "an active subscription (the customer has: none)",
            ],
        ),
    ],
)
def test_contract_decision_table(customer, agreements, subs, attestation, status, says, missing):
    v = contract_verdict(customer, agreements, subs, attestation)
    assert v.status == status, v.summary
    assert v.summary.startswith(f"Partner Center customer Contoso Demo BV ({CUSTOMER_ID})")
    for text in says:
        assert text in v.summary, (text, v.summary)
    assert len(v.missing) == len(missing) and all(m.startswith(w) for m, w in zip(v.missing, missing, strict=True))


# --- the budget's decision table -------------------------------------------------------------------------------------
def _change(old: float | None) -> Change:
    return Change(
        f"partner-center:/customers/{CUSTOMER_ID}/usagebudget",
        "set the usage budget",
        {"values": {"amount": {"old": old, "new": 4500.0}}},
    )


@pytest.mark.parametrize(
    ("current", "pending", "applied", "status", "says"),
    [
        (4500.0, [], [], "fulfilled", "is 4500 EUR as agreed."),
        (4500.0, [], [_change(3000.0)], "fulfilled", "is 4500 EUR as agreed, set by this run (was 3000)."),
        (4500.0, [], [_change(None)], "fulfilled", "set by this run (was not set)."),
        (3000.0, [_change(3000.0)], [], "open", "is 3000 EUR; agreed 4500 EUR: 1 change planned"),
        (None, [_change(None)], [], "open", "is not set; agreed 4500 EUR"),
        (3000.0, [_change(3000.0)], [_change(3000.0)], "failed", "was set but reads 3000 EUR on verification"),
    ],
)
def test_budget_decision_table(current, pending, applied, status, says):
    v = budget_verdict(CUSTOMER, current, 4500.0, "EUR", pending, applied)
    assert v.status == status and says in v.summary, v.summary
    assert bool(v.missing) == bool(pending)


# --- against the sandbox ---------------------------------------------------------------------------------------------
@pytest.fixture
def clients(sandbox):
    made = sandbox.clients()
    yield made
    made.close()


def _ctx(clients, apply: bool = False, journal_path: Path | None = None) -> Context:
    j = journal.Journal(journal_path) if journal_path else None
    return Context(params.load("demo"), lambda: clients, apply=apply, journal=j)


def run(ctx: Context, item_id: str):
    return check_or_attest(catalogue.load().item(item_id), ctx, REGISTRY[item_id]())


def budget(sandbox) -> float | None:
    return sandbox.service("partner_center").customers[CUSTOMER_ID]["budget"]


def test_the_demo_contract_is_fulfilled_with_what_was_read_and_no_contact_or_secret(sandbox, clients, params_dir):
    r = run(_ctx(clients), "s2-csp-contract")
    assert r.status == "fulfilled", r.summary
    assert "attested by Chris CSM on 2026-11-19" in r.summary  # the app-only read of the agreement is refused
    assert "2 active subscription(s): Azure plan (1), Microsoft 365 Business Premium (12)." in r.summary
    assert [(x["record"], x["state"]) for x in r.observed] == [
        ("customer", "reseller"),
        ("agreement", "not readable with app-only sign-in"),
        ("subscription", "active"),
        ("subscription", "active"),
        ("subscription", "suspended"),
    ]
    sandbox.admin("PUT", "/_sandbox/services/partner_center", {"agreements_app_only": True})
    read = run(_ctx(clients), "s2-csp-contract")
    assert read.status == "fulfilled" and "Microsoft Customer Agreement accepted 2026-11-18" in read.summary
    for result in (r, read):
        text = json.dumps(result.to_dict())
        assert "@" not in text and "Dana" not in text  # the agreement's primary contact is not evidence
        assert Path(sandbox.conn.secret_path).read_text().strip() not in text
        assert result.attestation is None and result.planned == [] and result.applied == []


def test_the_budget_is_planned_in_a_dry_run_set_on_apply_verified_and_a_rerun_changes_nothing(
    sandbox, clients, params_dir, tmp_path
):
    dry = run(_ctx(clients), "s2-partner-center-budget")
    assert dry.status == "open" and budget(sandbox) == 3000  # a dry run changes nothing
    (planned,) = dry.planned
    assert planned.headline == f"set the usage budget: partner-center:/customers/{CUSTOMER_ID}/usagebudget"
    assert planned.value_lines() == ["amount: 3000.0 -> 4500.0"] and planned.detail["currency"] == "EUR"
    assert dry.observed == [
        {"customer": "Contoso Demo BV", "id": CUSTOMER_ID, "usage budget": "3000", "agreed": "4500", "currency": "EUR"}
    ]
    path = tmp_path / "journal.jsonl"
    applied = run(_ctx(clients, apply=True, journal_path=path), "s2-partner-center-budget")
    assert applied.status == "fulfilled", applied.summary
    assert "is 4500 EUR as agreed, set by this run (was 3000)" in applied.summary
    assert budget(sandbox) == 4500 and [c.value_lines() for c in applied.applied] == [["amount: 3000.0 -> 4500.0"]]
    assert applied.observed[0]["usage budget"] == "4500"  # verified: read again after the write
    entries, _ = journal.read(path)
    changes = [e for e in entries if e["kind"] == "change"]
    assert [(e["item"], e["action"], e["detail"]["values"]) for e in changes] == [
        ("s2-partner-center-budget", "set the usage budget", {"amount": {"old": 3000.0, "new": 4500.0}})
    ]
    calls = sandbox.service("partner_center").calls
    again = run(_ctx(clients, apply=True), "s2-partner-center-budget")
    assert again.status == "fulfilled" and again.planned == [] and again.applied == []
    assert again.summary.endswith("is 4500 EUR as agreed.") and budget(sandbox) == 4500
    assert sandbox.service("partner_center").calls - calls == 2  # the customer and its budget read; no write


def test_a_reviewed_plan_is_not_applied_when_the_budget_changed_meanwhile(sandbox, clients, params_dir):
    step = REGISTRY["s2-partner-center-budget"]()
    reviewed = execute(step, _ctx(clients)).planned
    sandbox.service("partner_center").customers[CUSTOMER_ID]["budget"] = 3500.0  # someone set it in the portal
    r = execute(step, _ctx(clients, apply=True), reviewed=reviewed)
    assert r.status == "failed" and "nothing was applied" in r.summary and "~ set the usage budget" in r.summary
    assert budget(sandbox) == 3500
    assert execute(step, _ctx(clients, apply=True), reviewed=execute(step, _ctx(clients)).planned).status == (
        "fulfilled"
    )
    assert budget(sandbox) == 4500


def test_the_notebook_session_plans_then_applies_exactly_the_reviewed_change(
    sandbox, clients, params_dir, evidence_dir, monkeypatch
):
    monkeypatch.setattr(Session, "mode", lambda self: True)  # the notebook's apply = True
    session = Session(params.load("demo"), 2, apply=True, forced=True)  # past the stage gate (stage 1 not run here)
    session.ctx.clients_factory = lambda: clients
    planned = session.run("s2-partner-center-budget")
    assert planned.status == "open" and len(planned.planned) == 1 and budget(sandbox) == 3000
    done = session.apply_reviewed("s2-partner-center-budget")
    assert done.status == "fulfilled" and budget(sandbox) == 4500  # the check decided: no attestation needed
    assert done.attestation is None and len(done.applied) == 1


def test_a_refused_credential_or_an_unknown_customer_fails_the_item_in_one_line(sandbox, clients, params_dir):
    secret = Path(sandbox.conn.secret_path)
    right = secret.read_text()
    secret.write_text("not-the-secret")  # the reference msp.yml gives now holds a wrong secret
    r = run(_ctx(clients), "s2-csp-contract")
    assert r.status == "failed" and "\n" not in r.summary
    assert r.summary.startswith(
        "Partner Center: signing in to the MSP's tenant 0b8e6a2d-93c4-4f5e-8d17-5a9c3e2f1b40 as app 3c9f7e21-"
    )
    assert "Fix: check msp.connectors.partner_center.client_id and the secret its client_secret names" in r.summary
    secret.write_text(right)
    del sandbox.service("partner_center").customers[CUSTOMER_ID]
    for item in ITEMS:
        missing = run(_ctx(clients), item)
        assert missing.status == "failed", missing.summary
        assert f"Partner Center: cannot read customer {CUSTOMER_ID}: 404 60003" in missing.summary
        assert "Fix: check tenant_id in demo.yml" in missing.summary


def test_without_the_connector_or_the_budget_the_attestation_is_used(sandbox, params_dir):
    shared = (params_dir / "msp.yml").read_text()
    msp = yaml.safe_load(shared)
    del msp["msp"]["connectors"]["partner_center"]
    (params_dir / "msp.yml").write_text(yaml.safe_dump(msp))
    before = sandbox.stats().get("partner_center_calls", 0)
    p = params.load("demo")
    for item_id in ITEMS:
        r = run(Context(p, None, journal=None), item_id)  # no clients: a check that called out would fail
        att = p.attestations[item_id]
        assert r.status == "fulfilled" and r.attestation["reference"] == att.reference
        assert r.summary.startswith(
            "Check not available: no msp.connectors.partner_center in parameters/msp.yml (its URL and credential), "
            "attestation used. Attested by Chris CSM"
        )
    (params_dir / "msp.yml").write_text(shared)
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    del data["budget"]
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    r = run(Context(params.load("demo"), None, journal=None), "s2-partner-center-budget")
    assert r.status == "fulfilled" and r.summary.startswith(
        "Check not available: no budget in demo.yml (the agreed amount), attestation used."
    )
    assert sandbox.stats().get("partner_center_calls", 0) == before


# --- settings and preflight ------------------------------------------------------------------------------------------
def test_msp_yml_names_the_partner_center_app_by_reference_and_bad_input_is_named(params_dir):
    pc = params.load("demo").msp.connectors.partner_center
    assert pc.url == "https://api.partnercenter.sandbox.test" and pc.client_secret.file == ".sandbox/client-secret"
    assert pc.client_id == "3c9f7e21-5a84-4d6b-b0e2-8f1a6c4d9e57"
    assert pc.client_secret in params.load("demo").secret_refs()  # its value is never archived
    msp = yaml.safe_load((params_dir / "msp.yml").read_text())
    msp["msp"]["connectors"]["partner_center"].update(client_id="nope", client_secret="Q~literal-secret-value-123")
    (params_dir / "msp.yml").write_text(yaml.safe_dump(msp))
    with pytest.raises(params.ParameterError) as exc:
        params.load("demo")
    text = str(exc.value)
    assert "msp.connectors.partner_center.client_secret" in text and "msp.connectors.partner_center.client_id" in text


def test_the_preflight_reports_partner_center_ok_missing_or_off(sandbox, params_dir, capsys):
    assert main(["preflight", "demo"]) == 0
    out = capsys.readouterr().out
    pc = next(x for x in out.splitlines() if "connector partner_center" in x)
    assert pc.strip().startswith("OK       connector partner_center")
    assert "the app's token is accepted at https://api.partnercenter.sandbox.test" in pc
    assert f"customer {CUSTOMER_ID} (Contoso Demo BV) found, relationship reseller" in pc
    sandbox.admin("PUT", "/_sandbox/services/partner_center", {"apps": []})  # the app is no longer registered
    assert main(["preflight", "demo", "--format", "json"]) == 3
    check = next(c for c in json.loads(capsys.readouterr().out)["checks"] if c["what"] == "connector partner_center")
    assert check["state"] == "missing" and check["blocks"] == [2]
    assert "it refused the app's token (403 2032 AccessDenied: Access denied)" in check["detail"]
    assert check["detail"].endswith("(s2-csp-contract, s2-partner-center-budget will fail)")
    msp = yaml.safe_load((params_dir / "msp.yml").read_text())
    del msp["msp"]["connectors"]["partner_center"]
    (params_dir / "msp.yml").write_text(yaml.safe_dump(msp))
    clients = sandbox.clients()
    try:
        p = params.load("demo")
        off = next(c for c in preflight.run(p, Context(p, lambda: clients, journal=None)).checks if "partner" in c.what)
    finally:
        clients.close()
    assert off.state == "off" and off.detail == (
        "not configured (no msp.connectors.partner_center in parameters/msp.yml (its URL and credential)): "
        "s2-csp-contract, s2-partner-center-budget use(s) the attestation"
    )
