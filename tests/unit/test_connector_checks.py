"""Issue 22: the CSM's checks in Stage 2 (s2-hubspot-contacts, s2-topdesk-contacts, s2-topdesk-sla): each check's
decision table, the checks against the sandbox's HubSpot and TOPdesk (what the evidence holds, and what it must not),
and the fallback to the attestation when the connector is not configured for the customer."""

from __future__ import annotations

import json
from datetime import date

import pytest
import yaml

from runbook.adapters.connectors import CONNECTORS
from runbook.adapters.connectors.topdesk import SlaAsset
from runbook.customer import catalogue, params
from runbook.customer.params import Contact
from runbook.notebook import Session
from runbook.steps import REGISTRY
from runbook.steps.base import ConnectorCheck, Context, check_or_attest
from runbook.steps.hubspot import verdict as hubspot_verdict
from runbook.steps.people import Held, match
from runbook.steps.topdesk import contacts_verdict, sla_verdict

ITEMS = ("s2-hubspot-contacts", "s2-topdesk-contacts", "s2-topdesk-sla")
DANA = Contact(name="Dana Director", email="dana@contoso-demo.example", role="IT manager")
OLAF = Contact(name="Olaf Operator", email="olaf@contoso-demo.example", role="Operations")
TODAY = date(2026, 12, 6)


# --- the catalogue and the registry ----------------------------------------------------------------------------------
def test_the_three_items_are_both_with_their_connector_and_a_connector_check():
    cat = catalogue.load()
    assert set(catalogue.CONNECTOR_NAMES) == set(CONNECTORS)
    for item_id, system in zip(ITEMS, ("hubspot", "topdesk", "topdesk"), strict=True):
        item = cat.item(item_id)
        assert (item.kind, item.connector) == ("both", system)
        step = REGISTRY[item_id]()
        assert isinstance(step, ConnectorCheck) and step.connector == system and not item.configures
    assert {i.id for i in cat.items if i.connector in ("hubspot", "topdesk")} == set(ITEMS)


# --- matching --------------------------------------------------------------------------------------------------------
def test_contacts_match_by_e_mail_first_then_by_name_each_person_once():
    held = [
        Held("1", "D. Director", "DANA@contoso-demo.example"),  # the address decides, whatever the name says
        Held("2", "Olaf  operator", ""),  # by name: case and spacing do not matter
        Held("3", "Dana Director", "other@example.com"),
    ]
    pairs, extra = match([DANA, OLAF], held)
    assert [(p.contact.name, p.held.id if p.held else None, p.email_state) for p in pairs] == [
        ("Dana Director", "1", "matches"),
        ("Olaf Operator", "2", "missing"),
    ]
    assert [h.id for h in extra] == ["3"]


# --- the HubSpot check's decision table ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("held", "status", "summary", "missing"),
    [
        (
            [Held("1", "Dana Director", DANA.email, ("IT manager",)), Held("2", "Olaf Operator", OLAF.email, ("Ops",))],
            "fulfilled",
            ["All 2 contact(s) are associated with Co", "Role not on the card", "Olaf Operator (Operations)"],
            [],
        ),
        (
            [Held("1", "Dana Director", DANA.email, ("IT manager",))],
            "open",
            ["1 of 2 contact(s) are associated with Co"],
            ["Olaf Operator (Operations) is not associated with Co"],
        ),
        (
            [
                Held("1", "Dana Director", "", ("IT manager",)),
                Held("2", "Olaf Operator", "olaf@elsewhere.example", ("Operations",)),
                Held("3", "Frank Finance", "f@x.example", ("Billing",)),
            ],
            "fulfilled",  # associated is what the item asks; the rest is said
            [
                "Also associated, not in the parameters: Frank Finance.",
                "No e-mail address in HubSpot: Dana Director.",
                "Another e-mail address in HubSpot than in the parameters: Olaf Operator.",
            ],
            [],
        ),
        ([], "open", ["0 of 2 contact(s)"], ["Dana Director (IT manager) is not associated with Co", "Olaf Operator"]),
    ],
)
def test_hubspot_decision_table(held, status, summary, missing):
    pairs, extra = match([DANA, OLAF], held)
    v = hubspot_verdict(pairs, extra, "Co", len(held))
    assert v.status == status, v.summary
    for part in summary:
        assert part in v.summary
    assert len(v.missing) == len(missing) and all(m in got for m, got in zip(missing, v.missing, strict=True))


def test_hubspot_with_no_contacts_in_the_parameters_is_open():
    v = hubspot_verdict([], [Held("1", "Frank Finance")], "Co", 1)
    assert v.status == "open" and "The parameters list no contacts" in v.summary


# --- the TOPdesk contacts check's decision table ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("held", "status", "missing"),
    [
        (
            [Held("1", "Dana Director", DANA.email, ("IT manager",)), Held("2", "Olaf Operator", OLAF.email)],
            "fulfilled",
            [],
        ),
        ([Held("1", "Dana Director", DANA.email)], "open", ["Olaf Operator is not a person of Br"]),
        (
            [Held("1", "Dana Director", ""), Held("2", "Olaf Operator", OLAF.email)],
            "open",
            ["Dana Director has no e-mail address in Br"],
        ),
        (
            [Held("1", "Dana Director", DANA.email), Held("2", "Olaf Operator", "olaf@old.example")],
            "open",
            ["Olaf Operator has another e-mail address in Br than in the parameters"],
        ),
    ],
)
def test_topdesk_contacts_decision_table(held, status, missing):
    pairs, extra = match([DANA, OLAF], held)
    v = contacts_verdict(pairs, extra, "Br")
    assert (v.status, v.missing) == (status, missing), v.summary


def test_topdesk_contacts_lists_the_branchs_other_persons_and_job_titles_without_keeping_it_open():
    held = [
        Held("1", "Dana Director", DANA.email, ("CIO",)),
        Held("2", "Olaf Operator", OLAF.email, ("Operations",)),
        Held("3", "Rita Reception", ""),
    ]
    pairs, extra = match([DANA, OLAF], held)
    v = contacts_verdict(pairs, extra, "Br")
    assert v.status == "fulfilled"
    assert (
        "Other persons of the branch, not in the parameters: Rita Reception (1 without an e-mail address)." in v.summary
    )
    assert "Job title other than the role in the parameters: Dana Director (IT manager)." in v.summary


# --- the TOPdesk SLA check's decision table --------------------------------------------------------------------------
def sla(ref="SLA-2026-0042", level="Full Stack", start=date(2026, 11, 16), end=date(2029, 11, 15), archived=False):
    return SlaAsset(f"id-{ref}", ref, level, start, end, archived)


@pytest.mark.parametrize(
    ("assets", "status", "says"),
    [
        (
            [sla()],
            "fulfilled",
            "SLA contract SLA-2026-0042 (Full Stack, 2026-11-16 to 2029-11-15) is active on 2026-12-06",
        ),
        ([sla(level="full stack", end=None)], "fulfilled", "to open-ended) is active"),
        ([sla(archived=True), sla()], "fulfilled", "is active on 2026-12-06"),
        ([], "open", "No 'Service Level Agreement' asset is linked to Br."),
        (
            [sla(ref="SLA-2025-0001")],
            "open",
            "No SLA asset named SLA-2026-0042 in Br; it holds: SLA-2025-0001 (active).",
        ),
        ([sla(archived=True)], "open", "SLA-2026-0042 (2026-11-16 to 2029-11-15): archived"),
        ([sla(end=date(2026, 12, 5))], "open", "ended 2026-12-05"),
        ([sla(start=date(2027, 1, 1))], "open", "starts 2027-01-01"),
        ([sla(start=None)], "open", "no start date"),
        ([sla(level="Premium")], "open", "service level Premium, expected Full Stack"),
    ],
)
def test_sla_decision_table(assets, status, says):
    v = sla_verdict(assets, "SLA-2026-0042", "Full Stack", TODAY, "Br", "Service Level Agreement")
    assert v.status == status
    assert says in v.summary + " ".join(v.missing), (v.summary, v.missing)
    if status == "open":
        assert v.missing


def test_the_last_day_of_the_term_still_counts():
    assert sla_verdict([sla(end=TODAY)], "SLA-2026-0042", "Full Stack", TODAY, "Br").status == "fulfilled"
    assert sla_verdict([sla(start=TODAY)], "SLA-2026-0042", "Full Stack", TODAY, "Br").status == "fulfilled"


# --- against the sandbox ---------------------------------------------------------------------------------------------
@pytest.fixture
def ctx(sandbox, params_dir):
    p = params.load("demo")
    clients = sandbox.clients()
    yield Context(p, lambda: clients, journal=None)
    clients.close()


def run(ctx: Context, item_id: str):
    return check_or_attest(catalogue.load().item(item_id), ctx, REGISTRY[item_id]())


def test_the_demo_checks_are_fulfilled_and_their_evidence_holds_what_was_read_but_no_address(sandbox, ctx):
    results = {i: run(ctx, i) for i in ITEMS}
    assert {i: r.status for i, r in results.items()} == dict.fromkeys(ITEMS, "fulfilled"), {
        i: r.summary for i, r in results.items()
    }
    hs = results["s2-hubspot-contacts"]
    assert hs.summary.startswith("All 2 contact(s) are associated with HubSpot company 9431077120 (Contoso Demo BV)")
    assert "Also associated, not in the parameters: Frank Finance." in hs.summary
    assert [(r["contact"], r["id"], r["e-mail"]) for r in hs.observed] == [
        ("Dana Director", "51201", "present, matches"),
        ("Olaf Operator", "51202", "present, matches"),
        ("Frank Finance", "51203", "present"),
    ]
    td = results["s2-topdesk-contacts"]
    assert "persons of TOPdesk branch Contoso Demo BV (C-0042)" in td.summary and len(td.observed) == 3
    assert "Rita Reception (1 without an e-mail address)" in td.summary
    sla_ = results["s2-topdesk-sla"]
    assert "SLA contract SLA-2026-0042 (Full Stack, 2026-11-16 to 2029-11-15) is active" in sla_.summary
    assert [(r["asset"], r["state"]) for r in sla_.observed] == [
        ("SLA-2026-0042", "active"),
        ("SLA-2023-0017", "archived"),
    ]
    for r in results.values():
        text = json.dumps(r.to_dict())
        assert "@" not in text, r.item_id  # no e-mail address in the evidence, only whether there is one
        assert sandbox.service_secret("hubspot-token") not in text
        assert sandbox.service_secret("topdesk-application-password") not in text
        assert r.attestation is None  # the check decided; the attestation on file was not needed


def test_a_contact_no_longer_on_the_card_keeps_it_open_naming_them(sandbox, ctx):
    del sandbox.service("hubspot").associations["9431077120"]["51202"]
    r = run(ctx, "s2-hubspot-contacts")
    assert r.status == "open"
    assert r.missing == [
        "Olaf Operator (Operations) is not associated with HubSpot company 9431077120 (Contoso Demo BV)"
    ]


def test_an_expired_sla_or_another_service_level_keeps_it_open(sandbox, ctx):
    current = next(a for a in sandbox.service("topdesk").assets if a["name"] == "SLA-2026-0042")
    current["fields"]["end-date"] = "2026-12-01T00:00:00.000+0000"
    r = run(ctx, "s2-topdesk-sla")
    assert r.status == "open" and r.missing == ["SLA-2026-0042 (2026-11-16 to 2026-12-01): ended 2026-12-01"]
    current["fields"].update({"end-date": "2029-11-15T00:00:00.000+0000", "service-level": "Premium"})
    assert run(ctx, "s2-topdesk-sla").missing == [
        "SLA-2026-0042 (2026-11-16 to 2029-11-15): service level Premium, expected Full Stack"
    ]


def test_a_refused_token_or_an_unknown_branch_fails_the_item_in_one_line(sandbox, params_dir):
    token = sandbox.conn.service_credentials["hubspot-token"]
    __import__("pathlib").Path(token).write_text("pat-eu1-revoked")
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    data["topdesk"]["branch_id"] = "00000000-0000-0000-0000-000000000001"
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    p = params.load("demo")
    clients = sandbox.clients()
    ctx = Context(p, lambda: clients, journal=None)
    try:
        hs = run(ctx, "s2-hubspot-contacts")
        assert hs.status == "failed" and "\n" not in hs.summary
        assert hs.summary.startswith("HubSpot: cannot read company 9431077120: it refused the private app token (401")
        for item in ("s2-topdesk-contacts", "s2-topdesk-sla"):
            r = run(ctx, item)
            assert (
                r.status == "failed" and "TOPdesk: cannot read branch 00000000-0000-0000-0000-000000000001" in r.summary
            )
            assert "Fix: set topdesk.branch_id in demo.yml to the customer's branch id" in r.summary
    finally:
        clients.close()


def test_without_the_connector_the_attestation_is_used_as_before(sandbox, params_dir):
    """Each item falls back to its attestation when its connector is not configured: the customer's record missing,
    or the MSP's connector; the result says so, and nothing is asked of HubSpot or TOPdesk."""
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    del data["crm"], data["topdesk"]
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    before = sandbox.stats()
    p = params.load("demo")
    ctx = Context(p, None, journal=None)  # no clients: a check that tried to call out would fail the item
    why = {
        "s2-hubspot-contacts": "no crm.hubspot_company_id in demo.yml (the customer's company card)",
        "s2-topdesk-contacts": "no topdesk.branch_id in demo.yml (the customer's branch)",
        "s2-topdesk-sla": "no topdesk.branch_id in demo.yml (the customer's branch)",
    }
    for item_id in ITEMS:
        r = run(ctx, item_id)
        att = p.attestations[item_id]
        assert r.status == "fulfilled" and r.attestation["reference"] == att.reference
        assert r.summary == (
            f"Check not available: {why[item_id]}, attestation used. Attested by {att.by} on {att.at.isoformat()}: "
            f"{att.reference}."
        )
    del data["attestations"]["s2-topdesk-sla"]
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    r = run(Context(params.load("demo"), None, journal=None), "s2-topdesk-sla")
    assert r.status == "open" and r.missing == ["attestation of s2-topdesk-sla"]
    assert r.summary.startswith(
        "Check not available: no topdesk.branch_id in demo.yml (the customer's branch), attestation used. awaiting attestation by the CSM"
    )
    after = sandbox.stats()
    assert after.get("hubspot_calls", 0) == before.get("hubspot_calls", 0)
    assert after.get("topdesk_calls", 0) == before.get("topdesk_calls", 0)


def test_without_the_msps_connector_the_reason_names_msp_yml(params_dir):
    data = yaml.safe_load((params_dir / "msp.yml").read_text())
    del data["msp"]["connectors"]["hubspot"]
    (params_dir / "msp.yml").write_text(yaml.safe_dump(data))
    r = run(Context(params.load("demo"), None, journal=None), "s2-hubspot-contacts")
    assert r.status == "fulfilled"
    assert r.summary.startswith(
        "Check not available: no msp.connectors.hubspot in parameters/msp.yml (its URL and credential), attestation used."
    )


def test_the_notebook_session_runs_the_check_and_the_fallback(sandbox, clients, params_dir, evidence_dir):
    session = Session(params.load("demo"), 2)
    session.ctx.clients_factory = lambda: clients
    assert session.run("s2-hubspot-contacts").status == "fulfilled"
    assert session.results["s2-hubspot-contacts"].observed[0]["contact"] == "Dana Director"
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    del data["crm"]
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    fallback = Session(params.load("demo"), 2).run("s2-hubspot-contacts")
    assert fallback.status == "fulfilled" and fallback.summary.startswith(
        "Check not available: no crm.hubspot_company_id"
    )
