"""The Partner Center stand-in (`https://api.partnercenter.sandbox.test/v1/`), raw on the wire with real Entra tokens of
the sandbox (azure-identity's ClientSecretCredential) and through the runbook's connector, positive and negative.

Sources, per test (Microsoft Learn, Partner Center REST reference, learn.microsoft.com/partner-center/developer/...):
get-a-customer-by-id, get-a-list-of-customers (`size`), get-all-of-a-customer-s-subscriptions, get-a-customer-s-usage-
spending-budget, update-a-customer-s-usage-spending-budget (PATCH with "the full resource", the request example
`{"Amount": 100, "Attributes": {"ObjectType": "SpendingBudget"}}`; the REST reference's "Azure spending - Set customer
usage budget": 200, 400, 401, 403), get-confirmation-of-customer-agreement ("This scenario only supports App+User
authentication") and agreement-resources (type, dateAgreed, templateId, primaryContact; rest/api/partner-center/
manage-customer-accounts/get-agreements: agreementType, default Microsoft Cloud Agreement), partner-center-rest-
resources (the Collection: totalCount, items, links, attributes.objectType), partner-center-authentication (app-only:
a token of the partner's tenant for https://api.partnercenter.microsoft.com), error-codes (the body `code` and
`description`; the `WWW-Authenticate: OAuth realm=urn:cpsvc:cpid:...` header; the table: 401 800001 "Partner Token
missing in request context" and 400 "Access denied", 403 2032 "Access denied", 404 60003 "Tenant not found", 400 3000
"Invalid property", 400 800002 "Invalid request input"), confirm-customer-consent-customer-agreement (an error body with
errorName, isRetryable, parameters, errorMessageExtended); PartnerCenterSamples/Partner-Center-SDK-Samples#14 (an
app-only call of an App+User scenario refused: "The supplied role does not have the rights to perform the requested
operation."). Texts no first-party source gives are marked "inferred" in the stand-in.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from runbook.adapters.connectors import HubSpot, PartnerCenter
from runbook.adapters.connectors.partner_center import MCA, SCOPE
from runbook.errors import ConnectorCredentialError, ConnectorInputError, ConnectorNotFound, ConnectorUnreachable

API = "https://api.partnercenter.sandbox.test"
CUSTOMER = "6f1c2a9e-4b7d-4e38-9a51-2c8d0e7b3f10"
UNKNOWN = "00000000-0000-0000-0000-0000000000aa"


def _token(sandbox, client_id: str | None = None, secret: str | None = None, scope: str = SCOPE, msp: bool = True):
    cred = sandbox.credential(
        client_id or sandbox.conn.client_id, secret or Path(sandbox.conn.secret_path).read_text().strip()
    )
    return cred.get_token(scope, tenant_id=sandbox.conn.msp_tenant_id if msp else None).token


@pytest.fixture
def pc(sandbox):
    clients = sandbox.clients()
    yield clients.http(), {"Authorization": f"Bearer {_token(sandbox)}"}
    clients.close()


@pytest.fixture
def connector(sandbox, pc):
    http, _ = pc
    return PartnerCenter(http, API, lambda: _token(sandbox))


def test_a_customer_is_read_by_its_tenant_id(pc):
    """get-a-customer-by-id: GET /v1/customers/{customer-tenant-id} answers the Customer resource (id = the tenant id,
    companyProfile with tenantId, domain and companyName, relationshipToPartner, attributes.objectType Customer)."""
    http, h = pc
    resp = http.get(f"{API}/v1/customers/{CUSTOMER}", headers=h)
    assert resp.status_code == 200
    body = resp.json()
    assert body["id"] == CUSTOMER and body["attributes"]["objectType"] == "Customer"
    assert body["companyProfile"]["tenantId"] == CUSTOMER
    assert body["companyProfile"]["companyName"] == "Contoso Demo BV"
    assert body["relationshipToPartner"] == "reseller"
    assert body["links"]["self"]["uri"] == f"/customers/{CUSTOMER}"


def test_lists_are_collections(pc):
    """partner-center-rest-resources: a Collection is {totalCount, items, links, attributes: {objectType:
    Collection}}; get-a-list-of-customers (`size`), get-all-of-a-customer-s-subscriptions (offerId, offerName,
    quantity, status, attributes.objectType Subscription)."""
    http, h = pc
    customers = http.get(f"{API}/v1/customers", headers=h, params={"size": 1}).json()
    assert customers["attributes"] == {"objectType": "Collection"} and customers["totalCount"] == 1
    subs = http.get(f"{API}/v1/customers/{CUSTOMER}/subscriptions", headers=h)
    assert subs.status_code == 200
    body = subs.json()
    assert body["attributes"]["objectType"] == "Collection" and body["totalCount"] == len(body["items"]) == 3
    assert {(s["offerName"], s["status"]) for s in body["items"]} == {
        ("Azure plan", "active"),
        ("Microsoft 365 Business Premium", "active"),
        ("Microsoft Defender for Office 365 (Plan 1)", "suspended"),
    }
    assert all(s["attributes"]["objectType"] == "Subscription" and s["offerId"] for s in body["items"])


def test_the_usage_budget_is_read_and_set_with_the_whole_resource(pc):
    """get-a-customer-s-usage-spending-budget / update-a-customer-s-usage-spending-budget: GET and PATCH
    /v1/customers/{id}/usagebudget; the request body is the full SpendingBudget (the docs' example capitalises its
    names), the answer the updated resource."""
    http, h = pc
    url = f"{API}/v1/customers/{CUSTOMER}/usagebudget"
    assert http.get(url, headers=h).json() == {"amount": 3000.0, "attributes": {"objectType": "SpendingBudget"}}
    resp = http.patch(url, headers=h, json={"Amount": 4500, "Attributes": {"ObjectType": "SpendingBudget"}})
    assert resp.status_code == 200 and resp.json()["amount"] == 4500
    assert http.get(url, headers=h).json()["amount"] == 4500
    assert http.patch(url, headers=h, json={"amount": 0}).json()["amount"] == 0  # zero is a budget, not a refusal


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"amount": -1, "attributes": {"objectType": "SpendingBudget"}}, 3000),
        ({"amount": "lots"}, 3000),
        ({"amount": True}, 3000),
        ({"attributes": {"objectType": "SpendingBudget"}}, 3000),
        ([4500], 800002),
    ],
)
def test_an_amount_partner_center_does_not_take_is_400_and_changes_nothing(pc, body, code):
    """The REST reference (Set customer usage budget): 400 "There was a missing or an invalid input"; error-codes:
    400 with code 3000 "Invalid property" (a negative or non-numeric amount; the rule is inferred) or 800002 "Invalid
    request input" (not an object)."""
    http, h = pc
    url = f"{API}/v1/customers/{CUSTOMER}/usagebudget"
    resp = http.patch(url, headers=h, json=body)
    assert resp.status_code == 400
    err = resp.json()
    assert err["code"] == code and err["description"] and err["isRetryable"] is False and "errorName" in err
    assert http.get(url, headers=h).json()["amount"] == 3000


def test_an_unknown_customer_is_404_tenant_not_found(pc):
    """error-codes: 404 code 60003 "Tenant not found" (the customer id is its tenant id), on every route."""
    http, h = pc
    for tail in ("", "/subscriptions", "/usagebudget", "/agreements"):
        resp = http.get(f"{API}/v1/customers/{UNKNOWN}{tail}", headers=h)
        assert resp.status_code == 404, tail
        assert resp.json()["code"] == 60003 and resp.json()["description"].startswith("Tenant not found")
    assert http.patch(f"{API}/v1/customers/{UNKNOWN}/usagebudget", headers=h, json={"amount": 1}).status_code == 404


def test_without_a_token_or_with_one_of_another_audience_or_tenant_it_is_401(sandbox, pc):
    """partner-center-authentication: the token must be issued in the partner's tenant for
    https://api.partnercenter.microsoft.com; error-codes: 401 800001 "Partner Token missing in request context", 400
    "Access denied", with `WWW-Authenticate: OAuth realm=urn:cpsvc:cpid:...`."""
    http, _ = pc
    url = f"{API}/v1/customers/{CUSTOMER}"
    none = http.get(url)
    assert none.status_code == 401 and none.json()["code"] == 800001
    assert none.headers["WWW-Authenticate"].startswith("OAuth realm=urn:cpsvc:cpid:")
    arm = _token(sandbox, scope="https://management.azure.com/.default")  # the MSP's tenant, ARM's audience
    customer_tenant = _token(sandbox, msp=False)  # Partner Center's audience, the customer's tenant
    expired = sandbox.sandbox.app.tokens.issue(
        sandbox.conn.client_id, "x", "https://api.partnercenter.microsoft.com", "x", sandbox.conn.msp_tenant_id, -60
    )
    for token, says in ((arm, "another audience"), (customer_tenant, "not the partner's tenant"), (expired, "expired")):
        resp = http.get(url, headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 401 and resp.json()["code"] == 400 and says in resp.json()["description"], says
    assert http.get(url, headers={"Authorization": "Bearer not-a-token"}).status_code == 401


def test_an_app_not_registered_in_partner_center_is_403_access_denied(sandbox, pc):
    """error-codes: 403 code 2032 "Access denied"; an app of the partner's tenant that Partner Center's App management
    does not list has no access (the REST reference: 403 "the caller does not have the rights to invoke it")."""
    http, _ = pc
    client_id, secret, _ = sandbox.add_principal("Another MSP app")
    token = _token(sandbox, client_id, secret)
    resp = http.get(f"{API}/v1/customers/{CUSTOMER}", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403 and resp.json() == {
        "code": 2032,
        "description": "Access denied",
        "errorName": "AccessDenied",
        "isRetryable": False,
        "parameters": {},
        "errorMessageExtended": "InternalErrorCode=2032",
    }


def test_agreements_are_refused_to_an_app_only_token_and_read_where_allowed(sandbox, pc):
    """get-confirmation-of-customer-agreement: "This scenario only supports App+User authentication" (app-only:
    403, the message of Partner-Center-SDK-Samples#14); get-agreements: agreementType filters, the default is the
    Microsoft Cloud Agreement; agreement-resources: type, dateAgreed, templateId, primaryContact, agreementLink."""
    http, h = pc
    url = f"{API}/v1/customers/{CUSTOMER}/agreements"
    refused = http.get(url, headers=h, params={"agreementType": MCA})
    assert refused.status_code == 403
    assert refused.json()["description"] == (
        "The supplied role does not have the rights to perform the requested operation."
    )
    sandbox.admin("PUT", "/_sandbox/services/partner_center", {"agreements_app_only": True})
    body = http.get(url, headers=h, params={"agreementType": MCA}).json()
    assert body["attributes"]["objectType"] == "Collection" and body["totalCount"] == 1
    (agreement,) = body["items"]
    assert agreement["type"] == MCA and agreement["dateAgreed"].startswith("2026-11-18")
    assert {"templateId", "primaryContact", "agreementLink", "userId"} <= set(agreement)
    assert http.get(url, headers=h).json()["totalCount"] == 0  # default: Microsoft Cloud Agreement, none here
    assert http.get(url, headers=h, params={"agreementType": "*"}).json()["totalCount"] == 1


def test_the_connector_reads_the_customer_its_subscriptions_agreements_and_budget(sandbox, connector):
    assert "the app's token is accepted at https://api.partnercenter.sandbox.test" in connector.reachable()
    customer = connector.customer(CUSTOMER)
    assert (customer.name, customer.relationship_to_partner) == ("Contoso Demo BV", "reseller")
    subs = connector.subscriptions(CUSTOMER)
    assert [s.offer for s in subs if s.active] == ["Azure plan", "Microsoft 365 Business Premium"]
    refused = connector.agreements(CUSTOMER)
    assert refused.items == () and "Partner Center: cannot read the MicrosoftCustomerAgreement" in refused.refused
    sandbox.admin("PUT", "/_sandbox/services/partner_center", {"agreements_app_only": True})
    (mca,) = connector.agreements(CUSTOMER).items
    assert (mca.type, mca.date_agreed[:10]) == (MCA, "2026-11-18")
    assert connector.usage_budget(CUSTOMER).amount == 3000
    assert connector.set_usage_budget(CUSTOMER, 4500).amount == 4500
    assert sandbox.service("partner_center").customers[CUSTOMER]["budget"] == 4500


def test_the_connector_names_an_unknown_customer_an_unregistered_app_a_refused_amount_and_no_answer(sandbox, pc):
    """404 -> ConnectorNotFound with the fix given; 403 -> the app to register and where; 400 -> the amount to fix;
    nothing answering -> the URL and the setting to check; each one line."""
    http, _ = pc
    right = PartnerCenter(http, API, lambda: _token(sandbox))
    with pytest.raises(ConnectorNotFound) as missing:
        right.customer(UNKNOWN, fix="check tenant_id")
    assert "404 60003 TenantNotFound: Tenant not found" in str(missing.value)
    assert str(missing.value).endswith("Fix: check tenant_id")
    client_id, secret, _ = sandbox.add_principal("Unregistered app")
    other = PartnerCenter(http, API, lambda: _token(sandbox, client_id, secret))
    with pytest.raises(ConnectorCredentialError) as refused:
        other.customer(CUSTOMER)
    text = str(refused.value)
    assert text.startswith(f"Partner Center: cannot read customer {CUSTOMER}: it refused the app's token (403 2032")
    assert "App management" in text and "msp.connectors.partner_center.client_secret" in text and "\n" not in text
    with pytest.raises(ConnectorInputError) as amount:
        right.set_usage_budget(CUSTOMER, -5)
    assert "it refused the amount (400 3000 InvalidProperty" in str(amount.value)
    assert "Fix: give budget.amount" in str(amount.value)
    with httpx.Client(timeout=2) as plain, pytest.raises(ConnectorUnreachable) as gone:
        PartnerCenter(plain, "https://api.partnercenter.invalid", lambda: "x").reachable()
    assert "cannot be reached" in str(gone.value) and "msp.connectors.partner_center.url" in str(gone.value)


def test_a_connector_that_names_no_write_may_not_write(sandbox, pc):
    """Connectors read; only one that names what it writes (`writes`: Partner Center's usage budget) may PATCH."""
    http, _ = pc
    with pytest.raises(AssertionError, match="only reads"):
        HubSpot(http, "https://api.hubapi.sandbox.test", lambda: "x").call("PATCH", "/crm/v3/x", "write")
    assert PartnerCenter.writes
