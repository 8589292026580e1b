"""The Passwordstate stand-in (`https://passwordstate.sandbox.test/api/`), positive and negative, raw on the wire.

No OpenAPI spec is published; sources, per test: the vendor's API pages (clickstudios.com.au/api: APIKey header,
per-list and system-wide keys), dnewsholme/PasswordState-Management (PSM: routes; the error body
`[{"errors": [{"message"}, {"phrase"}]}]`; 404 "A Password of ID '999' was not found in the database, or you do not
have permissions to it." in tests/functions/Get-PasswordStatePasswordHistory.Tests.ps1), ananace/ruby-passwordstate
(test/fixtures/get_password.json: PasswordListID a string in password objects, an integer in list objects; POST and
PUT answer an array with the record), Nilsas/passwordstate-sdk-go sdk/secret/client.go (POST 201, DELETE 204),
ananace/foreman_passwordstate (a search that finds nothing is a 404), dnewsholme/PasswordState-Management#142 (a real
401 "No Authorization"). Wording no source confirms is marked inferred in the stand-in's module.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

API = "https://passwordstate.sandbox.test/api"


@pytest.fixture
def ps(sandbox):
    conn = json.loads(sandbox.connection_file.read_text())
    keys = {name: Path(path).read_text() for name, path in conn["passwordstate_keys"].items()}
    clients = sandbox.clients()
    yield clients.http(), keys
    clients.close()


def errors_of(resp, status: int) -> list[dict]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert isinstance(body, list) and list(body[0]) == ["errors"], resp.text
    return body[0]["errors"]


def test_a_password_is_added_found_read_updated_and_deleted(ps):
    """PSM New-/Get-/Set-/Remove-PasswordStatePassword; ruby-passwordstate fixtures; passwordstate-sdk-go 201/204."""
    http, keys = ps
    h = {"APIKey": keys["7"]}
    added = http.post(f"{API}/passwords", headers=h, json={"PasswordListID": 7, "Title": "app", "Password": "p1"})
    assert added.status_code == 201
    (rec,) = added.json()
    assert rec["PasswordListID"] == "7" and rec["Title"] == "app" and isinstance(rec["PasswordID"], int)
    pid = rec["PasswordID"]
    found = http.get(f"{API}/searchpasswords/7", headers=h, params={"Title": '"app"', "ExcludePassword": "true"})
    assert [r["PasswordID"] for r in found.json()] == [pid] and found.json()[0]["Password"] == ""
    assert http.get(f"{API}/passwords/{pid}", headers=h).json()[0]["Password"] == "p1"
    updated = http.put(f"{API}/passwords", headers=h, json={"PasswordID": pid, "Password": "p2"})
    assert updated.status_code == 200 and updated.json()[0]["Password"] == "p2"
    listed = http.get(f"{API}/passwords/7", headers=h, params={"QueryAll": ""})
    assert [r["PasswordID"] for r in listed.json()] == [pid]
    assert http.delete(f"{API}/passwords/{pid}", headers=h, params={"MoveToRecycleBin": "false"}).status_code == 204
    gone = errors_of(http.get(f"{API}/passwords/{pid}", headers=h), 404)
    assert gone == [
        {"message": "Not Found"},
        {"phrase": f"A Password of ID '{pid}' was not found in the database, or you do not have permissions to it."},
    ]


def test_a_missing_or_unknown_api_key_is_refused(ps):
    """PasswordState-Management#142: 401 with message 'No Authorization' (the phrase for a bad key is inferred)."""
    http, _ = ps
    assert errors_of(http.get(f"{API}/passwords/7", params={"QueryAll": ""}), 401)[0] == {"message": "No Authorization"}
    bad = http.get(f"{API}/passwords/7", headers={"APIKey": "0" * 32}, params={"QueryAll": ""})
    assert errors_of(bad, 401)[0] == {"message": "No Authorization"}


def test_an_unknown_list_and_a_search_that_finds_nothing_are_404(ps):
    """PSM's 404 shape for an id the key cannot see; foreman_passwordstate: an empty search is a 404."""
    http, keys = ps
    h = {"APIKey": keys["7"]}
    unknown = http.post(f"{API}/passwords", headers=h, json={"PasswordListID": 8, "Title": "x", "Password": "p"})
    assert "Password List of ID '8' was not found" in errors_of(unknown, 404)[1]["phrase"]
    nothing = http.get(f"{API}/searchpasswords/7", headers=h, params={"Title": '"nobody"'})
    assert errors_of(nothing, 404)[0] == {"message": "Not Found"}


def test_a_list_key_sees_only_its_list_and_lists_need_the_system_key(ps):
    """Vendor: a Password List key is valid for that list's records; listing all lists needs a system-wide key;
    ruby-passwordstate get_password_list.json: PasswordListID an integer in list objects."""
    http, keys = ps
    assert http.get(f"{API}/passwordlists/7", headers={"APIKey": keys["7"]}).json()[0]["PasswordListID"] == 7
    assert errors_of(http.get(f"{API}/passwordlists", headers={"APIKey": keys["7"]}), 401)
    every = http.get(f"{API}/passwordlists", headers={"APIKey": keys["system"]})
    assert [pl["PasswordList"] for pl in every.json()] == ["Contoso Demo BV"]


def test_a_password_without_title_or_password_is_refused(ps):
    """PSM New-PasswordStatePassword: Title mandatory, Password unless GeneratePassword (400 wording inferred)."""
    http, keys = ps
    h = {"APIKey": keys["7"]}
    assert errors_of(http.post(f"{API}/passwords", headers=h, json={"PasswordListID": 7, "Password": "p"}), 400)
    assert errors_of(http.post(f"{API}/passwords", headers=h, json={"PasswordListID": 7, "Title": "t"}), 400)
    generated = http.post(
        f"{API}/passwords", headers=h, json={"PasswordListID": 7, "Title": "t", "GeneratePassword": True}
    )
    assert generated.status_code == 201 and generated.json()[0]["Password"]
