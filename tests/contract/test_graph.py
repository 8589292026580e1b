"""Microsoft Graph endpoints used for the app registration, driven by msgraph-sdk."""

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.applications.applications_request_builder import ApplicationsRequestBuilder
from msgraph.generated.applications.item.add_password.add_password_post_request_body import AddPasswordPostRequestBody
from msgraph.generated.models.application import Application
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_credential import PasswordCredential
from msgraph.generated.models.service_principal import ServicePrincipal

from runbook.evidence.archive import SECRET_PATTERNS


async def scenario(graph):
    app = await graph.applications.post(Application(display_name="Intercept Managed Services"))
    cred = await graph.applications.by_application_id(app.id).add_password.post(
        AddPasswordPostRequestBody(password_credential=PasswordCredential(display_name="runbook"))
    )
    sp = await graph.service_principals.post(ServicePrincipal(app_id=app.app_id))
    query = ApplicationsRequestBuilder.ApplicationsRequestBuilderGetQueryParameters(
        filter="displayName eq 'Intercept Managed Services'"
    )
    found = await graph.applications.get(RequestConfiguration(query_parameters=query))
    again = await graph.applications.by_application_id(app.id).get()
    return app, cred, sp, found, again


def test_application_password_and_service_principal(clients):
    app, cred, sp, found, again = clients.run_graph(scenario)
    assert app.app_id and sp.app_id == app.app_id
    assert SECRET_PATTERNS["Entra ID client secret"].search(cred.secret_text)
    assert cred.hint == cred.secret_text[:3] and cred.end_date_time is not None
    assert [a.id for a in found.value] == [app.id]
    assert again.password_credentials[0].key_id == cred.key_id and again.password_credentials[0].secret_text is None


def test_missing_application_is_a_graph_404(clients):
    async def get(graph):
        return await graph.applications.by_application_id("00000000-0000-0000-0000-000000000000").get()

    with pytest.raises(ODataError) as exc:
        clients.run_graph(get)
    assert exc.value.response_status_code == 404 and exc.value.error.code == "Request_ResourceNotFound"


# --- Graph's permission model (issue 21) --------------------------------------------------------------------------
# Sources: Microsoft Graph v1.0 reference, "Permissions" of application-post-applications, application-list,
# application-addpassword, serviceprincipal-post-serviceprincipals (least privileged: Application.ReadWrite.OwnedBy
# to create and for owned apps, Application.ReadWrite.All otherwise; Application.Read.All to read); the error of a
# token without them: 403 Authorization_RequestDenied "Insufficient privileges to complete the operation."
# (learn.microsoft.com graph/errors and resolve-auth-errors); app-only tokens carry the granted app roles in `roles`
# (learn.microsoft.com entra/identity-platform/access-token-claims-reference).


def principal_with(sandbox, *permissions: str):
    from runbook.adapters.clients import Clients, Target

    client_id, secret, oid = sandbox.add_principal("graph " + (" ".join(permissions) or "none"))
    sandbox.state.graph_permissions[client_id.lower()] = set(permissions)
    target = Target(
        "sandbox",
        sandbox.conn.tenant_id,
        sandbox.url,
        sandbox.url,
        sandbox.conn.ca_path,
        sandbox.credential(client_id, secret),
    )
    return Clients(target), oid


def token_roles(clients) -> list[str]:
    import base64
    import json

    body = clients.target.credential.get_token(clients.target.graph_scope).token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))).get("roles", [])


def create(name: str):
    async def work(graph):
        return await graph.applications.post(Application(display_name=name))

    return work


def test_an_app_only_token_carries_the_granted_application_permissions(sandbox, clients):
    assert token_roles(clients) == ["Application.ReadWrite.All", "Directory.Read.All"]
    bare, _ = principal_with(sandbox)
    assert token_roles(bare) == []  # Entra ID leaves the claim out


def test_without_a_permission_graph_refuses_with_authorization_request_denied(sandbox):
    bare, _ = principal_with(sandbox)
    with pytest.raises(ODataError) as exc:
        bare.run_graph(create("nope"))
    assert exc.value.response_status_code == 403 and exc.value.error.code == "Authorization_RequestDenied"
    assert exc.value.error.message == "Insufficient privileges to complete the operation."


def test_read_all_reads_but_does_not_write(sandbox):
    reader, _ = principal_with(sandbox, "Application.Read.All")

    async def listing(graph):
        return await graph.applications.get()

    assert reader.run_graph(listing).value
    with pytest.raises(ODataError) as exc:
        reader.run_graph(create("nope"))
    assert exc.value.response_status_code == 403


def test_owned_by_writes_only_the_applications_its_app_owns(sandbox, clients):
    owner, _ = principal_with(sandbox, "Application.ReadWrite.OwnedBy")
    mine = owner.run_graph(create("mine"))
    theirs = clients.run_graph(create("theirs"))

    def add_password(app_id: str):
        async def work(graph):
            body = AddPasswordPostRequestBody(password_credential=PasswordCredential(display_name="x"))
            return await graph.applications.by_application_id(app_id).add_password.post(body)

        return work

    assert owner.run_graph(add_password(mine.id)).secret_text
    with pytest.raises(ODataError) as exc:
        owner.run_graph(add_password(theirs.id))
    assert exc.value.response_status_code == 403 and exc.value.error.code == "Authorization_RequestDenied"
