"""Click Studios Passwordstate's Standard API (`https://passwordstate.sandbox.test/api/`), the stand-in for the MSP's
password server: password lists, passwords in them, API keys per list and one system-wide key, and the API's answers
as its clients meet them (no OpenAPI spec is published).

Sources (tests/contract/test_passwordstate.py cites each): the vendor's API pages (clickstudios.com.au/api, the
Standard API reference for password lists and the Windows API's password fields); open clients that record its
shapes: dnewsholme/PasswordState-Management (PSM: routes, the `[{"errors": [{"message"}, {"phrase"}]}]` body, a
404 for an unknown PasswordID), ananace/ruby-passwordstate (fixtures of password and list objects; POST/PUT answer
an array with the record), Nilsas/passwordstate-sdk-go (201 for POST, 204 for DELETE), ananace/foreman_passwordstate
(a search that finds nothing is a 404); dnewsholme/PasswordState-Management#142 (a real 401 body). Details no source
confirms (the wording of an unknown API key's 401, of a missing Title) are marked inferred there.
"""

from __future__ import annotations

import secrets as _random
from typing import Any

from ..core.http import Request, Response
from ..core.state import State

HOST = "passwordstate.sandbox.test"
_FIELDS = (
    "Title",
    "Domain",
    "HostName",
    "UserName",
    "Description",
    "GenericField1",
    "GenericField2",
    "GenericField3",
    "Notes",
    "URL",
    "Password",
    "ExpiryDate",
)


def serves(host: str) -> bool:
    """Whether a Host header names the sandbox's Passwordstate server."""
    return host.split(":")[0].lower() == HOST


def new_key() -> str:
    """An API key shaped like Passwordstate's (32 hexadecimal characters)."""
    return _random.token_hex(16)


def errors(status: int, message: str, phrase: str) -> Response:
    """Passwordstate's error body: an array with one object holding `errors` (a message and a phrase)."""
    return Response(status, [{"errors": [{"message": message}, {"phrase": phrase}]}])


def handle(req: Request, state: State) -> Response:
    """Answer one Standard API request."""
    ps = state.passwordstate
    parts = [p for p in req.path.split("/") if p]
    if not parts or parts[0].lower() != "api":
        return errors(404, "Not Found", f"The resource '{req.path}' was not found.")
    key = req.headers.get("apikey") or req.query.get("apikey") or ""
    if not key:
        return errors(401, "No Authorization", "An APIKey header is required for the Standard API (/api/).")  # inferred
    system = key == ps.get("system_key")
    lists_of_key = {lid for lid, pl in ps["lists"].items() if pl["api_key"] == key}
    if not system and not lists_of_key:
        return errors(401, "No Authorization", "The API key is not valid for any Password List.")  # inferred
    route = "/".join(p.lower() for p in parts[1:2])
    rest = parts[2:]
    with state.lock:
        if route == "passwords":
            return _passwords(req, ps, rest, system, lists_of_key)
        if route == "searchpasswords":
            return _search(req, ps, rest, system, lists_of_key)
        if route == "passwordlists":
            return _lists(req, ps, rest, system, lists_of_key)
    return errors(404, "Not Found", f"The resource '{req.path}' was not found.")


def _may(list_id: int, system: bool, lists_of_key: set[int]) -> bool:
    return system or list_id in lists_of_key


def _record(ps: dict, pid: int, exclude_password: bool = False) -> dict:
    p = ps["passwords"][pid]
    out: dict[str, Any] = {
        "PasswordListID": str(p["PasswordListID"]),  # a string in password objects (ruby-passwordstate fixtures)
        "PasswordList": ps["lists"][p["PasswordListID"]]["PasswordList"],
        "PasswordID": pid,
        **{f: p.get(f, "") for f in _FIELDS},
        "AccountTypeID": 0,
        "AccountType": "",
        "AllowExport": True,
        "GenericFieldInfo": [],
        "OTP": None,
    }
    if exclude_password:
        out["Password"] = ""
    return out


def _unknown_password(pid: object) -> Response:
    return errors(
        404,
        "Not Found",
        f"A Password of ID '{pid}' was not found in the database, or you do not have permissions to it.",
    )


def _unknown_list(lid: object) -> Response:
    return errors(
        404,
        "Not Found",
        f"A Password List of ID '{lid}' was not found in the database, or you do not have permissions to it.",
    )  # inferred: the same shape as the password's


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _flag(req: Request, name: str) -> bool:
    return name.lower() in req.query and req.query[name.lower()].lower() not in ("false", "0")


def _passwords(req: Request, ps: dict, rest: list[str], system: bool, mine: set[int]) -> Response:
    exclude = _flag(req, "ExcludePassword")
    if req.method == "GET" and rest:
        n = _int(rest[0])
        if "queryall" in req.query:  # /api/passwords/{PasswordListID}?QueryAll: every password of the list
            if n is None or n not in ps["lists"] or not _may(n, system, mine):
                return _unknown_list(rest[0])
            found = [pid for pid, p in sorted(ps["passwords"].items()) if p["PasswordListID"] == n]
            return Response(200, [_record(ps, pid, exclude) for pid in found])
        if n is None or n not in ps["passwords"] or not _may(ps["passwords"][n]["PasswordListID"], system, mine):
            return _unknown_password(rest[0])
        return Response(200, [_record(ps, n, exclude)])
    if req.method == "POST" and not rest:
        body = req.json()
        lid = _int(body.get("PasswordListID"))
        if lid is None or lid not in ps["lists"] or not _may(lid, system, mine):
            return _unknown_list(body.get("PasswordListID"))
        if not str(body.get("Title") or "").strip():
            return errors(400, "Bad Request", "The Title field is required.")  # inferred wording
        if not body.get("Password") and not body.get("GeneratePassword"):
            return errors(400, "Bad Request", "The Password field is required, or set GeneratePassword.")  # inferred
        pid = ps["next_id"]
        ps["next_id"] += 1
        record: dict[str, Any] = {f: str(body.get(f) or "") for f in _FIELDS}
        record["Password"] = str(body.get("Password") or new_key())
        record["PasswordListID"] = lid
        ps["passwords"][pid] = record
        return Response(201, [_record(ps, pid)])
    if req.method == "PUT" and not rest:
        body = req.json()
        pid = _int(body.get("PasswordID"))
        if pid is None or pid not in ps["passwords"] or not _may(ps["passwords"][pid]["PasswordListID"], system, mine):
            return _unknown_password(body.get("PasswordID"))
        for f in _FIELDS:
            if f in body and body[f] is not None:
                ps["passwords"][pid][f] = str(body[f])
        return Response(200, [_record(ps, pid)])
    if req.method == "DELETE" and rest:
        n = _int(rest[0])
        if n is None or n not in ps["passwords"] or not _may(ps["passwords"][n]["PasswordListID"], system, mine):
            return _unknown_password(rest[0])
        del ps["passwords"][n]
        return Response(204, None)
    return errors(405, "Method Not Allowed", f"The requested resource does not support http method '{req.method}'.")


def _search(req: Request, ps: dict, rest: list[str], system: bool, mine: set[int]) -> Response:
    """GET /api/searchpasswords/{PasswordListID}?Title=...: partial, case-insensitive matches; "..." for an exact one.
    Nothing found is a 404 (ananace/foreman_passwordstate treats NotFoundError as no result)."""
    if req.method != "GET":
        return errors(405, "Method Not Allowed", f"The requested resource does not support http method '{req.method}'.")
    lid = _int(rest[0]) if rest else None
    if rest and (lid is None or lid not in ps["lists"] or not _may(lid, system, mine)):
        return _unknown_list(rest[0])
    if not rest and not system:
        return errors(
            401, "No Authorization", "Searching across Password Lists needs the system-wide API key."
        )  # inferred
    filters = {k: v for k, v in req.query.items() if k.lower() in {f.lower() for f in _FIELDS}}
    found = []
    for pid, p in sorted(ps["passwords"].items()):
        if lid is not None and p["PasswordListID"] != lid:
            continue
        ok = True
        for k, v in filters.items():
            have = str(next((p[f] for f in _FIELDS if f.lower() == k), "")).lower()
            want = v.lower()
            ok = ok and (have == want[1:-1] if len(want) > 1 and want[0] == want[-1] == '"' else want in have)
        if ok:
            found.append(pid)
    if not found:
        return errors(404, "Not Found", "No Passwords found in the Password Lists for the search criteria.")  # inferred
    return Response(200, [_record(ps, pid, _flag(req, "ExcludePassword")) for pid in found])


def _lists(req: Request, ps: dict, rest: list[str], system: bool, mine: set[int]) -> Response:
    if req.method != "GET":
        return errors(405, "Method Not Allowed", f"The requested resource does not support http method '{req.method}'.")
    ids = [_int(rest[0])] if rest else sorted(ps["lists"]) if system else None
    if ids is None:
        return errors(401, "No Authorization", "Listing Password Lists needs the system-wide API key.")  # inferred
    out = []
    for lid in ids:
        if lid is None or lid not in ps["lists"] or not _may(lid, system, mine):
            return _unknown_list(rest[0] if rest else lid)
        pl = ps["lists"][lid]
        out.append(
            {
                "PasswordListID": lid,  # an integer in list objects (ruby-passwordstate fixtures)
                "PasswordList": pl["PasswordList"],
                "Description": pl.get("Description", ""),
                "TreePath": pl.get("TreePath", "\\" + pl["PasswordList"]),
                "TotalPasswords": sum(1 for p in ps["passwords"].values() if p["PasswordListID"] == lid),
                "AllowExport": True,
                "PrivatePasswordList": False,
            }
        )
    return Response(200, out)
