"""Click Studios Passwordstate as the MSP's secret store, through its Standard API with httpx (no maintained Python
client exists): find an entry of a password list by title, add one, update its password, read it.

The API key goes in the `APIKey` header (a per-list key, or the system-wide one); entries are matched by exact
title (`Title="..."`); the credential's key id is kept in GenericField1 so a later run can tell whether the stored
password is the app's current secret. Answers and errors as its clients meet them (docs/sandbox.md, Passwordstate).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from ..errors import SecretError


@dataclass(frozen=True)
class Entry:
    """A Passwordstate entry as the evidence may show it (never its password)."""

    id: int
    title: str
    key_id: str = ""
    expires: str = ""


class Passwordstate:
    """One Passwordstate server: `https://<server>/api/` with an API key."""

    def __init__(self, http: httpx.Client, url: str, api_key: str) -> None:
        self.http, self.url, self.api_key = http, url.rstrip("/"), api_key

    def _call(self, method: str, path: str, what: str, **kw: Any) -> httpx.Response:
        try:
            resp = self.http.request(method, f"{self.url}/api/{path}", headers={"APIKey": self.api_key}, **kw)
        except httpx.HTTPError as exc:
            raise SecretError(
                f"cannot {what}: Passwordstate at {self.url} cannot be reached ({exc}). Fix: check msp.passwordstate.url and the network"
            ) from None
        if resp.status_code == 401:
            raise SecretError(
                f"cannot {what}: Passwordstate refused the API key (401 {_phrase(resp)}). Fix: give msp.passwordstate.api_key a key of that password list, or the system-wide key"
            )
        return resp

    def find(self, list_id: int, title: str) -> Entry | None:
        """The entry with exactly this title in the list (its password left out), or None."""
        what = f"look up '{title}' in password list {list_id}"
        resp = self._call(
            "GET", f"searchpasswords/{list_id}", what, params={"Title": f'"{title}"', "ExcludePassword": "true"}
        )
        if resp.status_code == 404 and "Password List of ID" in _phrase(resp):
            raise SecretError(f"cannot {what}: {_phrase(resp)} Fix: check the list id in the secret reference")
        if resp.status_code == 404:
            return None  # a search that finds nothing
        _ok(resp, what)
        found = [r for r in resp.json() if str(r.get("Title", "")) == title]
        return _entry(found[0]) if found else None

    def read(self, list_id: int, title: str) -> str:
        """The entry's password (for the run only)."""
        entry = self.find(list_id, title)
        if entry is None:
            raise SecretError(f"no entry '{title}' in Passwordstate password list {list_id}")
        resp = self._call("GET", f"passwords/{entry.id}", f"read '{title}'")
        _ok(resp, f"read '{title}'")
        return str(resp.json()[0]["Password"])

    def delete(self, list_id: int, title: str) -> None:
        """Delete the entry of this title (DELETE /api/passwords/{PasswordID}); none there is nothing to do."""
        entry = self.find(list_id, title)
        if entry is None:
            return
        what = f"delete '{title}' from password list {list_id}"
        _ok(self._call("DELETE", f"passwords/{entry.id}", what, params={"MoveToRecycleBin": "False"}), what)

    def store(
        self,
        list_id: int,
        title: str,
        password: str,
        *,
        description: str = "",
        key_id: str = "",
        expires_on: datetime | None = None,
    ) -> Entry:
        """Put a password under this title: a new entry, or the existing entry's password replaced (one entry per
        title, never a second)."""
        fields = {
            "Password": password,
            "Description": description,
            "GenericField1": key_id,
            "ExpiryDate": f"{expires_on:%Y-%m-%d}" if expires_on else "",
        }
        existing = self.find(list_id, title)
        if existing is None:
            what = f"add '{title}' to password list {list_id}"
            resp = self._call("POST", "passwords", what, json={"PasswordListID": list_id, "Title": title, **fields})
        else:
            what = f"update '{title}' in password list {list_id}"
            resp = self._call("PUT", "passwords", what, json={"PasswordID": existing.id, **fields})
        _ok(resp, what)
        return _entry(resp.json()[0])


def _phrase(resp: httpx.Response) -> str:
    """Passwordstate's error text: `[{"errors": [{"message": ...}, {"phrase": ...}]}]`."""
    try:
        errors = resp.json()[0]["errors"]
        return " ".join(str(e.get("phrase") or e.get("message") or "") for e in errors).strip()
    except (ValueError, KeyError, IndexError, TypeError):
        return resp.text[:200]


def _ok(resp: httpx.Response, what: str) -> None:
    if resp.status_code >= 400:
        raise SecretError(f"cannot {what}: Passwordstate answered {resp.status_code}: {_phrase(resp)}")


def _entry(record: dict) -> Entry:
    return Entry(
        int(record["PasswordID"]),
        str(record.get("Title", "")),
        str(record.get("GenericField1") or ""),
        str(record.get("ExpiryDate") or ""),
    )
