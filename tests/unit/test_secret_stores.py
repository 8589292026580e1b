"""Issue 21: the app registration's client secret in the MSP's Key Vault (the sandbox's, through the unmodified
SecretClient): stored once with its expiry and tags, kept on a re-run, rotated when it nears expiry, and a vault that
refuses leaves no credential nobody holds."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from runbook import PROJECT_ROOT
from runbook.adapters.secrets import SecretRef
from runbook.customer import params as P
from runbook.errors import ParameterError
from runbook.evidence.archive import scan_text
from runbook.steps.app_registration import CREDENTIAL_NAME, AppRegistration
from runbook.steps.base import Context, execute

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
    (vault_params / "demo.yml").write_text(
        text.replace("https://kv-intercept-runbook.vault.sandbox.test/secrets/demo-runbook-app", ref)
    )
    with pytest.raises(ParameterError) as exc:
        P.load("demo")
    assert "app_registration.secret_store" in str(exc.value) and "is not a secret's URL" in str(exc.value)


def test_a_secret_url_names_its_vault_and_secret():
    ref = SecretRef(keyvault="https://kv-intercept.vault.azure.net/secrets/contoso-app")
    assert (ref.vault_url, ref.secret_name) == ("https://kv-intercept.vault.azure.net", "contoso-app")
