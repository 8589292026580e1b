"""The TOPdesk stand-in (`https://intercept.topdesk.sandbox.test/tas/api/`), raw on the wire and through the
runbook's connector, positive and negative.

Sources, per test: developers.topdesk.com, the API explorer's "Supporting files" page (GET /persons with `query`
in FIQL, `start`, `page_size` of 1 to 100, answered 200, 206 Partial Content while more persons follow, 204 No
Content; GET /branches/id/{id}; GET /operators/current) and "Asset Management" page (GET /assetmgmt/assets with
templateName, linkedTo, fields, archived, pageStart, pageSize up to 1000; the media type
application/x.topdesk-am-assets-v2+json; `{columns, dataSet}`), TOPdesk's "API access" documentation (the operator's
login name and an application password, Basic authentication); open clients that record the shapes:
AndrewPla/TOPdeskPS (functions/Supporting Files/Get-TdPerson.ps1: the start/page_size loop; Get-TdBranchDetail.ps1:
branches/id/{id}; Get-TdLoggedInOperator.ps1: operators/current; functions/Asset Management/Get-TdAsset.ps1:
templateName and `dataSet`), Tools4everBV/HelloID-Conn-Prov-Target-Topdesk (create.ps1: persons?query=<field>=='...'),
rbury/TopDeskClient (Get-Asset: assets?linkedTo=<type>/<id>&fields=...). TOPdesk has no public contracts endpoint, so
an SLA contract is an asset of an agreed template linked to the branch. Texts no source gives are marked "inferred"
in the stand-in.
"""

from __future__ import annotations

from datetime import date

import pytest

from runbook.adapters.connectors import Topdesk
from runbook.adapters.connectors.topdesk import ASSETS_V2, SlaFields
from runbook.errors import ConnectorCredentialError, ConnectorNotFound

URL = "https://intercept.topdesk.sandbox.test"
API = f"{URL}/tas/api"
BRANCH = "3f2a6c1e-8d4b-4c57-9e21-5b7d0a9c4e11"
OTHER_BRANCH = "7b1d9e4a-2c6f-4a83-b5e0-9d8c7f6a5b41"


@pytest.fixture
def td(sandbox):
    clients = sandbox.clients()
    yield clients.http(), ("runbook-api", sandbox.service_secret("topdesk-application-password"))
    clients.close()


@pytest.fixture
def connector(sandbox, td):
    http, (login, password) = td
    return Topdesk(http, URL, lambda: password, login=login)


def test_the_persons_of_a_branch_are_paged_206_then_200_then_204(td):
    """Supporting files, GET /persons: a JSON array; 206 while more follow, 200 for the last page, 204 when the page
    is empty (TOPdeskPS Get-TdPerson pages with start/page_size the same way)."""
    http, auth = td
    q = {"query": f"branch.id=={BRANCH}", "page_size": 2}
    first = http.get(f"{API}/persons", params={**q, "start": 0}, auth=auth)
    assert first.status_code == 206 and isinstance(first.json(), list) and len(first.json()) == 2
    person = first.json()[0]
    assert {"id", "firstName", "surName", "dynamicName", "email", "branch"} <= set(person)
    assert person["branch"] == {"id": BRANCH, "name": "Contoso Demo BV"}
    last = http.get(f"{API}/persons", params={**q, "start": 2}, auth=auth)
    assert last.status_code == 200 and [p["surName"] for p in last.json()] == ["Reception"]
    beyond = http.get(f"{API}/persons", params={**q, "start": 4}, auth=auth)
    assert beyond.status_code == 204 and beyond.content == b""


def test_fiql_selects_by_field_and_archived_persons_only_when_asked(td):
    """FIQL `query` (==, `;` and `,`, quoted values, `*` wildcards); archived persons are left out unless
    archived=true (Supporting files, GET /persons `archived`)."""
    http, auth = td
    one = http.get(f"{API}/persons", params={"query": "email=='dana@contoso-demo.example';surName==Dir*"}, auth=auth)
    assert one.status_code == 200 and {p["branch"]["name"] for p in one.json()} == {
        "Contoso Demo BV",
        "Contoso Demo BV (Premium)",
    }
    either = http.get(f"{API}/persons", params={"query": f"branch.id=={OTHER_BRANCH},surName==Operator"}, auth=auth)
    assert sorted(p["surName"] for p in either.json()) == ["Fabrikam", "Operator", "Operator"]
    active = http.get(f"{API}/persons", params={"query": f"branch.id=={BRANCH}", "page_size": 100}, auth=auth)
    assert "Oldhand" not in [p["surName"] for p in active.json()]
    everyone = http.get(
        f"{API}/persons", params={"query": f"branch.id=={BRANCH}", "page_size": 100, "archived": "true"}, auth=auth
    )
    assert [p["archived"] for p in everyone.json() if p["surName"] == "Oldhand"] == [True]


def test_a_bad_page_size_or_query_is_400_with_topdesks_error_body(td):
    """page_size must be 1-100 (Supporting files); a query on an unknown field or outside FIQL is refused; TOPdesk's
    errors are `[{"message": ...}]` (wording inferred)."""
    http, auth = td
    for params in ({"page_size": 101}, {"page_size": 0}, {"query": "shoeSize==42"}, {"query": "branch.id"}):
        resp = http.get(f"{API}/persons", params=params, auth=auth)
        assert resp.status_code == 400, params
        assert isinstance(resp.json(), list) and resp.json()[0]["message"], params


def test_a_branch_is_read_by_id_and_an_unknown_one_is_404(td):
    """Supporting files, GET /branches/id/{id} (TOPdeskPS Get-TdBranchDetail); 404 `[{"message"}]` for an id TOPdesk
    has no branch of (wording inferred)."""
    http, auth = td
    branch = http.get(f"{API}/branches/id/{BRANCH}", auth=auth)
    assert branch.status_code == 200 and branch.json()["name"] == "Contoso Demo BV"
    assert branch.json()["clientReferenceNumber"] == "C-0042"
    unknown = http.get(f"{API}/branches/id/00000000-0000-0000-0000-000000000001", auth=auth)
    assert unknown.status_code == 404 and "No branch found" in unknown.json()[0]["message"]


def test_no_login_or_a_wrong_application_password_is_401_basic(td):
    """API access: Basic authentication with the operator's login name and an application password; a missing or
    refused one is 401 with a Basic challenge (the empty body is inferred)."""
    http, (login, _) = td
    for auth in (None, (login, "wrong-password"), ("nobody", "x")):
        resp = http.get(f"{API}/operators/current", auth=auth)
        assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == 'Basic realm="TOPdesk"'


def test_an_operator_without_asset_management_is_403(sandbox, td):
    """An operator's permissions decide what the API gives it (API access: the operator needs the module's read
    permission); the 403 wording is inferred."""
    http, auth = td
    sandbox.service("topdesk").operators["runbook-api"]["permissions"] = {"persons", "branches"}
    resp = http.get(f"{API}/assetmgmt/assets", params={"templateName": "Service Level Agreement"}, auth=auth)
    assert resp.status_code == 403 and resp.json()[0]["message"]
    assert http.get(f"{API}/persons", params={"page_size": 1}, auth=auth).status_code == 206


def test_sla_assets_of_a_template_linked_to_a_branch_with_their_fields(td):
    """Asset Management, GET /assetmgmt/assets: templateName (case-sensitive), linkedTo=<type>/<id> (rbury/
    TopDeskClient Get-Asset), fields, the v2 media type; `{columns, dataSet}` with each asset's unid, name, archived
    and the fields asked for; pageStart/pageSize paging answered 206 while more follow."""
    http, auth = td
    params = {
        "templateName": "Service Level Agreement",
        "linkedTo": f"branch/{BRANCH}",
        "fields": "name,service-level,start-date,end-date",
    }
    resp = http.get(f"{API}/assetmgmt/assets", params=params, headers={"Accept": ASSETS_V2}, auth=auth)
    assert resp.status_code == 200
    body = resp.json()
    assert [c["fieldName"] for c in body["columns"]] == ["unid", "name", "service-level", "start-date", "end-date"]
    assert [(a["name"], a["archived"], a["service-level"]) for a in body["dataSet"]] == [
        ("SLA-2026-0042", False, "Full Stack"),
        ("SLA-2023-0017", True, "CSP"),
    ]
    assert body["dataSet"][0]["start-date"] == "2026-11-16T00:00:00.000+0000" and body["dataSet"][0]["unid"]
    paged = http.get(
        f"{API}/assetmgmt/assets", params={**params, "pageSize": 1}, headers={"Accept": ASSETS_V2}, auth=auth
    )
    assert paged.status_code == 206 and len(paged.json()["dataSet"]) == 1
    lower = http.get(f"{API}/assetmgmt/assets", params={**params, "templateName": "service level agreement"}, auth=auth)
    assert lower.json()["dataSet"] == []


def test_assets_refuse_a_bad_page_size_link_or_media_type(td):
    """pageSize at most 1000 (Asset Management); linkedTo is <type>/<id>; the API answers the assets media types
    (406 for another; wording inferred)."""
    http, auth = td
    url = f"{API}/assetmgmt/assets"
    assert http.get(url, params={"pageSize": 1001}, auth=auth).status_code == 400
    assert http.get(url, params={"linkedTo": "planet/mars"}, auth=auth).status_code == 400
    assert http.get(url, headers={"Accept": "text/csv"}, auth=auth).status_code == 406


def test_the_connector_reads_the_branch_its_persons_over_pages_and_its_sla(sandbox, connector):
    """The reads s2-topdesk-contacts and s2-topdesk-sla make, typed; persons over pages of 100 (206, then 200)."""
    service = sandbox.service("topdesk")
    for i in range(150):
        service.add_person({"firstName": "Temp", "surName": f"Worker {i:03d}", "branch": OTHER_BRANCH})
    assert connector.branch(BRANCH).name == "Contoso Demo BV"
    persons = connector.persons(BRANCH)
    assert [p.name for p in persons] == ["Dana Director", "Olaf Operator", "Rita Reception"]
    assert persons[0].email == "dana@contoso-demo.example" and persons[2].email == ""
    assert len(connector.persons(OTHER_BRANCH)) == 151
    slas = connector.sla_assets(BRANCH, SlaFields())
    assert [(s.reference, s.service_level, s.start, s.end, s.archived) for s in slas] == [
        ("SLA-2026-0042", "Full Stack", date(2026, 11, 16), date(2029, 11, 15), False),
        ("SLA-2023-0017", "CSP", date(2023, 11, 16), date(2026, 11, 15), True),
    ]
    assert slas[0].active_on(date(2027, 1, 1)) and not slas[1].active_on(date(2025, 1, 1))
    assert "operator Intercept Runbook (API) is signed in" in connector.reachable()


def test_the_connector_names_a_refused_password_and_an_unknown_branch(td):
    """401 -> one line naming TOPdesk, the application password and how to make one; 404 -> the id and the fix."""
    http, (login, password) = td
    wrong = Topdesk(http, URL, lambda: "wrong", login=login)
    with pytest.raises(ConnectorCredentialError) as refused:
        wrong.reachable()
    text = str(refused.value)
    assert (
        text.startswith("TOPdesk: cannot read the logged-in operator")
        and "refused the application password (401" in text
    )
    assert "msp.connectors.topdesk.application_password" in text and "\n" not in text
    right = Topdesk(http, URL, lambda: password, login=login)
    with pytest.raises(ConnectorNotFound) as missing:
        right.branch("00000000-0000-0000-0000-000000000001", fix="set topdesk.branch_id")
    assert "404 No branch found" in str(missing.value) and str(missing.value).endswith("Fix: set topdesk.branch_id")
