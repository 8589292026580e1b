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
