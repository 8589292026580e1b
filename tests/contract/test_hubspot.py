"""The HubSpot stand-in (`https://api.hubapi.sandbox.test`), raw on the wire and through the runbook's connector,
positive and negative.

Sources, per test: HubSpot's published OpenAPI specs, HubSpot/HubSpot-public-api-spec-collection
(PublicApiSpecs/CRM/Companies/Rollouts/424/v3/companies.json, .../Contacts/Rollouts/424/v3/contacts.json,
.../Associations/Rollouts/130902/v4/associations.json: routes, parameters, response schemas, the Error schema);
developers.hubspot.com "API usage guidelines and limits" (private apps: 190 requests per 10 s; the
X-HubSpot-RateLimit-Interval-Milliseconds, -Max, -Remaining, -Daily, -Daily-Remaining headers; the 429 body with
errorType RATE_LIMIT and policyName) and the CRM objects guide, "Error handling" (the 403 MISSING_SCOPES body;
"Object API batch endpoints are limited to 100 inputs per request"); the associations v4 guide (company to contact:
type 280 unlabeled, 2 primary); HubSpot/hubspot-api-nodejs#432 and #148 (a real 401 INVALID_AUTHENTICATION body).
Texts no first-party source gives are marked "inferred" in the stand-in.
"""

from __future__ import annotations

import time
import urllib.error

import httpx
import pytest

from runbook.adapters.connectors import HubSpot
from runbook.errors import ConnectorCredentialError, ConnectorNotFound, ConnectorThrottled, ConnectorUnreachable

API = "https://api.hubapi.sandbox.test"
COMPANY = "9431077120"


@pytest.fixture
def hs(sandbox):
    clients = sandbox.clients()
    yield clients.http(), {"Authorization": f"Bearer {sandbox.service_secret('hubspot-token')}"}
    clients.close()


@pytest.fixture
def connector(sandbox, hs):
    http, _ = hs
    return HubSpot(http, API, lambda: sandbox.service_secret("hubspot-token"))


def test_a_company_is_read_by_id_as_a_simple_public_object(hs):
    """companies.json get-/crm/v3/objects/companies/{companyId}_getById: 200 SimplePublicObjectWithAssociations
    (required: archived, createdAt, id, properties, updatedAt); `properties` names what is returned."""
    http, h = hs
    resp = http.get(f"{API}/crm/v3/objects/companies/{COMPANY}", headers=h, params={"properties": "name,domain"})
    assert resp.status_code == 200
    body = resp.json()
    assert {"archived", "createdAt", "id", "properties", "updatedAt"} <= set(body)
    assert body["id"] == COMPANY and body["archived"] is False
    assert body["properties"]["name"] == "Contoso Demo BV" and body["properties"]["domain"] == "contoso-demo.example"
    assert body["properties"]["hs_object_id"] == COMPANY


def test_an_unknown_company_is_404_object_not_found(hs):
    """The spec's `default` Error response (required category, correlationId, message); the message as HubSpot's
    answers word it ("Object not found.  objectId are usually numeric.", context id)."""
    http, h = hs
    resp = http.get(f"{API}/crm/v3/objects/companies/123", headers=h)
    assert resp.status_code == 404
    body = resp.json()
    assert body["category"] == "OBJECT_NOT_FOUND" and body["status"] == "error" and body["correlationId"]
    assert body["message"] == "Object not found.  objectId are usually numeric." and body["context"] == {"id": ["123"]}


def test_no_token_or_a_wrong_one_is_401_invalid_authentication(hs):
    """HubSpot/hubspot-api-nodejs#432: 401 {"status":"error","message":"Authentication credentials not found. ...",
    "correlationId", "category":"INVALID_AUTHENTICATION"}; no rate-limit headers on it."""
    http, _ = hs
    for headers in ({}, {"Authorization": "Bearer pat-eu1-00000000-0000-0000-0000-000000000000"}):
        resp = http.get(f"{API}/crm/v3/objects/companies/{COMPANY}", headers=headers)
        assert resp.status_code == 401
        body = resp.json()
        assert body["category"] == "INVALID_AUTHENTICATION" and body["status"] == "error"
        assert body["message"].startswith("Authentication credentials not found.")
        assert "X-HubSpot-RateLimit-Max" not in resp.headers


def test_a_token_without_the_contacts_scope_is_403_missing_scopes(sandbox, hs):
    """CRM objects guide, Error handling: 403 MISSING_SCOPES with errors[].context.requiredGranularScopes and
    links.scopes; contacts.json: batch/read needs crm.objects.contacts.read."""
    http, _ = hs
    service = sandbox.service("hubspot")
    service.tokens["pat-eu1-companies-only"] = {"app_id": 4100002, "scopes": {"crm.objects.companies.read"}}
    h = {"Authorization": "Bearer pat-eu1-companies-only"}
    assert http.get(f"{API}/crm/v3/objects/companies/{COMPANY}", headers=h).status_code == 200
    resp = http.post(f"{API}/crm/v3/objects/contacts/batch/read", headers=h, json={"inputs": [{"id": "51201"}]})
    assert resp.status_code == 403
    body = resp.json()
    assert body["category"] == "MISSING_SCOPES" and body["links"] == {"scopes": "https://developers.hubspot.com/scopes"}
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.contacts.read"]


def test_a_companys_contacts_are_listed_with_their_association_types_and_paged(hs):
    """associations.json get-/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}_getPage: results of
    MultiAssociatedObjectWithLabel (toObjectId, associationTypes[category, typeId, label]), paging.next.after; the
    associations v4 guide: company to contact 280 (unlabeled), 2 (primary)."""
    http, h = hs
    first = http.get(f"{API}/crm/v4/objects/companies/{COMPANY}/associations/contacts", headers=h, params={"limit": 2})
    assert first.status_code == 200
    page = first.json()
    assert [r["toObjectId"] for r in page["results"]] == ["51201", "51202"]
    dana = page["results"][0]["associationTypes"]
    assert {"category": "HUBSPOT_DEFINED", "typeId": 280, "label": None} in dana
    assert any(t["typeId"] == 2 for t in dana) and any(t["label"] == "IT manager" for t in dana)
    after = page["paging"]["next"]["after"]
    rest = http.get(
        f"{API}/crm/v4/objects/companies/{COMPANY}/associations/contacts", headers=h, params={"after": after}
    ).json()
    assert [r["toObjectId"] for r in rest["results"]] == ["51203"] and "paging" not in rest
    assert http.get(f"{API}/crm/v4/objects/companies/{COMPANY}/associations/widgets", headers=h).status_code == 400


def test_contacts_are_read_in_a_batch_and_unknown_ids_make_it_207(hs):
    """contacts.json post-/crm/v3/objects/contacts/batch/read_read: 200 BatchResponseSimplePublicObject (status,
    results, startedAt, completedAt), 207 BatchResponseSimplePublicObjectWithErrors (errors, numErrors)."""
    http, h = hs
    props = ["firstname", "lastname", "email", "jobtitle"]
    ok = http.post(
        f"{API}/crm/v3/objects/contacts/batch/read",
        headers=h,
        json={"inputs": [{"id": "51201"}, {"id": "51202"}], "properties": props, "propertiesWithHistory": []},
    )
    assert ok.status_code == 200
    body = ok.json()
    assert body["status"] == "COMPLETE" and {"startedAt", "completedAt"} <= set(body)
    assert [(r["id"], r["properties"]["lastname"]) for r in body["results"]] == [
        ("51201", "Director"),
        ("51202", "Operator"),
    ]
    partial = http.post(
        f"{API}/crm/v3/objects/contacts/batch/read", headers=h, json={"inputs": [{"id": "51201"}, {"id": "9"}]}
    )
    assert partial.status_code == 207
    assert partial.json()["numErrors"] == 1 and partial.json()["errors"][0]["context"] == {"ids": ["9"]}


def test_a_batch_of_more_than_100_or_without_inputs_is_400_validation_error(hs):
    """CRM objects guide: "Object API batch endpoints are limited to 100 inputs per request"; the spec requires
    `inputs` (wording of both answers inferred)."""
    http, h = hs
    big = http.post(
        f"{API}/crm/v3/objects/contacts/batch/read", headers=h, json={"inputs": [{"id": str(i)} for i in range(101)]}
    )
    assert big.status_code == 400 and big.json()["category"] == "VALIDATION_ERROR"
    empty = http.post(f"{API}/crm/v3/objects/contacts/batch/read", headers=h, json={"properties": ["email"]})
    assert empty.status_code == 400 and empty.json()["category"] == "VALIDATION_ERROR"


def test_the_rolling_limit_answers_429_with_its_headers_until_the_window_passes(sandbox, hs):
    """Usage guidelines: every answer carries X-HubSpot-RateLimit-*; past the limit 429 {"status":"error",
    "message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT",
    "policyName":"TEN_SECONDLY_ROLLING"}; the window is rolling."""
    http, h = hs
    sandbox.admin("PUT", "/_sandbox/services/hubspot", {"max": 2, "interval_ms": 400})
    url = f"{API}/crm/v3/objects/companies/{COMPANY}"
    first = http.get(url, headers=h)
    assert first.headers["X-HubSpot-RateLimit-Max"] == "2" and first.headers["X-HubSpot-RateLimit-Remaining"] == "1"
    assert first.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "400"
    assert "X-HubSpot-RateLimit-Daily" in first.headers and "X-HubSpot-RateLimit-Daily-Remaining" in first.headers
    assert http.get(url, headers=h).status_code == 200
    throttled = http.get(url, headers=h)
    assert throttled.status_code == 429 and "Retry-After" not in throttled.headers
    body = throttled.json()
    assert body["errorType"] == "RATE_LIMIT" and body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert throttled.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    time.sleep(0.45)
    assert http.get(url, headers=h).status_code == 200
    with pytest.raises(urllib.error.HTTPError):  # an unknown switch is refused
        sandbox.admin("PUT", "/_sandbox/services/hubspot", {"maximum": 2})


def test_the_connector_reads_the_company_and_its_contacts(connector):
    """The three reads s2-hubspot-contacts makes (companies getById, associations v4 getPage, contacts batch read),
    typed: names, e-mail (kept in memory), job title, association labels, primary."""
    company = connector.company(COMPANY)
    assert (company.id, company.name) == (COMPANY, "Contoso Demo BV")
    contacts = connector.company_contacts(COMPANY)
    assert [(c.name, c.labels, c.primary) for c in contacts] == [
        ("Dana Director", ("IT manager",), True),
        ("Olaf Operator", ("Operations",), False),
        ("Frank Finance", ("Billing",), False),
    ]
    assert contacts[0].email == "dana@contoso-demo.example" and contacts[2].job_title == "Controller"
    assert "companies readable" in connector.reachable() and "rate limit 190 per 10 s" in connector.reachable()


def test_properties_as_an_exploded_array_or_comma_separated_read_the_same(hs):
    """companies.json getById: `properties` is an array query parameter (`explode: true`), which HubSpot's generated
    client sends as `properties=name&properties=domain`; HubSpot also takes `properties=name,domain`."""
    http, h = hs
    url = f"{API}/crm/v3/objects/companies/{COMPANY}"
    exploded = http.get(url, params=[("properties", "name"), ("properties", "domain")], headers=h).json()
    joined = http.get(url, params={"properties": "name,domain"}, headers=h).json()
    assert exploded["properties"]["name"] == joined["properties"]["name"] == "Contoso Demo BV"
    assert exploded["properties"].keys() == joined["properties"].keys() and "domain" in exploded["properties"]


def test_the_connector_calls_hubspot_through_hubspots_own_client(sandbox):
    """The reads go through `hubspot-api-client` (its User-Agent on every request), over the runbook's httpx client."""
    agents: list[str] = []
    clients = sandbox.clients()
    http = clients.http()
    http.event_hooks["request"].append(lambda request: agents.append(request.headers.get("user-agent", "")))
    try:
        HubSpot(http, API, lambda: sandbox.service_secret("hubspot-token")).company_contacts(COMPANY)
    finally:
        clients.close()
    assert len(agents) == 2 and all(a.startswith("hubspot-api-client-python; 12.") for a in agents)


def test_the_connector_names_a_refused_token_an_unknown_company_and_no_answer(sandbox, hs):
    """401 -> one line naming HubSpot, the token and the scopes to grant; 404 -> the id and the fix given; nothing
    answering -> the URL and the setting to check."""
    http, _ = hs
    wrong = HubSpot(http, API, lambda: "pat-eu1-00000000-0000-0000-0000-000000000000")
    with pytest.raises(ConnectorCredentialError) as refused:
        wrong.company(COMPANY)
    text = str(refused.value)
    assert text.startswith("HubSpot: cannot read company 9431077120: it refused the private app token (401")
    assert "crm.objects.companies.read" in text and "msp.connectors.hubspot.token" in text and "\n" not in text
    right = HubSpot(http, API, lambda: sandbox.service_secret("hubspot-token"))
    with pytest.raises(ConnectorNotFound) as missing:
        right.company("123", fix="set crm.hubspot_company_id")
    assert "404 OBJECT_NOT_FOUND" in str(missing.value) and str(missing.value).endswith(
        "Fix: set crm.hubspot_company_id"
    )
    with httpx.Client(timeout=2) as plain, pytest.raises(ConnectorUnreachable) as gone:
        HubSpot(plain, "https://api.hubapi.invalid", lambda: "x").reachable()
    assert "https://api.hubapi.invalid cannot be reached" in str(gone.value) and "msp.connectors.hubspot.url" in str(
        gone.value
    )


def test_the_connector_waits_out_the_rolling_window_and_honours_retry_after(sandbox, hs):
    """Usage guidelines: a 429 of the ten-second policy lifts when the window (X-HubSpot-RateLimit-Interval-
    Milliseconds) has passed; a Retry-After is used when HubSpot sends one."""
    http, _ = hs
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    c = HubSpot(http, API, lambda: sandbox.service_secret("hubspot-token"), sleep=sleep)
    sandbox.admin("PUT", "/_sandbox/services/hubspot", {"max": 1, "interval_ms": 300})
    c.company(COMPANY)
    c.company(COMPANY)  # the second waits one window
    assert waits == [0.3]
    sandbox.admin("PUT", "/_sandbox/services/hubspot", {"retry_after": True})
    c.company(COMPANY)
    c.company(COMPANY)
    assert len(waits) == 2 and 0 < waits[1] <= 0.3  # what Retry-After said: the rest of the window
    assert sandbox.stats()["hubspot_calls"] >= 6


def test_the_connector_gives_up_on_the_daily_limit_and_on_a_long_window(sandbox, hs):
    """A DAILY 429 is not waited for; a window longer than the connector waits (30 s) is reported, not slept."""
    http, _ = hs
    waits: list[float] = []
    c = HubSpot(http, API, lambda: sandbox.service_secret("hubspot-token"), sleep=waits.append)
    sandbox.admin("PUT", "/_sandbox/services/hubspot", {"max": 1, "interval_ms": 60_000})
    c.company(COMPANY)
    with pytest.raises(ConnectorThrottled) as long_window:
        c.company(COMPANY)
    assert "TEN_SECONDLY_ROLLING" in str(long_window.value) and waits == []
    sandbox.admin("PUT", "/_sandbox/services/hubspot", {"max": 190, "interval_ms": 10_000, "daily": 0})
    with pytest.raises(ConnectorThrottled) as daily:
        c.company(COMPANY)
    assert "[DAILY]" in str(daily.value) and "after 1 attempt(s)" in str(daily.value) and waits == []
