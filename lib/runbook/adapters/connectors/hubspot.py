"""HubSpot's CRM API with a private app's access token, through httpx (`hubspot-api-client` is not installed in this
project's environment; the routes and shapes are those of HubSpot's published OpenAPI specs,
HubSpot/HubSpot-public-api-spec-collection: CRM Companies v3, Contacts v3, Associations v4).

Reads a company (`GET /crm/v3/objects/companies/{id}`), the contacts associated with it (`GET
/crm/v4/objects/companies/{id}/associations/contacts`, paged by `after`, with their association labels) and those
contacts (`POST /crm/v3/objects/contacts/batch/read`, at most 100 per call, properties firstname, lastname, email,
jobtitle). A 429 is waited out: its Retry-After when HubSpot sends one, else the rolling window its
`X-HubSpot-RateLimit-Interval-Milliseconds` header names; the daily limit is not waited for."""

from __future__ import annotations

import httpx
from pydantic import BaseModel, ConfigDict, Field

from .base import Connector, retry_after

SCOPES = ("crm.objects.companies.read", "crm.objects.contacts.read")
CONTACT_PROPERTIES = ("firstname", "lastname", "email", "jobtitle")
BATCH = 100  # HubSpot's limit on inputs per batch call
PRIMARY = 2  # company-to-contact "Primary" (HUBSPOT_DEFINED)


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class SimplePublicObject(_Wire):
    """A CRM record as the v3 objects API answers it."""

    id: str
    properties: dict[str, str | None] = {}
    archived: bool = False


class AssociationType(_Wire):
    category: str = ""
    type_id: int = Field(0, alias="typeId")
    label: str | None = None


class AssociatedObject(_Wire):
    """One row of a v4 associations page (`toObjectId` is a string in the spec, a number in some answers)."""

    to_object_id: str | int = Field(alias="toObjectId")
    association_types: list[AssociationType] = Field(default=[], alias="associationTypes")


class Company(_Wire):
    """A HubSpot company record (what the evidence may show of it)."""

    id: str
    name: str = ""
    domain: str = ""


class CrmContact(_Wire):
    """A contact associated with a company. `email` stays in memory for the comparison; the evidence says only whether
    there is one."""

    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    job_title: str = ""
    labels: tuple[str, ...] = ()  # the association's labels (USER_DEFINED, e.g. "IT manager")
    primary: bool = False

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p).strip()


class HubSpot(Connector):
    """The MSP's HubSpot portal."""

    system = "HubSpot"
    settings = "msp.connectors.hubspot"
    credential_name = "private app token"

    def auth(self, secret: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}"}

    def credential_fix(self) -> str:
        return (
            f"create a private app in HubSpot (Settings > Integrations > Private apps) with the scopes {', '.join(SCOPES)}, "
            f"and store its access token where {self.settings}.token points"
        )

    def explain(self, resp: httpx.Response) -> str:
        try:
            body = resp.json()
        except ValueError:
            return f"{resp.status_code} {resp.reason_phrase}".strip()
        if not isinstance(body, dict):
            return f"{resp.status_code} {resp.reason_phrase}".strip()
        scopes = [
            s for e in body.get("errors") or [] for s in (e.get("context") or {}).get("requiredGranularScopes") or []
        ]
        needed = f" (needs one of: {', '.join(scopes)})" if scopes else ""
        policy = f" [{body['policyName']}]" if body.get("policyName") else ""
        return f"{resp.status_code} {body.get('category') or body.get('errorType') or ''}{policy}: {body.get('message', '')}{needed}".strip()

    def wait_for(self, resp: httpx.Response, attempt: int) -> float | None:
        """Retry-After when given; the daily limit is not waited for; else the rolling window's length (HubSpot's
        X-HubSpot-RateLimit-Interval-Milliseconds) once the window is used up, or a short back-off."""
        after = retry_after(resp.headers.get("Retry-After"))
        if after is not None:
            return after
        try:
            policy = str((resp.json() or {}).get("policyName") or "")
        except (ValueError, AttributeError):
            policy = ""
        if policy == "DAILY":
            return None
        interval = resp.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        if resp.status_code == 429 and interval and interval.isdigit():
            return int(interval) / 1000
        return super().wait_for(resp, attempt)

    def reachable(self) -> str:
        what = "list companies (the preflight's read)"
        resp = self.call("GET", "/crm/v3/objects/companies", what, params={"limit": 1, "properties": "name"})
        if resp.status_code != 200:
            raise self.unexpected(resp, what)
        limit = self.last_headers.get("X-HubSpot-RateLimit-Max")
        left = self.last_headers.get("X-HubSpot-RateLimit-Remaining")
        window = self.last_headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        rate = (
            f"; rate limit {limit} per {int(window) // 1000} s, {left} left"
            if limit and window and window.isdigit()
            else ""
        )
        return f"the private app token is accepted at {self.url} (companies readable){rate}"

    def company(self, company_id: str, fix: str = "give the company's id from its card's URL") -> Company:
        """The company record; ConnectorNotFound (with `fix`) when the portal has none of that id."""
        what = f"read company {company_id}"
        resp = self.call("GET", f"/crm/v3/objects/companies/{company_id}", what, params={"properties": "name,domain"})
        if resp.status_code == 404:
            raise self.not_found(resp, what, fix)
        if resp.status_code != 200:
            raise self.unexpected(resp, what)
        obj = self.model(SimplePublicObject, self.json(resp, what), resp, what)
        return Company(id=obj.id, name=obj.properties.get("name") or "", domain=obj.properties.get("domain") or "")

    def associated_contacts(self, company_id: str) -> list[tuple[str, tuple[str, ...], bool]]:
        """(contact id, labels, primary) of every contact associated with the company, over all pages."""
        what = f"list the contacts associated with company {company_id}"
        out: list[tuple[str, tuple[str, ...], bool]] = []
        after: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": 500, **({"after": after} if after else {})}
            resp = self.call(
                "GET", f"/crm/v4/objects/companies/{company_id}/associations/contacts", what, params=params
            )
            if resp.status_code == 404:
                raise self.not_found(resp, what, "give the company's id from its card's URL")
            if resp.status_code != 200:
                raise self.unexpected(resp, what)
            page = self.json(resp, what)
            for row in page.get("results") or []:
                a = self.model(AssociatedObject, row, resp, what)
                labels = tuple(t.label for t in a.association_types if t.label and t.category == "USER_DEFINED")
                primary = any(t.type_id == PRIMARY and t.category == "HUBSPOT_DEFINED" for t in a.association_types)
                out.append((str(a.to_object_id), labels, primary))
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return out

    def contacts(self, ids: list[str]) -> list[SimplePublicObject]:
        """The contact records of these ids (batches of 100); ids HubSpot no longer has are left out."""
        what = "read contacts"
        found: list[SimplePublicObject] = []
        for i in range(0, len(ids), BATCH):
            body = {"inputs": [{"id": x} for x in ids[i : i + BATCH]], "properties": list(CONTACT_PROPERTIES)}
            body["propertiesWithHistory"] = []
            resp = self.call("POST", "/crm/v3/objects/contacts/batch/read", what, json=body)
            if resp.status_code not in (200, 207):  # 207: some ids are gone (deleted contacts), the rest answered
                raise self.unexpected(resp, what)
            found += [self.model(SimplePublicObject, r, resp, what) for r in self.json(resp, what).get("results") or []]
        return found

    def company_contacts(self, company_id: str) -> list[CrmContact]:
        """The contacts associated with a company, with their names, e-mail, job title and association labels."""
        links = self.associated_contacts(company_id)
        by_id = {c.id: c for c in self.contacts([cid for cid, _, _ in links])}
        out = []
        for cid, labels, primary in links:
            rec = by_id.get(cid)
            if rec is None:
                continue
            p = rec.properties
            out.append(
                CrmContact(
                    id=cid,
                    first_name=(p.get("firstname") or "").strip(),
                    last_name=(p.get("lastname") or "").strip(),
                    email=(p.get("email") or "").strip(),
                    job_title=(p.get("jobtitle") or "").strip(),
                    labels=labels,
                    primary=primary,
                )
            )
        return out
