"""Issue 21: the app registration's client secret in the MSP's Key Vault (the sandbox's, through the unmodified
SecretClient): stored once with its expiry and tags, kept on a re-run, rotated when it nears expiry, and a vault that
refuses leaves no credential nobody holds."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from runbook import PROJECT_ROOT
from runbook.adapters.secrets import SecretRef
from runbook.customer import params as P
from runbook.errors import ParameterError
from runbook.evidence.archive import scan_text
from runbook.steps.app_registration import CREDENTIAL_NAME, AppRegistration
from runbook.steps.base import Context, execute
from tests.conftest import copy_msp_settings

VAULT = ("kv-intercept-runbook", "demo-runbook-app")


@pytest.fixture
def ctx(clients, vault_params):
    return Context(P.load("demo"), lambda: clients, apply=True, ran_by="test")


def app_of(sandbox) -> dict:
    return next(a for a in sandbox.state.applications.values() if a["displayName"] == "Intercept Managed Services")


def runbook_credentials(sandbox) -> list[dict]:
    return [c for c in app_of(sandbox)["passwordCredentials"] if c["displayName"] == CREDENTIAL_NAME]


def test_the_secret_goes_to_key_vault_with_its_expiry_and_tags_and_a_rerun_keeps_it(ctx, sandbox):
    first = execute(AppRegistration(), ctx)
    assert first.status == "fulfilled", first.summary
    stored = sandbox.state.vault_secrets[VAULT]
    (version,) = stored["versions"]
    (cred,) = runbook_credentials(sandbox)
    assert version["tags"] == {"customer": "demo", "app_id": app_of(sandbox)["appId"], "key_id": cred["keyId"]}
    assert version["attributes"]["exp"] > datetime.now(timezone.utc).timestamp() + 300 * 86400
    assert version["contentType"].startswith("client secret of Intercept Managed Services")
    change = next(c for c in first.applied if c.action == "add client secret")
    assert change.detail["version"] == version["version"] and change.detail["key_id"] == cred["keyId"]
    assert change.detail["store"] == "keyvault:https://kv-intercept-runbook.vault.sandbox.test/secrets/demo-runbook-app"
    record = json.dumps(first.to_dict())
    assert version["value"] not in record and scan_text(record, "result") == []
    assert not (PROJECT_ROOT / ".secrets" / "demo-runbook-app").exists()
    again = execute(AppRegistration(), ctx)
    assert again.status == "fulfilled" and again.planned == [] and again.applied == []
    secret_row = next(r for r in again.observed if r["object"] == "client secret")
    assert f"(version {version['version']})" in secret_row["state"]
    assert len(sandbox.state.vault_secrets[VAULT]["versions"]) == 1 and len(runbook_credentials(sandbox)) == 1


def test_a_secret_near_its_expiry_is_rotated_into_a_new_version(ctx, sandbox):
    execute(AppRegistration(), ctx)
    (old,) = runbook_credentials(sandbox)
    old["endDateTime"] = (datetime.now(timezone.utc) + timedelta(days=3)).isoformat()
    rotated = execute(AppRegistration(), ctx)
    assert rotated.status == "fulfilled", rotated.summary
    assert [c.action for c in rotated.applied] == ["add client secret"]
    versions = sandbox.state.vault_secrets[VAULT]["versions"]
    assert len(versions) == 2 and versions[-1]["tags"]["key_id"] != old["keyId"]
    assert execute(AppRegistration(), ctx).planned == []


def test_a_vault_the_runbook_may_not_write_names_the_role_and_leaves_no_orphan_credential(ctx, sandbox):
    sandbox.state.vaults["kv-intercept-runbook"]["roles"].clear()
    result = execute(AppRegistration(), ctx)
    assert result.status == "failed"
    assert "403 Forbidden ForbiddenByRbac" in result.summary and "Key Vault Secrets Officer" in result.summary
    assert runbook_credentials(sandbox) == []  # nobody holds its value: taken off the app again
    assert VAULT not in sandbox.state.vault_secrets
    assert [c.action for c in result.applied] == ["create application", "create service principal"]


def test_a_name_still_in_soft_delete_is_named_with_the_way_out(ctx, sandbox, clients):
    vault = clients.secret_client("https://kv-intercept-runbook.vault.sandbox.test")
    vault.set_secret("demo-runbook-app", "old")
    vault.begin_delete_secret("demo-runbook-app").result()
    result = execute(AppRegistration(), ctx)
    assert result.status == "failed" and "409 Conflict" in result.summary
    assert "az keyvault secret recover" in result.summary and runbook_credentials(sandbox) == []


@pytest.mark.parametrize(
    "ref",
    [
        "https://kv.vault.azure.net/keys/app",
        "http://kv-intercept.vault.azure.net/secrets/app",
        "https://kv-intercept.vault.azure.net/secrets/my_app",
        "kv-intercept/app",
    ],
)
def test_a_keyvault_reference_that_is_not_a_secret_url_is_bad_input(ref, vault_params):
    text = (vault_params / "demo.yml").read_text()
    (vault_params / "demo.yml").write_text(text.replace("{keyvault: demo-runbook-app}", f'{{keyvault: "{ref}"}}'))
    with pytest.raises(ParameterError) as exc:
        P.load("demo")
    assert "app_registration.secret_store" in str(exc.value) and "is not a secret's URL" in str(exc.value)


def test_a_secret_name_alone_is_a_secret_in_the_msps_vault(vault_params):
    """The MSP names its vault once (msp.yml, msp.key_vault); a customer names only the secret."""
    params = P.load("demo")
    assert params.app_registration.secret_store.keyvault == (
        "https://kv-intercept-runbook.vault.sandbox.test/secrets/demo-runbook-app"
    )
    assert [c.store.secret_name for c in params.credentials] == ["demo-firewall-admin", "demo-vpn-psk"]


def test_a_secret_name_without_the_msps_vault_names_the_fix(vault_params):
    shared = vault_params / "msp.yml"
    shared.write_text(re.sub(r"\n  key_vault: \S+", "", shared.read_text()))
    with pytest.raises(ParameterError) as exc:
        P.load("demo")
    lines = str(exc.value).splitlines()
    assert "demo.yml: field 'app_registration.secret_store.keyvault' names the secret 'demo-runbook-app'" in lines[0]
    assert "Fix: set msp.key_vault" in lines[0] and len(lines) == 3  # the app secret and both credentials


def test_the_msp_settings_are_shared_and_a_customer_overrides_single_fields(vault_params):
    text = (vault_params / "demo.yml").read_text()
    (vault_params / "demo.yml").write_text(text + "\nmsp: {offer_name: Intercept Managed Services (Contoso)}\n")
    params = P.load("demo")
    assert params.msp.offer_name == "Intercept Managed Services (Contoso)"  # the customer's own field
    assert (
        params.msp.tenant_id == "0b8e6a2d-93c4-4f5e-8d17-5a9c3e2f1b40" and len(params.msp.expected_authorizations) == 5
    )


def test_the_msp_settings_are_part_of_the_parameters_hash(vault_params):
    before = P.parameters_hash("demo")
    shared = vault_params / "msp.yml"
    shared.write_text(shared.read_text().replace("name: Intercept\n", "name: Intercept BV\n"))
    assert P.parameters_hash("demo") != before and P.load("demo").msp.name == "Intercept BV"


def test_the_msp_settings_file_is_not_a_customer_and_its_problems_are_named_in_it(vault_params):
    with pytest.raises(ParameterError) as exc:
        P.load("msp")
    assert "holds the MSP's settings" in str(exc.value)
    shared = vault_params / "msp.yml"
    shared.write_text(shared.read_text().replace("  key_vault: https://", "  key_vault: http://") + "extra: 1\n")
    with pytest.raises(ParameterError) as exc:
        P.load("demo")
    lines = str(exc.value).splitlines()
    assert (
        lines[0]
        == "msp.yml: field 'extra' is not a known field (msp.yml holds only the msp: block). Fix: move it to the customer files."
    )
    assert lines[1].startswith("msp.yml: field 'msp.key_vault': 'http://kv-intercept-runbook") and len(lines) == 2


def test_without_msp_settings_a_customer_file_must_name_the_msp(vault_params):
    (vault_params / "msp.yml").unlink()
    with pytest.raises(ParameterError) as exc:
        P.load("demo")
    assert "demo.yml: field 'msp' is missing. Fix: give the MSP's settings once in parameters/msp.yml" in str(exc.value)


def test_a_secret_url_names_its_vault_and_secret():
    ref = SecretRef(keyvault="https://kv-intercept.vault.azure.net/secrets/contoso-app")
    assert (ref.vault_url, ref.secret_name) == ("https://kv-intercept.vault.azure.net", "contoso-app")


@pytest.fixture
def premium_ctx(clients, sandbox, tmp_path, monkeypatch):
    """demo-premium as committed (its secret in Passwordstate), with the API key file of this test's sandbox."""
    d = tmp_path / "premium-parameters"
    d.mkdir()
    key = json.loads(sandbox.connection_file.read_text())["passwordstate_keys"]["7"]
    (d / "demo-premium.yml").write_text((PROJECT_ROOT / "parameters" / "demo-premium.yml").read_text())
    shared = copy_msp_settings(d)  # the Passwordstate server and its key's reference are the MSP's settings
    shared.write_text(shared.read_text().replace("{file: .sandbox/passwordstate-7.key}", f"{{file: {key}}}"))
    monkeypatch.setenv("RUNBOOK_PARAMETERS_DIR", str(d))
    return Context(P.load("demo-premium"), lambda: clients, apply=True, ran_by="test"), d


def entries(sandbox) -> list[dict]:
    return [p for p in sandbox.state.passwordstate["passwords"].values() if p["PasswordListID"] == 7]


def test_the_premium_secret_goes_to_passwordstate_once_and_a_rotation_replaces_it(premium_ctx, sandbox):
    ctx, _ = premium_ctx
    first = execute(AppRegistration(), ctx)
    assert first.status == "fulfilled", first.summary
    (entry,) = entries(sandbox)
    (cred,) = runbook_credentials(sandbox)
    assert entry["Title"] == "Intercept Managed Services app secret" and entry["GenericField1"] == cred["keyId"]
    assert entry["Password"] not in json.dumps(first.to_dict())
    assert "passwordstate:7/Intercept Managed Services app secret" in first.summary
    assert execute(AppRegistration(), ctx).planned == []
    cred["endDateTime"] = (datetime.now(timezone.utc) + timedelta(days=3)).isoformat()
    rotated = execute(AppRegistration(), ctx)
    assert rotated.status == "fulfilled" and [c.action for c in rotated.applied] == ["add client secret"]
    (entry,) = entries(sandbox)  # the same entry, its password replaced: never a second one
    assert entry["GenericField1"] != cred["keyId"]


def test_a_refused_passwordstate_key_names_the_fix_and_leaves_no_orphan(premium_ctx, sandbox):
    ctx, d = premium_ctx
    bad = d / "bad.key"
    bad.write_text("0" * 32)
    text = (d / "msp.yml").read_text()
    (d / "msp.yml").write_text(re.sub(r"api_key: \{file: [^}]+\}", f"api_key: {{file: {bad}}}", text))
    ctx.params = P.load("demo-premium")
    result = execute(AppRegistration(), ctx)
    assert result.status == "failed" and "Passwordstate refused the API key (401" in result.summary
    assert runbook_credentials(sandbox) == [] and entries(sandbox) == []


def test_a_passwordstate_reference_needs_the_server_and_its_form(vault_params):
    text = (vault_params / "demo.yml").read_text()
    (vault_params / "demo.yml").write_text(
        text.replace(
            "{keyvault: demo-runbook-app}",
            '{passwordstate: "Contoso app"}',
        )
    )
    with pytest.raises(ParameterError) as exc:
        P.load("demo")
    assert "is not <password list id>/<title>" in str(exc.value)


def test_credentials_stored_looks_each_credential_up_without_reading_it(ctx, sandbox):
    """s3-credentials-stored (kind both): every listed credential and the app secret found in its store by name
    and metadata; a missing one is named with its store; a store that refuses fails only its row."""
    from runbook.steps.credentials import CredentialsStored

    execute(AppRegistration(), ctx)
    found = execute(CredentialsStored(), ctx)
    assert found.status == "fulfilled" and len(found.observed) == 3, found.missing
    assert all(r["state"].startswith("stored, version ") and ", expires " in r["state"] for r in found.observed)
    values = [v["value"] for rec in sandbox.state.vault_secrets.values() for v in rec["versions"]]
    assert not any(v in json.dumps(found.to_dict()) for v in values)
    del sandbox.state.vault_secrets[("kv-intercept-runbook", "demo-vpn-psk")]
    gap = execute(CredentialsStored(), ctx)
    assert gap.status == "open" and gap.missing == [
        "Contoso site-to-site VPN pre-shared key (keyvault:https://kv-intercept-runbook.vault.sandbox.test/secrets/demo-vpn-psk): missing"
    ]
    sandbox.state.vaults["kv-intercept-runbook"]["roles"].clear()
    refused = execute(CredentialsStored(), ctx)
    assert refused.status == "failed" and all("403" in m for m in refused.missing)
