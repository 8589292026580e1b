"""Issue 22: the connectors' settings. The MSP-wide part (each system's URL and credential reference) in
parameters/msp.yml under msp.connectors, the customer's records in the customer file (crm, topdesk); bad input names
the file, the field and the fix, a literal credential is refused, and an unconfigured connector says why."""

import pytest
import yaml

from runbook.customer import params


def edit(path, change):
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def problems(customer="demo") -> str:
    with pytest.raises(params.ParameterError) as exc:
        params.load(customer)
    return str(exc.value)


def test_the_demo_names_its_hubspot_company_and_topdesk_branch_and_msp_yml_the_connectors():
    p = params.load("demo")
    assert p.crm.hubspot_company_id == "9431077120" and p.topdesk.branch_id == "3f2a6c1e-8d4b-4c57-9e21-5b7d0a9c4e11"
    hs, td = p.msp.connectors.hubspot, p.msp.connectors.topdesk
    assert hs.url == "https://api.hubapi.sandbox.test" and hs.token.file == ".sandbox/hubspot-token"
    assert td.login == "runbook-api" and td.application_password.file == ".sandbox/topdesk-application-password"
    assert td.sla.template == "Service Level Agreement" and td.sla.end_field == "end-date"
    assert p.connector_unavailable("hubspot") == "" and p.connector_unavailable("topdesk") == ""
    assert {hs.token, td.application_password} <= set(p.secret_refs())  # their values are never archived
    premium = params.load("demo-premium")
    assert premium.crm.hubspot_company_id == "9431077121" and premium.topdesk.branch_id.endswith("4e12")


def test_a_bad_connector_url_in_msp_yml_names_msp_yml_the_field_and_the_fix(params_dir):
    edit(params_dir / "msp.yml", lambda d: d["msp"]["connectors"]["hubspot"].update(url="http://api.hubapi.com/crm"))
    msg = problems()
    assert "msp.yml: field 'msp.connectors.hubspot.url'" in msg
    assert "give the service's https URL without a path, e.g. https://api.hubapi.com" in msg
    assert "Fix: give msp.connectors.hubspot in parameters/msp.yml: url (https://api.hubapi.com) and token" in msg


def test_a_literal_token_or_application_password_is_refused(params_dir):
    edit(params_dir / "msp.yml", lambda d: d["msp"]["connectors"]["topdesk"].update(application_password="abcde-fghij"))
    msg = problems()
    assert "field 'msp.connectors.topdesk.application_password' holds a literal secret" in msg
    edit(
        params_dir / "msp.yml",
        lambda d: d["msp"]["connectors"]["topdesk"].update(application_password={"file": "x"}),
    )
    edit(params_dir / "msp.yml", lambda d: d["msp"]["connectors"]["hubspot"].update(token="pat-eu1-1234"))
    assert "field 'msp.connectors.hubspot.token' holds a literal secret" in problems()


def test_the_topdesk_connector_needs_its_login_and_knows_no_other_field(params_dir):
    edit(params_dir / "msp.yml", lambda d: d["msp"]["connectors"]["topdesk"].pop("login"))
    assert "field 'msp.connectors.topdesk.login' is missing. Fix: give msp.connectors.topdesk" in problems()
    edit(params_dir / "msp.yml", lambda d: d["msp"]["connectors"]["topdesk"].update(login="x", tennant="intercept"))
    assert "field 'msp.connectors.topdesk.tennant' is not a known field (a typo?)" in problems()


def test_the_customers_records_are_checked_and_named_with_the_fix(params_dir):
    edit(params_dir / "demo.yml", lambda d: d.update(crm={"hubspot_company_id": "contoso"}))
    msg = problems()
    assert "demo.yml: field 'crm.hubspot_company_id'" in msg and "is not a HubSpot record id" in msg
    assert "Fix: give crm.hubspot_company_id, the number at the end of the customer's company card URL" in msg
    edit(
        params_dir / "demo.yml",
        lambda d: d.update(crm={"hubspot_company_id": 9431077120}, topdesk={"branch_id": "C-0042"}),
    )
    msg = problems()
    assert "field 'topdesk.branch_id'" in msg and "is not a TOPdesk branch id (a GUID)" in msg and "crm." not in msg
    assert "Fix: give topdesk.branch_id, the customer's branch id in TOPdesk" in msg


def test_a_numeric_company_id_is_read_as_text_and_the_sla_defaults_come_from_the_header(params_dir):
    edit(params_dir / "demo.yml", lambda d: d.update(crm={"hubspot_company_id": 9431077120}))
    p = params.load("demo")
    assert p.crm.hubspot_company_id == "9431077120"
    assert p.topdesk.sla_reference is None and p.topdesk.sla_service_level is None  # the check uses the header's


def test_an_unconfigured_connector_says_which_part_is_missing(params_dir):
    edit(params_dir / "demo.yml", lambda d: (d.pop("crm"), d.pop("topdesk")))
    p = params.load("demo")
    assert p.connector_unavailable("hubspot") == "no crm.hubspot_company_id in demo.yml (the customer's company card)"
    assert p.connector_unavailable("topdesk") == "no topdesk.branch_id in demo.yml (the customer's branch)"
    edit(params_dir / "msp.yml", lambda d: d["msp"].pop("connectors"))
    p = params.load("demo")
    assert (
        p.connector_unavailable("hubspot") == "no msp.connectors.hubspot in parameters/msp.yml (its URL and credential)"
    )
    assert p.secret_refs() == (p.app_registration.secret_store,)


def test_the_templates_sample_company_id_is_a_placeholder(params_dir):
    edit(params_dir / "demo.yml", lambda d: d.update(crm={"hubspot_company_id": "1234567890"}))
    assert "field 'crm.hubspot_company_id' still holds the template's placeholder '1234567890'" in problems()


def test_a_hubspot_token_is_a_secret_wherever_it_appears(params_dir):
    """The archive's detector knows a private app token's shape (pat-<region>-<uuid>): never in parameters or evidence."""
    from runbook.adapters.secrets import scan_text

    token = "pat-eu1-3f2a6c1e-8d4b-4c57-9e21-5b7d0a9c4e11"
    assert [f.kind for f in scan_text(f"token was {token}", "f")] == ["HubSpot private app token"]
    edit(params_dir / "demo.yml", lambda d: d["contacts"][0].update(role=token))
    assert "field 'contacts.0.role' holds what looks like a secret (HubSpot private app token)" in problems()
