"""The Key Vault secrets data plane as the sandbox serves it (`https://<vault>.vault.sandbox.test`, the MSP's vault
of the demo fixture), positive and negative, raw on the wire and through the unmodified SecretClient.

Sources, per test: the REST spec (azure-rest-api-specs specification/keyvault/data-plane/Microsoft.KeyVault/stable/
2025-07-01/secrets.json), recorded responses of the SDKs' own tests (Azure/azure-sdk-for-python
sdk/keyvault/azure-keyvault-secrets/tests/recordings/test_samples_secrets.pyTestExamplesKeyVaulttest_example_secret_
crud_operations[7.3].json = PY-REC-CRUD, ...test_example_secrets_recover[7.3].json = PY-REC-RECOVER;
Azure/azure-sdk-for-js sdk/keyvault/keyvault-secrets/recordings/node/secret_client__create_read_update_and_delete_
operations = JS-REC), the built-in roles (learn.microsoft.com role-based-access-control/built-in-roles/security).
Wording seen only in third-party logs is marked inferred.
"""

from __future__ import annotations

import json
import time

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError, ServiceRequestError
from azure.keyvault.secrets import SecretClient

from runbook.adapters.clients import local_names_session, local_names_transport

VAULT = "https://kv-intercept-runbook.vault.sandbox.test"
RESOURCE = "https://vault.sandbox.test"
API = "2026-04-01"  # azure-keyvault-secrets 4.12.0's default


@pytest.fixture
def wire(sandbox):
    conn = json.loads(sandbox.connection_file.read_text())
    hosts = {f"{v}.{conn['vault_domain']}": sandbox.url.split("://")[1] for v in conn["vaults"]}
    session = local_names_session(hosts, conn["vault_domain"])
    session.verify, session.trust_env = sandbox.conn.ca_path, False  # REQUESTS_CA_BUNDLE would override verify
    yield session
    session.close()


@pytest.fixture
def vault_token(clients, sandbox):
    """A token for the vault from the vault's tenant (the MSP's), as the SDK asks after the challenge."""
    return clients.target.credential.get_token(RESOURCE + "/.default", tenant_id=sandbox.conn.msp_tenant_id).token


def client_as(sandbox, client_id: str, secret: str) -> SecretClient:
    """The unmodified SecretClient signed in as another sandbox principal, through the sandbox's vault names."""
    conn = json.loads(sandbox.connection_file.read_text())
    hosts = {f"{v}.{conn['vault_domain']}": sandbox.url.split("://")[1] for v in conn["vaults"]}
    return SecretClient(
        VAULT,
        sandbox.credential(client_id, secret),
        transport=local_names_transport(hosts, conn["vault_domain"], sandbox.conn.ca_path),
        connection_verify=sandbox.conn.ca_path,
    )


def kv(clients) -> SecretClient:
    return clients.secret_client(VAULT)


def error_of(resp, status: int, code: str, inner: str | None = None) -> str:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == code, resp.text
    assert (err.get("innererror") or {}).get("code") == inner, resp.text
    return err["message"]


def test_the_first_request_is_challenged_with_the_authority_and_the_vault_resource(wire, sandbox):
    """PY-REC-CRUD (first entry): 401, WWW-Authenticate Bearer authorization=<authority>/<tenant>, resource=..."""
    resp = wire.get(f"{VAULT}/secrets/x/?api-version={API}")
    assert error_of(resp, 401, "Unauthorized") == "AKV10000: Request is missing a Bearer or PoP token."
    assert resp.headers["WWW-Authenticate"] == (
        f'Bearer authorization="{sandbox.url}/{sandbox.conn.msp_tenant_id}", resource="{RESOURCE}"'
    )


def test_a_token_for_arm_is_refused_for_its_audience(wire, clients):
    """crossplane-contrib/provider-azure#346 (a real vault's answer): AKV10022 Invalid audience."""
    arm = clients.target.credential.get_token("https://management.azure.com/.default").token
    resp = wire.get(f"{VAULT}/secrets/x/?api-version={API}", headers={"Authorization": f"Bearer {arm}"})
    message = error_of(resp, 401, "Unauthorized")
    assert message == f"AKV10022: Invalid audience. Expected {RESOURCE}, found: https://management.azure.com."
    assert "WWW-Authenticate" in resp.headers


def test_an_expired_token_is_refused(wire, sandbox):
    """CDCgov/prime-reportstream#2566 and azure-sdk-for-python#27266 (real logs): [TokenExpired] ... S2S12086."""
    app = sandbox.state.service_principal_by_app(sandbox.conn.client_id)
    old = sandbox.sandbox.app.tokens.issue(sandbox.conn.client_id, app["id"], RESOURCE, "x", lifetime=-10)
    resp = wire.get(f"{VAULT}/secrets/x/?api-version={API}", headers={"Authorization": f"Bearer {old}"})
    assert error_of(resp, 401, "Unauthorized") == "[TokenExpired] Error validating token: 'S2S12086'."


def test_secret_client_sets_versions_gets_and_lists(clients):
    """secrets.json SetSecret / GetSecret / GetSecretVersions / GetSecrets; bundle shape as PY-REC-CRUD (32-hex
    version in the id, attributes with recoveryLevel and recoverableDays; a purge-protected 90-day vault is
    'Recoverable')."""
    client = kv(clients)
    first = client.set_secret("contract-a", "one", content_type="text/plain", tags={"customer": "demo"})
    second = client.set_secret("contract-a", "two")
    assert first.id == f"{VAULT}/secrets/contract-a/{first.properties.version}" and len(first.properties.version) == 32
    assert first.properties.recovery_level == "Recoverable" and first.properties.recoverable_days == 90
    assert client.get_secret("contract-a").value == "two"
    assert client.get_secret("contract-a", first.properties.version).value == "one"
    versions = {p.version for p in client.list_properties_of_secret_versions("contract-a")}
    assert versions == {first.properties.version, second.properties.version}
    listed = [p for p in client.list_properties_of_secrets() if p.name == "contract-a"]
    assert len(listed) == 1 and listed[0].version is None  # the list names the secret, not a version


def test_pages_of_at_most_25_items(clients, wire, vault_token):
    """secrets.json: maxresults 1-25 (default 25), value + nextLink."""
    client = kv(clients)
    for n in range(27):
        client.set_secret(f"page-{n:02d}", "x")
    assert len(list(client.list_properties_of_secrets())) >= 27
    resp = wire.get(f"{VAULT}/secrets?api-version={API}", headers={"Authorization": f"Bearer {vault_token}"})
    assert len(resp.json()["value"]) == 25 and resp.json()["nextLink"]


def test_a_principal_without_a_data_role_is_refused_even_as_owner(sandbox):
    """azureossd blog 2024-08-27 (a real vault's 403): Forbidden / ForbiddenByRbac with Caller, Action, Resource,
    Assignment (not found), DecisionReason 'DeniedWithNoValidRBAC'; built-in roles: Owner has no dataActions."""
    client_id, secret, _oid = sandbox.add_principal(
        "owner-only", "Owner", "/subscriptions/1a2b3c4d-0001-4e5f-8a9b-0c1d2e3f4a01"
    )
    client = client_as(sandbox, client_id, secret)
    with pytest.raises(HttpResponseError) as exc:
        client.set_secret("denied", "x")
    assert exc.value.status_code == 403 and exc.value.error.code == "Forbidden"
    message = exc.value.error.message
    assert "Action: 'Microsoft.KeyVault/vaults/secrets/setSecret/action'" in message
    assert (
        "DecisionReason: 'DeniedWithNoValidRBAC'" in message
        and "Vault: kv-intercept-runbook;location=westeurope" in message
    )
    assert exc.value.response.json()["error"]["innererror"] == {"code": "ForbiddenByRbac"}


def test_a_secrets_user_may_read_but_not_write(sandbox, clients):
    """Built-in role Key Vault Secrets User: dataActions getSecret/action and readMetadata/action only."""
    kv(clients).set_secret("shared", "v")
    client_id, secret, oid = sandbox.add_principal("reader")
    sandbox.state.vaults["kv-intercept-runbook"]["roles"][oid.lower()] = ["4633458b-17de-408a-b874-0445c86b69e6"]
    client = client_as(sandbox, client_id, secret)
    assert client.get_secret("shared").value == "v"
    with pytest.raises(HttpResponseError) as exc:
        client.set_secret("shared", "w")
    assert exc.value.status_code == 403


def test_names_values_and_tags_outside_the_limits(wire, vault_token):
    """secrets.json secret-name pattern ^[0-9a-zA-Z-]+$ (400 BadParameter 'The request URI contains an invalid
    name', inferred wording); about-secrets: 25k value (SecretTooLarge, azure-cli#5639), 15 tags ('Property has
    invalid value', hashicorp/terraform-provider-azurerm#16780); JS-REC: PUT /secrets/ is 405."""
    auth = {"Authorization": f"Bearer {vault_token}", "Content-Type": "application/json"}
    put = lambda name, body: wire.put(f"{VAULT}/secrets/{name}?api-version={API}", data=json.dumps(body), headers=auth)  # noqa: E731
    assert (
        error_of(put("My_Secret", {"value": "x"}), 400, "BadParameter")
        == "The request URI contains an invalid name: My_Secret"
    )
    assert "25600 characters" in error_of(put("big", {"value": "x" * 25601}), 400, "BadParameter", "SecretTooLarge")
    tags = {f"t{n}": "v" for n in range(16)}
    assert (
        error_of(put("tagged", {"value": "x", "tags": tags}), 400, "BadParameter") == "Property has invalid value\r\n"
    )
    assert put("ok-15", {"value": "x", "tags": dict(list(tags.items())[:15])}).status_code == 200
    assert error_of(put("", {"value": "x"}), 405, "MethodNotAllowed") == "HTTP PUT not allowed"


def test_a_missing_secret_and_version(clients):
    """JS-REC recording_can_delete_a_secret_non_existing: 404 SecretNotFound 'A secret with (name/id) ...'."""
    client = kv(clients)
    with pytest.raises(ResourceNotFoundError) as exc:
        client.get_secret("nothing-here")
    assert exc.value.error.code == "SecretNotFound"
    assert exc.value.error.message.startswith("A secret with (name/id) nothing-here was not found in this key vault.")
    client.set_secret("one-version", "x")
    with pytest.raises(ResourceNotFoundError) as exc:
        client.get_secret("one-version", "0" * 32)
    assert f"one-version/{'0' * 32} was not found" in exc.value.error.message


def test_soft_delete_keeps_the_name_until_recovered_and_purge_protection_refuses_a_purge(clients, wire, vault_token):
    """PY-REC-CRUD / PY-REC-RECOVER: DELETE answers the DeletedSecretBundle (recoveryId, deletedDate,
    scheduledPurgeDate = deletedDate + recoverableDays), recover answers the bundle; a PUT while deleted is 409
    Conflict / ObjectIsDeletedButRecoverable (azure-rest-api-specs#9222); purge with purge protection is 403
    (microsoft/AzureTRE#1760, inferred wording)."""
    client = kv(clients)
    client.set_secret("doomed", "v1")
    deleted = client.begin_delete_secret("doomed").result()
    assert deleted.recovery_id == f"{VAULT}/deletedsecrets/doomed"
    assert (deleted.scheduled_purge_date - deleted.deleted_date).days == 90
    with pytest.raises(ResourceExistsError) as exc:
        client.set_secret("doomed", "v2")
    assert exc.value.error.code == "Conflict" and "deleted but recoverable state" in exc.value.error.message
    auth = {"Authorization": f"Bearer {vault_token}"}
    purge = wire.delete(f"{VAULT}/deletedsecrets/doomed?api-version={API}", headers=auth)
    assert 'Operation "purge" is not allowed because purge protection is enabled' in error_of(purge, 403, "Forbidden")
    client.begin_recover_deleted_secret("doomed").result()
    assert client.get_secret("doomed").value == "v1"
    gone = wire.get(f"{VAULT}/deletedsecrets/doomed?api-version={API}", headers=auth)
    assert error_of(gone, 404, "SecretNotFound") == "Deleted Secret not found: doomed"


def test_a_vault_without_purge_protection_purges(sandbox, clients):
    """secrets.json PurgeDeletedSecret: 204; the name is free again."""
    sandbox.state.vaults["kv-intercept-runbook"]["purge_protection"] = False
    client = kv(clients)
    client.set_secret("temp", "v")
    client.begin_delete_secret("temp").result()
    client.purge_deleted_secret("temp")
    assert client.set_secret("temp", "again").value == "again"
    assert client.get_secret("temp").properties.recovery_level == "Recoverable+Purgeable"


def test_an_api_version_the_service_does_not_know(wire, vault_token):
    """azure-sdk-for-net#14789 (a real vault's answer): BadParameter 'The specified version (...) is not recognized'."""
    resp = wire.get(f"{VAULT}/secrets?api-version=7.9", headers={"Authorization": f"Bearer {vault_token}"})
    assert error_of(resp, 400, "BadParameter") == (
        "The specified version (7.9) is not recognized. Consider using the latest supported version (2026-04-01)."
    )
    for version in ("7.4", "7.6", "2025-07-01"):
        ok = wire.get(f"{VAULT}/secrets?api-version={version}", headers={"Authorization": f"Bearer {vault_token}"})
        assert ok.status_code == 200, version


def test_an_unknown_vault_name_does_not_resolve(clients):
    """Azure: no DNS name for a vault that does not exist; the client sees a request error, no answer."""
    start = time.monotonic()
    with pytest.raises(ServiceRequestError):
        clients.secret_client("https://kv-nobody.vault.sandbox.test").get_secret("x")
    assert time.monotonic() - start < 5


# --- the vault lives in the MSP's tenant, not the customer's (issue 21) --------------------------------------------


def test_a_token_of_the_customers_tenant_is_refused_with_invalid_issuer(wire, clients, sandbox):
    """Azure/azure-cli#11871 and MicrosoftDocs/azure-docs#75410 (a real vault's answer to a token of another tenant):
    401 AKV10032 "Invalid issuer. Expected one of https://sts.windows.net/<vault tenant>/, found
    https://sts.windows.net/<token tenant>/."; the challenge names the vault's tenant."""
    token = clients.target.credential.get_token(RESOURCE + "/.default").token  # the credential's own tenant
    resp = wire.get(f"{VAULT}/secrets?api-version={API}", headers={"Authorization": f"Bearer {token}"})
    assert error_of(resp, 401, "Unauthorized") == (
        f"AKV10032: Invalid issuer. Expected one of https://sts.windows.net/{sandbox.conn.msp_tenant_id}/, "
        f"found https://sts.windows.net/{sandbox.conn.tenant_id}/."
    )
    assert f'/{sandbox.conn.msp_tenant_id}"' in resp.headers["WWW-Authenticate"]


def test_the_sdk_follows_the_challenge_to_the_msp_tenant(clients, sandbox):
    """azure-keyvault-secrets' challenge policy asks the credential for a token of the challenge's tenant; the
    runbook's credential may get one there (additionally_allowed_tenants), so the unmodified client just works."""
    kv(clients).set_secret("msp-tenant", "v")
    assert kv(clients).get_secret("msp-tenant").value == "v"


def test_a_credential_not_allowed_the_msp_tenant_fails_before_any_request_and_the_runbook_says_why(sandbox):
    """azure-identity: a credential asked for a tenant neither its own nor in additionally_allowed_tenants raises
    ClientAuthenticationError ("not configured to acquire tokens for tenant ..."); the runbook names the fix."""
    from azure.core.exceptions import ClientAuthenticationError

    from runbook.adapters.secrets import SecretRef, vault_error

    conn = sandbox.conn
    pinned = conn.credential()  # its own tenant only: no additionally_allowed_tenants
    hosts = {f"{v}.{conn.vault_domain}": sandbox.url.split("://")[1] for v in conn.vaults}
    client = SecretClient(
        VAULT,
        pinned,
        transport=local_names_transport(hosts, conn.vault_domain, conn.ca_path),
        connection_verify=conn.ca_path,
    )
    with pytest.raises(ClientAuthenticationError) as exc:
        client.get_secret("demo-vpn-psk")
    assert conn.msp_tenant_id in str(exc.value)
    ref = SecretRef(keyvault=f"{VAULT}/secrets/demo-vpn-psk")
    text = str(vault_error(ref, exc.value, "read"))
    assert conn.msp_tenant_id in text and "Fix: set msp.tenant_id" in text and "\n" not in text


def test_an_app_that_is_not_the_msps_cannot_sign_in_to_the_msp_tenant(sandbox):
    """Entra ID: a client id unknown in the tenant asked (not registered there, not consented) is AADSTS700016
    unauthorized_client (learn.microsoft.com entra/identity-platform/reference-error-codes)."""
    from azure.core.exceptions import ClientAuthenticationError

    client_id, secret, _oid = sandbox.add_principal("customer-only", msp=False)
    with pytest.raises(ClientAuthenticationError) as exc:
        sandbox.credential(client_id, secret).get_token(RESOURCE + "/.default", tenant_id=sandbox.conn.msp_tenant_id)
    assert "AADSTS700016" in str(exc.value)
    # in the customer's own tenant it signs in
    assert sandbox.credential(client_id, secret).get_token(RESOURCE + "/.default").token
