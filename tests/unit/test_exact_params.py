"""Issue 22: the Exact Online settings. msp.connectors.exact in parameters/msp.yml (url, division, the app's client id,
its client secret and the refresh token by reference, tier_items), the customer's exact: account_code, start_date and
pricing; a literal or an environment variable for the rotating refresh token is refused, naming the file, field and
fix."""

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


def test_the_demo_names_its_account_and_msp_yml_the_connector():
    p = params.load("demo")
    ex = p.msp.connectors.exact
    assert (ex.url, ex.division, ex.client_id) == (
        "https://start.exactonline.sandbox.test",
        3120456,
        "6d3e8b1f-2a4c-4e7d-9f10-3b5c7d9e1a24",
    )
    assert ex.refresh_token.file == ".sandbox/exact-refresh-token" and ex.tier_items["Full Stack"] == "MS-FULLSTACK"
    assert p.exact.account_code == "42" and p.exact.start_date.isoformat() == "2026-11-16"
    assert [(x.item, x.quantity, x.unit_price) for x in p.exact.pricing][-1] == ("AZ-CONSUMPTION", None, None)
    assert {ex.client_secret, ex.refresh_token} <= set(p.secret_refs())  # their values are never archived
    assert p.connector_unavailable("exact") == ""
    assert params.load("demo-premium").exact.account_code == "43"


def test_an_environment_variable_cannot_hold_the_rotating_refresh_token(params_dir):
    edit(params_dir / "msp.yml", lambda d: d["msp"]["connectors"]["exact"].update(refresh_token={"env": "EXACT_RT"}))
    msg = problems()
    assert "msp.yml: field 'msp.connectors.exact.refresh_token'" in msg
    assert "environment variable EXACT_RT, which the runbook cannot write back" in msg
    assert "give a keyvault:, passwordstate: or file: reference" in msg


def test_a_literal_secret_or_token_is_refused(params_dir):
    edit(params_dir / "msp.yml", lambda d: d["msp"]["connectors"]["exact"].update(client_secret="abcdefgh"))
    assert "field 'msp.connectors.exact.client_secret' holds a literal secret" in problems()
    edit(
        params_dir / "msp.yml",
        lambda d: d["msp"]["connectors"]["exact"].update(client_secret={"file": "x"}, refresh_token="stampNL001.x"),
    )
    assert "field 'msp.connectors.exact.refresh_token' holds a literal secret" in problems()


def test_bad_customer_records_name_the_field_and_the_fix(params_dir):
    edit(params_dir / "demo.yml", lambda d: d["exact"].update(start_date="next month", account_code=""))
    msg = problems()
    assert "field 'exact.start_date'" in msg and "field 'exact.account_code'" in msg
    assert "Fix: give exact.account_code (the customer's account code in Exact Online), start_date" in msg
    edit(
        params_dir / "demo.yml",
        lambda d: d["exact"].update(start_date="2026-11-16", account_code=42, pricing=[{"quantity": 1}]),
    )
    assert "field 'exact.pricing.0.item' is missing" in problems()


def test_a_bad_division_or_client_id_in_msp_yml(params_dir):
    edit(params_dir / "msp.yml", lambda d: d["msp"]["connectors"]["exact"].update(division=0, client_id="my-app"))
    msg = problems()
    assert "field 'msp.connectors.exact.division'" in msg and "field 'msp.connectors.exact.client_id'" in msg
    assert "Fix: give msp.connectors.exact in parameters/msp.yml: url (https://start.exactonline.nl), division" in msg


def test_the_templates_sample_account_code_is_a_placeholder(params_dir):
    edit(params_dir / "demo.yml", lambda d: d["exact"].update(account_code="000000"))
    assert "field 'exact.account_code' still holds the template's placeholder '000000'" in problems()


def test_an_exact_token_is_a_secret_wherever_it_appears(params_dir):
    """The archive's detector knows the shape of Exact's tokens (stamp<country><nnn>.<opaque>): never in parameters or
    evidence."""
    from runbook.adapters.secrets import scan_text

    token = "stampNL001.gAAAAHxK3v9Zq0AbCdEfGhIjKlMnOpQrStUv"
    assert [f.kind for f in scan_text(f"refresh {token}", "f")] == ["Exact Online token"]
    edit(params_dir / "demo.yml", lambda d: d["contacts"][0].update(role=token))
    assert "field 'contacts.0.role' holds what looks like a secret (Exact Online token)" in problems()
