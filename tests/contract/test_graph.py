"""Microsoft Graph endpoints used for the app registration, driven by msgraph-sdk."""

import uuid

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


def login(sandbox, client_id: str, secret: str):
    """Clients for a sandbox principal with a credential of their own (so their first token is a new one)."""
    from runbook.adapters.clients import Clients, Target

    target = Target(
        "sandbox",
        sandbox.conn.tenant_id,
        sandbox.url,
        sandbox.url,
        sandbox.conn.ca_path,
        sandbox.credential(client_id, secret),
    )
    return Clients(target)


def principal_with(sandbox, *permissions: str):
    client_id, secret, oid = sandbox.add_principal("graph " + (" ".join(permissions) or "none"))
    sandbox.state.graph_permissions[client_id.lower()] = set(permissions)
    return login(sandbox, client_id, secret), oid


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


# --- request bodies: Graph refuses what the v1.0 schema does not declare or lets no client write ----------------------
# The declared, read-only and enum properties are the tables of azure_sandbox/providers/graph_schema.py, from the
# Microsoft Graph v1.0 reference "application resource type" and "servicePrincipal resource type".


def refused(clients, work, status: int, code: str) -> str:
    """Run Graph work that Graph refuses: assert the status and error code, return the message."""
    with pytest.raises(ODataError) as exc:
        clients.run_graph(work)
    assert exc.value.response_status_code == status and exc.value.error.code == code, exc.value.error.message
    return exc.value.error.message


def prefer_create_if_missing() -> RequestConfiguration:
    config: RequestConfiguration = RequestConfiguration()
    config.headers.add("Prefer", "create-if-missing")
    return config


def named(name: str):
    async def work(graph):
        query = ApplicationsRequestBuilder.ApplicationsRequestBuilderGetQueryParameters(
            filter=f"displayName eq '{name}'"
        )
        return (await graph.applications.get(RequestConfiguration(query_parameters=query))).value

    return work


def patch_app(app_id: str, body: Application):
    async def work(graph):
        return await graph.applications.by_application_id(app_id).patch(body)

    return work


def patch_sp(sp_id: str, body: ServicePrincipal):
    async def work(graph):
        return await graph.service_principals.by_service_principal_id(sp_id).patch(body)

    return work


def get_app(app_id: str):
    async def work(graph):
        return await graph.applications.by_application_id(app_id).get()

    return work


def new_app_and_sp(clients, name: str):
    async def work(graph):
        app = await graph.applications.post(Application(display_name=name))
        sp = await graph.service_principals.post(ServicePrincipal(app_id=app.app_id))
        return app, sp

    return clients.run_graph(work)


def test_what_the_runbook_and_msgraph_sdk_send_is_accepted_and_stored_without_annotations(sandbox, clients):
    # application-post-applications, serviceprincipal-post-serviceprincipals: the runbook's bodies (with the
    # "@odata.type" msgraph-sdk adds, also to nested objects) are accepted; the stored objects hold declared
    # properties only
    from msgraph.generated.models.web_application import WebApplication

    from azure_sandbox.providers.graph_schema import APPLICATION, SERVICE_PRINCIPAL

    async def work(graph):
        app = await graph.applications.post(Application(display_name="Runbook shape", sign_in_audience="AzureADMyOrg"))
        sp = await graph.service_principals.post(ServicePrincipal(app_id=app.app_id))
        await graph.applications.by_application_id(app.id).patch(
            Application(web=WebApplication(redirect_uris=["https://localhost/cb"]), tags=["msp"])
        )
        await graph.service_principals.by_service_principal_id(sp.id).patch(ServicePrincipal(tags=["managed"]))
        return app, sp, await graph.applications.by_application_id(app.id).get()

    app, sp, again = clients.run_graph(work)
    assert again.web.redirect_uris == ["https://localhost/cb"] and again.tags == ["msp"]
    stored_app, stored_sp = sandbox.state.applications[app.id], sandbox.state.service_principals[sp.id]
    assert set(stored_app) <= set(APPLICATION.properties) and "@odata.type" not in stored_app["web"]
    assert set(stored_sp) <= set(SERVICE_PRINCIPAL.properties) and stored_sp["tags"] == ["managed"]


def test_an_unknown_property_is_refused_on_create_and_update(clients):
    # Graph's answer to a property the type does not declare: 400 Request_BadRequest "Invalid property '<name>'."
    # (as Graph answered in pnp/PnP-Sites-Core issue #1807, "Invalid property 'responseHeaders'."); the bodies of
    # application-post-applications, application-update, serviceprincipal-post-serviceprincipals and
    # serviceprincipal-update are the resources' declared properties
    message = refused(
        clients,
        create_with(Application(display_name="Colourful", additional_data={"colour": "blue"})),
        400,
        "Request_BadRequest",
    )
    assert message == "Invalid property 'colour'."
    assert clients.run_graph(named("Colourful")) == []  # nothing was created
    app, sp = new_app_and_sp(clients, "Plain")
    message = refused(
        clients, patch_app(app.id, Application(additional_data={"colour": "blue"})), 400, "Request_BadRequest"
    )
    assert message == "Invalid property 'colour'."
    assert "colour" not in clients.run_graph(get_app(app.id)).additional_data

    async def sp_create(graph):
        return await graph.service_principals.post(ServicePrincipal(app_id=app.app_id, additional_data={"colour": "x"}))

    assert refused(clients, sp_create, 400, "Request_BadRequest") == "Invalid property 'colour'."
    message = refused(
        clients, patch_sp(sp.id, ServicePrincipal(additional_data={"responseHeaders": []})), 400, "Request_BadRequest"
    )
    assert message == "Invalid property 'responseHeaders'."


def create_with(body: Application):
    async def work(graph):
        return await graph.applications.post(body)

    return work


def test_an_enum_value_graph_does_not_know_is_refused(clients):
    # application resource type: signInAudience is one of AzureADMyOrg, AzureADMultipleOrgs,
    # AzureADandPersonalMicrosoftAccount, PersonalMicrosoftAccount; nativeAuthenticationApisEnabled none or all;
    # servicePrincipal resource type: preferredSingleSignOnMode password, saml, notSupported or oidc
    message = refused(
        clients,
        create_with(Application(display_name="Audience", sign_in_audience="AzureADMyOrgs")),
        400,
        "Request_BadRequest",
    )
    assert message == "Invalid value specified for property 'signInAudience' of resource 'Application'."
    app, sp = new_app_and_sp(clients, "Enums")
    body = Application(additional_data={"nativeAuthenticationApisEnabled": "some"})
    message = refused(clients, patch_app(app.id, body), 400, "Request_BadRequest")
    assert (
        message == "Invalid value specified for property 'nativeAuthenticationApisEnabled' of resource 'Application'."
    )
    message = refused(
        clients, patch_sp(sp.id, ServicePrincipal(preferred_single_sign_on_mode="kerberos")), 400, "Request_BadRequest"
    )
    assert message == "Invalid value specified for property 'preferredSingleSignOnMode' of resource 'ServicePrincipal'."
    clients.run_graph(patch_app(app.id, Application(sign_in_audience="AzureADMultipleOrgs")))  # a value it knows
    clients.run_graph(patch_sp(sp.id, ServicePrincipal(preferred_single_sign_on_mode="saml")))
    assert clients.run_graph(get_app(app.id)).sign_in_audience == "AzureADMultipleOrgs"


def test_a_read_only_property_is_refused_unless_it_keeps_its_value(sandbox, clients):
    # application resource type / servicePrincipal resource type mark id, appId, publisherDomain, createdDateTime,
    # appOwnerOrganizationId ... "Read-only" (uniqueName immutable once set, appId of a service principal set on
    # create); a client that sends a read-only property with its current value changes nothing and succeeds
    # (microsoft/api-guidelines PR #397, graph/propertyconventions.md)
    app, sp = new_app_and_sp(clients, "Read only")
    message = refused(
        clients, patch_app(app.id, Application(publisher_domain="evil.example")), 400, "Request_BadRequest"
    )
    assert message == "Property 'publisherDomain' is read-only and cannot be set."
    # the same values as stored: a no-op that succeeds (the whole object read back and sent again)
    clients.run_graph(
        patch_app(app.id, Application(app_id=app.app_id, publisher_domain=app.publisher_domain, id=app.id))
    )
    assert clients.run_graph(get_app(app.id)).publisher_domain == sandbox.state.domain
    message = refused(
        clients,
        create_with(Application(display_name="Chosen id", app_id="11111111-2222-3333-4444-555555555555")),
        400,
        "Request_BadRequest",
    )
    assert message == "Property 'appId' is read-only and cannot be set."
    other = "b0f0c0a0-0000-4000-8000-000000000001"
    message = refused(
        clients, patch_sp(sp.id, ServicePrincipal(app_owner_organization_id=other)), 400, "Request_BadRequest"
    )
    assert message == "Property 'appOwnerOrganizationId' is read-only and cannot be set."
    message = refused(clients, patch_sp(sp.id, ServicePrincipal(app_id=other)), 400, "Request_BadRequest")
    assert message == "Property 'appId' is read-only and cannot be set."
    clients.run_graph(patch_sp(sp.id, ServicePrincipal(app_id=app.app_id, display_name="Renamed SP")))
    assert sandbox.state.service_principals[sp.id]["displayName"] == "Renamed SP"

    unique = clients.run_graph(create_with(Application(display_name="Unique", unique_name="runbook-unique")))
    assert unique.unique_name == "runbook-unique"  # set on create
    message = refused(clients, patch_app(unique.id, Application(unique_name="another")), 400, "Request_BadRequest")
    assert message == "Property 'uniqueName' is read-only and cannot be set."
    clients.run_graph(patch_app(unique.id, Application(unique_name="runbook-unique", notes="same key")))


def test_password_credentials_are_refused_in_a_patch(clients):
    # application-update and serviceprincipal-update: "Using PATCH to set passwordCredential is not supported. Use
    # the addPassword and removePassword methods"; Graph's answer (msgraph-sdk-dotnet issue #2788): 400 "New password
    # credentials must be generated using service actions."
    app, sp = new_app_and_sp(clients, "No PATCH secrets")
    body = Application(password_credentials=[PasswordCredential(display_name="patched")])
    message = refused(clients, patch_app(app.id, body), 400, "Request_BadRequest")
    assert message == "New password credentials must be generated using service actions."
    assert clients.run_graph(get_app(app.id)).password_credentials == []
    body_sp = ServicePrincipal(password_credentials=[PasswordCredential(display_name="patched")])
    message = refused(clients, patch_sp(sp.id, body_sp), 400, "Request_BadRequest")
    assert message == "New password credentials must be generated using service actions."


def test_password_credentials_are_refused_on_create(clients):
    # application-post-applications: "Adding passwordCredential when creating applications is not supported. Use the
    # addPassword method"; the error Graph answers an app registration that does (ansible-collections/azure issue
    # #1372, "New password credentials must be generated using service actions"); an empty list adds nothing
    body = Application(display_name="Secret on create", password_credentials=[PasswordCredential(display_name="x")])
    message = refused(clients, create_with(body), 400, "Request_BadRequest")
    assert message == "New password credentials must be generated using service actions."
    assert clients.run_graph(named("Secret on create")) == []
    made = clients.run_graph(create_with(Application(display_name="No secret", password_credentials=[])))
    assert made.password_credentials == []


def test_a_value_of_the_wrong_type_is_refused_by_the_odata_reader(clients):
    # application resource type: displayName String, tags String collection; servicePrincipal resource type:
    # accountEnabled Boolean; a JSON value of another type does not read as the property (400 BadRequest naming the
    # expected EDM type)
    message = refused(clients, create_with(Application(additional_data={"displayName": 42})), 400, "BadRequest")
    assert "'Edm.String'" in message
    app, sp = new_app_and_sp(clients, "Typed")
    refused(clients, patch_app(app.id, Application(additional_data={"tags": "msp"})), 400, "BadRequest")
    message = refused(clients, patch_app(app.id, Application(additional_data={"tags": ["msp", 7]})), 400, "BadRequest")
    assert "'Edm.String'" in message
    message = refused(
        clients, patch_sp(sp.id, ServicePrincipal(additional_data={"accountEnabled": "yes"})), 400, "BadRequest"
    )
    assert "'Edm.Boolean'" in message
    assert clients.run_graph(get_app(app.id)).tags == []


def test_a_body_of_another_type_is_refused(clients):
    # OData JSON Format 4.01, "Control Information: odata.type" (what Graph reads): the type a body names must be the
    # expected one (or derived): an application posted to /servicePrincipals is a 400 BadRequest
    async def work(graph):
        return await graph.service_principals.post(Application(display_name="Wrong type"))

    assert "not assignable to the expected type 'microsoft.graph.servicePrincipal'" in refused(
        clients, work, 400, "BadRequest"
    )


# --- alternate keys: applications(appId=...), applications(uniqueName=...), servicePrincipals(appId=...) -------------


def test_an_application_is_served_by_its_app_id(clients):
    # application-get, application-update, application-delete, application-addpassword,
    # application-removepassword: GET/PATCH/DELETE /applications(appId='{appId}') and
    # POST /applications(appId='{appId}')/addPassword, /removePassword
    from msgraph.generated.applications.item.add_password.add_password_request_builder import AddPasswordRequestBuilder
    from msgraph.generated.applications.item.remove_password.remove_password_post_request_body import (
        RemovePasswordPostRequestBody,
    )
    from msgraph.generated.applications.item.remove_password.remove_password_request_builder import (
        RemovePasswordRequestBuilder,
    )

    app = clients.run_graph(create("By app id"))

    async def work(graph):
        by_app_id = graph.applications_with_app_id(app.app_id)
        got = await by_app_id.get()
        await by_app_id.patch(Application(display_name="By app id, renamed"))
        keyed = f"{graph.request_adapter.base_url}/applications(appId='{app.app_id}')"
        cred = await AddPasswordRequestBuilder(graph.request_adapter, f"{keyed}/addPassword").post(
            AddPasswordPostRequestBody(password_credential=PasswordCredential(display_name="keyed"))
        )
        after_add = await by_app_id.get()
        await RemovePasswordRequestBuilder(graph.request_adapter, f"{keyed}/removePassword").post(
            RemovePasswordPostRequestBody(key_id=cred.key_id)
        )
        after_remove = await by_app_id.get()
        await by_app_id.delete()
        return got, cred, after_add, after_remove

    got, cred, after_add, after_remove = clients.run_graph(work)
    assert got.id == app.id and after_add.display_name == "By app id, renamed"
    assert [c.key_id for c in after_add.password_credentials] == [cred.key_id] and cred.secret_text
    assert after_remove.password_credentials == []
    refused(clients, get_app(app.id), 404, "Request_ResourceNotFound")  # deleted

    async def missing(graph):
        return await graph.applications_with_app_id("00000000-0000-0000-0000-00000000abcd").get()

    refused(clients, missing, 404, "Request_ResourceNotFound")


def test_an_application_is_served_and_upserted_by_its_unique_name(clients):
    # application-get / application-update / application-delete: /applications(uniqueName='{uniqueName}');
    # application-upsert: PATCH with "Prefer: create-if-missing" creates it (201 and the application, the key as its
    # uniqueName), updates it when it exists (204); without the header a missing one is 404; string literals in a key
    # double their quotes (OData URL conventions)
    async def upsert(graph):
        created = await graph.applications_with_unique_name("app-65278").patch(
            Application(display_name="Display name"), prefer_create_if_missing()
        )
        updated = await graph.applications_with_unique_name("app-65278").patch(
            Application(display_name="Display name 2"), prefer_create_if_missing()
        )
        return created, updated, await graph.applications_with_unique_name("APP-65278").get()

    created, updated, got = clients.run_graph(upsert)
    assert created.unique_name == "app-65278" and created.display_name == "Display name" and created.app_id
    assert updated is None and got.id == created.id and got.display_name == "Display name 2"

    async def without_prefer(graph):
        return await graph.applications_with_unique_name("app-missing").patch(Application(display_name="x"))

    refused(clients, without_prefer, 404, "Request_ResourceNotFound")
    assert clients.run_graph(named("x")) == []

    async def quoted(graph):
        made = await graph.applications_with_unique_name("o''brien").patch(
            Application(display_name="O'Brien"), prefer_create_if_missing()
        )
        await graph.applications_with_unique_name("o''brien").delete()
        return made

    assert clients.run_graph(quoted).unique_name == "o'brien"
    assert clients.run_graph(named("O''Brien")) == []  # deleted by its key

    async def by_app_id_is_no_upsert(graph):
        missing = "00000000-0000-0000-0000-00000000abcd"
        return await graph.applications_with_app_id(missing).patch(
            Application(display_name="y"), prefer_create_if_missing()
        )

    refused(clients, by_app_id_is_no_upsert, 404, "Request_ResourceNotFound")  # application-upsert: uniqueName only


def test_a_service_principal_is_served_and_upserted_by_its_app_id(clients):
    # serviceprincipal-get, serviceprincipal-update, serviceprincipal-delete: /servicePrincipals(appId='{appId}');
    # serviceprincipal-upsert: PATCH with "Prefer: create-if-missing" creates the application's service principal
    # (201), updates an existing one (204); without the header a missing one is 404
    app = clients.run_graph(create("Upserted principal"))

    async def missing(graph):
        return await graph.service_principals_with_app_id(app.app_id).patch(ServicePrincipal(display_name="x"))

    refused(clients, missing, 404, "Request_ResourceNotFound")

    async def work(graph):
        by_app_id = graph.service_principals_with_app_id(app.app_id)
        created = await by_app_id.patch(ServicePrincipal(display_name="My app instance"), prefer_create_if_missing())
        updated = await by_app_id.patch(ServicePrincipal(tags=["msp"]), prefer_create_if_missing())
        got = await by_app_id.get()
        await by_app_id.delete()
        return created, updated, got

    created, updated, got = clients.run_graph(work)
    assert created.app_id == app.app_id and created.display_name == "My app instance" and updated is None
    assert got.id == created.id and got.tags == ["msp"]

    async def gone(graph):
        return await graph.service_principals.by_service_principal_id(created.id).get()

    refused(clients, gone, 404, "Request_ResourceNotFound")

    async def no_application(graph):
        orphan = graph.service_principals_with_app_id("00000000-0000-0000-0000-00000000abcd")
        return await orphan.patch(ServicePrincipal(display_name="orphan"), prefer_create_if_missing())

    refused(clients, no_application, 400, "Request_BadRequest")  # the appId must reference an application


def test_a_key_the_type_does_not_serve_is_not_a_segment(clients):
    # application-get lists /applications/{id}, (appId='{appId}'), (uniqueName='{uniqueName}'); serviceprincipal-get
    # /servicePrincipals/{id} and (appId='{appId}'): any other key is a segment Graph does not resolve (400
    # BadRequest "Resource not found for the segment ..."); key names compare case-insensitively
    from msgraph.generated.service_principals_with_app_id.service_principals_with_app_id_request_builder import (
        ServicePrincipalsWithAppIdRequestBuilder,
    )

    app = clients.run_graph(create("Keys"))

    def raw(segment: str):
        async def work(graph):
            url = f"{graph.request_adapter.base_url}/{segment}"
            return await ServicePrincipalsWithAppIdRequestBuilder(graph.request_adapter, url).get()

        return work

    for segment in ("servicePrincipals(displayName='Keys')", "applications(displayName='Keys')"):
        assert refused(clients, raw(segment), 400, "BadRequest").startswith("Resource not found for the segment")
    assert clients.run_graph(raw(f"applications(APPID='{app.app_id}')")).id == app.id


# --- app role assignments: the application permissions of Microsoft Graph's service principal ------------------------
# Sources: serviceprincipal-post-approleassignments (principalId, resourceId, appRoleId; 201 and the
# appRoleAssignment; permission AppRoleAssignment.ReadWrite.All), serviceprincipal-list-approleassignments,
# serviceprincipal-delete-approleassignments, serviceprincipal-post-approleassignedto,
# serviceprincipal-list-approleassignedto; "Microsoft Graph permissions reference" (the app role ids of Microsoft
# Graph, appId 00000003-0000-0000-c000-000000000000); an app-only token carries its app roles in `roles` from the
# token issued after the grant (access-token-claims-reference).
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
APPLICATION_READWRITE_ALL = "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9"
DIRECTORY_READ_ALL = "7ab1d382-f21e-4acd-a863-ba3e13f7da61"


def microsoft_graph(clients):
    async def work(graph):
        return await graph.service_principals_with_app_id(GRAPH_APP_ID).get()

    return clients.run_graph(work)


def grant(principal_id: str, resource_id: str, app_role_id: str, path_principal: str | None = None):
    from msgraph.generated.models.app_role_assignment import AppRoleAssignment

    async def work(graph):
        body = AppRoleAssignment(
            principal_id=uuid.UUID(principal_id), resource_id=uuid.UUID(resource_id), app_role_id=uuid.UUID(app_role_id)
        )
        path = graph.service_principals.by_service_principal_id(path_principal or principal_id)
        return await path.app_role_assignments.post(body)

    return work


def assignments_of(sp_id: str, assigned_to: bool = False):
    async def work(graph):
        item = graph.service_principals.by_service_principal_id(sp_id)
        return (await (item.app_role_assigned_to if assigned_to else item.app_role_assignments).get()).value

    return work


def test_the_tenant_holds_microsoft_graph_with_its_application_permissions(clients):
    # serviceprincipal-get by appId; the Microsoft Graph permissions reference: Application.ReadWrite.All
    # 1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9, AppRoleAssignment.ReadWrite.All 06b708a9-e830-4db3-a914-8e69da51d44f
    # (application permissions: allowedMemberTypes ["Application"]); Microsoft's own apps are owned by tenant
    # f8cdef31-a31e-4b4a-93e4-5f571e91255a
    graph_sp = microsoft_graph(clients)
    assert graph_sp.display_name == "Microsoft Graph" and graph_sp.service_principal_type == "Application"
    assert str(graph_sp.app_owner_organization_id) == "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
    roles = {r.value: str(r.id) for r in graph_sp.app_roles}
    assert roles["Application.ReadWrite.All"] == APPLICATION_READWRITE_ALL
    assert roles["AppRoleAssignment.ReadWrite.All"] == "06b708a9-e830-4db3-a914-8e69da51d44f"
    assert all(r.allowed_member_types == ["Application"] and r.is_enabled for r in graph_sp.app_roles)


def test_the_runbook_principals_consented_permissions_are_its_app_role_assignments(sandbox, clients):
    # serviceprincipal-list-approleassignments, serviceprincipal-list-approleassignedto: admin consent to application
    # permissions is app role assignments of the resource (Microsoft Graph) to the client service principal
    graph_sp = microsoft_graph(clients)
    runbook = sandbox.state.service_principal_by_app(sandbox.conn.client_id)["id"]
    listed = clients.run_graph(assignments_of(runbook))
    assert sorted(str(a.app_role_id) for a in listed) == sorted([APPLICATION_READWRITE_ALL, DIRECTORY_READ_ALL])
    assert {(str(a.resource_id), a.resource_display_name, a.principal_type) for a in listed} == {
        (graph_sp.id, "Microsoft Graph", "ServicePrincipal")
    }
    assert all(str(a.principal_id) == runbook and a.created_date_time for a in listed)
    assigned_to = clients.run_graph(assignments_of(graph_sp.id, assigned_to=True))
    assert {a.id for a in listed} <= {a.id for a in assigned_to}


def test_a_granted_application_permission_is_in_the_next_token(sandbox, clients):
    # serviceprincipal-post-approleassignments (grant), serviceprincipal-delete-approleassignments (remove); the
    # token's `roles` are the app roles assigned when it was issued (access-token-claims-reference)
    granter, _ = principal_with(sandbox, "AppRoleAssignment.ReadWrite.All", "Application.Read.All")
    client_id, secret, grantee_id = sandbox.add_principal("grantee")
    before = login(sandbox, client_id, secret)
    with pytest.raises(ODataError) as exc:
        before.run_graph(create("not yet"))
    assert exc.value.response_status_code == 403 and exc.value.error.code == "Authorization_RequestDenied"

    graph_sp = microsoft_graph(granter)
    made = granter.run_graph(grant(grantee_id, graph_sp.id, APPLICATION_READWRITE_ALL))
    assert str(made.principal_id) == grantee_id and str(made.resource_id) == graph_sp.id
    assert str(made.app_role_id) == APPLICATION_READWRITE_ALL and made.principal_type == "ServicePrincipal"
    assert [a.id for a in granter.run_graph(assignments_of(grantee_id))] == [made.id]

    after = login(sandbox, client_id, secret)  # a new credential: a new token
    assert token_roles(after) == ["Application.ReadWrite.All"]
    assert after.run_graph(create("now allowed")).display_name == "now allowed"
    with pytest.raises(ODataError):  # the token issued before the grant still lacks it
        before.run_graph(create("old token"))

    async def revoke(graph):
        item = graph.service_principals.by_service_principal_id(grantee_id)
        await item.app_role_assignments.by_app_role_assignment_id(made.id).delete()

    granter.run_graph(revoke)
    assert granter.run_graph(assignments_of(grantee_id)) == []
    assert token_roles(login(sandbox, client_id, secret)) == []


def test_granting_needs_app_role_assignment_readwrite_all(sandbox, clients):
    # serviceprincipal-post-approleassignments: AppRoleAssignment.ReadWrite.All; Application.ReadWrite.All and
    # Directory.ReadWrite.All do not grant it (403, as in hashicorp/terraform-provider-azuread issue #1661)
    _, _, grantee_id = sandbox.add_principal("grantee")
    graph_sp = microsoft_graph(clients)
    directory_writer, _ = principal_with(sandbox, "Application.ReadWrite.All", "Directory.ReadWrite.All")
    for caller in (clients, directory_writer):
        with pytest.raises(ODataError) as exc:
            caller.run_graph(grant(grantee_id, graph_sp.id, APPLICATION_READWRITE_ALL))
        assert exc.value.response_status_code == 403 and exc.value.error.code == "Authorization_RequestDenied"
    assert (
        clients.run_graph(assignments_of(grantee_id)) == []
    )  # nothing granted (reading: Application.Read.All or more)


def test_an_assignment_graph_cannot_make_is_refused(sandbox):
    # serviceprincipal-post-approleassignments: the appRoleId must be one the resource service principal defines,
    # the resource must exist, the principal is the one posted to, and a role is assigned once
    granter, _ = principal_with(sandbox, "AppRoleAssignment.ReadWrite.All", "Application.Read.All")
    _, _, grantee_id = sandbox.add_principal("grantee")
    graph_sp = microsoft_graph(granter)
    unknown_role = "00000000-0000-0000-0000-0000000000aa"
    message = refused(granter, grant(grantee_id, graph_sp.id, unknown_role), 400, "Request_BadRequest")
    assert message == f"Permission being assigned was not found on application '{GRAPH_APP_ID}'."
    refused(
        granter,
        grant(grantee_id, "00000000-0000-0000-0000-0000000000bb", APPLICATION_READWRITE_ALL),
        404,
        "Request_ResourceNotFound",
    )
    _, _, other_id = sandbox.add_principal("other")
    refused(
        granter,
        grant(other_id, graph_sp.id, APPLICATION_READWRITE_ALL, path_principal=grantee_id),
        400,
        "Request_BadRequest",
    )
    granter.run_graph(grant(grantee_id, graph_sp.id, APPLICATION_READWRITE_ALL))
    message = refused(granter, grant(grantee_id, graph_sp.id, APPLICATION_READWRITE_ALL), 400, "Request_BadRequest")
    assert message == "Permission being assigned already exists on the object."
    assert sandbox.state.graph_permissions[sandbox.state.service_principals[grantee_id]["appId"].lower()] == {
        "Application.ReadWrite.All"
    }
    assert sandbox.state.graph_permissions.get(sandbox.state.service_principals[other_id]["appId"].lower()) is None


def test_a_resource_grants_its_app_roles_through_app_role_assigned_to(sandbox):
    # serviceprincipal-post-approleassignedto: POST /servicePrincipals/{resource-id}/appRoleAssignedTo
    from msgraph.generated.models.app_role_assignment import AppRoleAssignment

    granter, _ = principal_with(sandbox, "AppRoleAssignment.ReadWrite.All", "Application.Read.All")
    client_id, secret, grantee_id = sandbox.add_principal("grantee")
    graph_sp = microsoft_graph(granter)

    async def work(graph):
        body = AppRoleAssignment(
            principal_id=uuid.UUID(grantee_id),
            resource_id=uuid.UUID(graph_sp.id),
            app_role_id=uuid.UUID(DIRECTORY_READ_ALL),
        )
        return await graph.service_principals.by_service_principal_id(graph_sp.id).app_role_assigned_to.post(body)

    made = granter.run_graph(work)
    assert made.id in {a.id for a in granter.run_graph(assignments_of(graph_sp.id, assigned_to=True))}
    assert token_roles(login(sandbox, client_id, secret)) == ["Directory.Read.All"]
