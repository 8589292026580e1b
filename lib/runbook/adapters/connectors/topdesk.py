"""TOPdesk's REST API (`https://<tenant>.topdesk.net/tas/api/`) with an operator's login name and application
password (Basic authentication), through httpx with typed models (the Python clients on the registry are stale).

Reads the logged-in operator (`GET /operators/current`, the preflight's read), a branch (`GET /branches/id/{id}`),
the persons of a branch (`GET /persons?query=branch.id=={id}` in FIQL, paged by `start` / `page_size` (at most 100):
a JSON array, 206 while more follow, 204 when a page is empty) and the SLA contract. TOPdesk publishes no contracts
endpoint: the SLA is an asset of an agreed template linked to the branch (`GET /assetmgmt/assets?templateName=...
&linkedTo=branch/{id}&fields=...`, media type `application/x.topdesk-am-assets-v2+json`, `{columns, dataSet}`, paged
by `pageStart` / `pageSize`), whose fields hold the service level and the start and end dates."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import httpx
from pydantic import BaseModel, ConfigDict, Field

from .base import Connector

ASSETS_V2 = "application/x.topdesk-am-assets-v2+json"
PAGE = 100  # the persons API's largest page
ASSET_PAGE = 1000  # the asset API's largest page


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Branch(_Wire):
    """A TOPdesk branch (the customer's organisation)."""

    id: str
    name: str = ""
    client_reference: str = Field("", alias="clientReferenceNumber")


class Person(_Wire):
    """A person of a branch. `email` stays in memory for the comparison; the evidence says only whether there is one."""

    id: str
    first_name: str = Field("", alias="firstName")
    surname: str = Field("", alias="surName")
    dynamic_name: str = Field("", alias="dynamicName")
    email: str | None = ""
    job_title: str | None = Field("", alias="jobTitle")
    archived: bool = False

    @property
    def name(self) -> str:
        full = " ".join(p for p in (self.first_name, self.surname) if p).strip()
        return full or self.dynamic_name


@dataclass(frozen=True)
class SlaFields:
    """Which fields of the SLA template hold what (field ids, as the MSP's TOPdesk asset template names them)."""

    template: str = "Service Level Agreement"
    service_level: str = "service-level"
    start: str = "start-date"
    end: str = "end-date"


@dataclass(frozen=True)
class SlaAsset:
    """An SLA contract as an asset: its name (the contract's reference), service level, term and state."""

    id: str
    reference: str
    service_level: str
    start: date | None
    end: date | None
    archived: bool

    def active_on(self, day: date) -> bool:
        """Not archived, started, and not ended (no end date: open-ended)."""
        return (
            not self.archived and self.start is not None and self.start <= day and (self.end is None or day <= self.end)
        )


def _day(value: object) -> date | None:
    """A TOPdesk date (`2026-11-16T00:00:00.000+0000`, or a bare date) as a date; None when empty or unreadable."""
    text = str(value or "")[:10]
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


class Topdesk(Connector):
    """The MSP's TOPdesk environment, as one operator."""

    system = "TOPdesk"
    settings = "msp.connectors.topdesk"
    credential_name = "application password"

    def __init__(
        self,
        http: httpx.Client,
        url: str,
        credential: Callable[[], str],
        *,
        login: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(http, url, credential, sleep=sleep)
        self.login = login
        self.sla_fields = SlaFields()  # how the MSP's TOPdesk holds SLA contracts (msp.connectors.topdesk.sla)

    def auth(self, secret: str) -> dict[str, str]:
        token = base64.b64encode(f"{self.login}:{secret}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def credential_fix(self) -> str:
        return (
            f"check {self.settings}.login (the operator's login name) and create an application password for that "
            f"operator (TOPdesk > My settings > Application passwords), stored where {self.settings}.application_password "
            "points; the operator needs read access to persons, branches and Asset Management"
        )

    def explain(self, resp: httpx.Response) -> str:
        try:
            body = resp.json()
        except ValueError:
            body = None
        if isinstance(body, list):
            messages = [str(m.get("message", "")) for m in body if isinstance(m, dict)]
            return f"{resp.status_code} {'; '.join(m for m in messages if m)}".strip()
        return f"{resp.status_code} {resp.reason_phrase}".strip()

    def reachable(self) -> str:
        what = "read the logged-in operator (the preflight's read)"
        resp = self.call("GET", "/tas/api/operators/current", what)
        if resp.status_code != 200:
            raise self.unexpected(resp, what)
        name = (self.json(resp, what) or {}).get("dynamicName") or self.login
        return f"operator {name} is signed in at {self.url} with its application password"

    def branch(
        self, branch_id: str, fix: str = "give the branch's id (TOPdesk > Supporting files > Branches)"
    ) -> Branch:
        """The branch; ConnectorNotFound (with `fix`) when TOPdesk has none of that id."""
        what = f"read branch {branch_id}"
        resp = self.call("GET", f"/tas/api/branches/id/{branch_id}", what)
        if resp.status_code == 404:
            raise self.not_found(resp, what, fix)
        if resp.status_code != 200:
            raise self.unexpected(resp, what)
        return self.model(Branch, self.json(resp, what), resp, what)

    def persons(self, branch_id: str) -> list[Person]:
        """Every (not archived) person of the branch, over all pages."""
        what = f"list the persons of branch {branch_id}"
        out: list[Person] = []
        start = 0
        while True:
            params: dict[str, str | int] = {"query": f"branch.id=={branch_id}", "start": start, "page_size": PAGE}
            resp = self.call("GET", "/tas/api/persons", what, params=params)
            if resp.status_code == 204:  # nothing (more)
                return out
            if resp.status_code not in (200, 206):
                raise self.unexpected(resp, what)
            page = self.json(resp, what)
            out += [self.model(Person, p, resp, what) for p in page]
            if resp.status_code == 200 or len(page) < PAGE:
                return out
            start += PAGE

    def sla_assets(self, branch_id: str, fields: SlaFields | None = None) -> list[SlaAsset]:
        """The assets of the SLA template linked to the branch (archived ones too), with their term."""
        fields = fields or self.sla_fields
        what = f"list the '{fields.template}' assets linked to branch {branch_id}"
        out: list[SlaAsset] = []
        start = 0
        while True:
            params: dict[str, str | int] = {
                "templateName": fields.template,
                "linkedTo": f"branch/{branch_id}",
                "fields": ",".join(("name", fields.service_level, fields.start, fields.end)),
                "pageStart": start,
                "pageSize": ASSET_PAGE,
            }
            resp = self.call("GET", "/tas/api/assetmgmt/assets", what, params=params, headers={"Accept": ASSETS_V2})
            if resp.status_code == 204:
                return out
            if resp.status_code not in (200, 206):
                raise self.unexpected(resp, what)
            rows = (self.json(resp, what) or {}).get("dataSet") or []
            for r in rows:
                out.append(
                    SlaAsset(
                        id=str(r.get("unid") or r.get("id") or ""),
                        reference=str(r.get("name") or ""),
                        service_level=str(r.get(fields.service_level) or ""),
                        start=_day(r.get(fields.start)),
                        end=_day(r.get(fields.end)),
                        archived=bool(r.get("archived")),
                    )
                )
            if resp.status_code == 200 or len(rows) < ASSET_PAGE:
                return out
            start += ASSET_PAGE
