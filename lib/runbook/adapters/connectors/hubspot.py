"""HubSpot's CRM API with a private app's access token, through HubSpot's own client `hubspot-api-client` (CRM
Companies v3, Contacts v3, Associations v4: the routes and shapes of HubSpot's published OpenAPI specs,
HubSpot/HubSpot-public-api-spec-collection, from which the client is generated).

Reads a company (`crm.companies.basic_api.get_by_id`), the contacts associated with it
(`crm.associations.v4.basic_api.get_page`, paged by `after`, with their association labels) and those contacts
(`crm.contacts.batch_api.read`, at most 100 per call, properties firstname, lastname, email, jobtitle). The client's
HTTP goes through the runbook's httpx client (`_HttpxPool`: its TLS trust and, on the sandbox, its local names), as
the Azure SDK's goes through an azure-core transport. A 429 is waited out: its Retry-After when HubSpot sends one,
else the rolling window its `X-HubSpot-RateLimit-Interval-Milliseconds` header names; the daily limit is not waited
for."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, ConfigDict

from .base import Connector, retry_after

SCOPES = ("crm.objects.companies.read", "crm.objects.contacts.read")
CONTACT_PROPERTIES = ("firstname", "lastname", "email", "jobtitle")
BATCH = 100  # HubSpot's limit on inputs per batch call
PRIMARY = 2  # company-to-contact "Primary" (HUBSPOT_DEFINED)
T = TypeVar("T")


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


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


class _Answer:
    """An httpx answer in the shape the client's generated `rest.py` reads from urllib3 (status, reason, data,
    headers)."""

    def __init__(self, resp: httpx.Response) -> None:
        self.status, self.reason, self.data = resp.status_code, resp.reason_phrase, resp.content
        self._headers = resp.headers

    def getheaders(self) -> Mapping[str, str]:
        return dict(self._headers)

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self._headers.get(name, default)


class _HttpxPool:
    """Stands in for the urllib3 PoolManager of the client's generated REST layer: the same `request` call, sent
    through the runbook's httpx client."""

    def __init__(self, http: httpx.Client, seen: Callable[[httpx.Response], None]) -> None:
        self.http, self.seen = http, seen

    def request(
        self,
        method: str,
        url: str,
        *,
        body: str | bytes | None = None,
        fields: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: Any = None,
        preload_content: bool = True,
        encode_multipart: bool = True,
    ) -> _Answer:
        if fields and method in ("GET", "HEAD"):  # urllib3 puts a GET's fields in the query string
            url += ("&" if "?" in url else "?") + urlencode(list(fields), doseq=True)
        elif fields:
            raise ValueError("form and multipart bodies are not used by the HubSpot connector")
        resp = self.http.request(method, url, content=body, headers=dict(headers or {}))
        self.seen(resp)
        return _Answer(resp)


def _sdk_errors() -> tuple[type[Exception], ...]:
    """The ApiException of each generated package the connector uses (each package has its own)."""
    from hubspot.crm.associations.v4.exceptions import ApiException as AssociationsError
    from hubspot.crm.companies.exceptions import ApiException as CompaniesError
    from hubspot.crm.contacts.exceptions import ApiException as ContactsError

    return (CompaniesError, ContactsError, AssociationsError)


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

    def sdk(self) -> Any:
        """HubSpot's client for this portal, made at the first call (the token read then), its HTTP over the
        runbook's httpx client."""
        if getattr(self, "_sdk", None) is None:
            import hubspot
            from hubspot.discovery.discovery_base import DiscoveryBase

            def seen(resp: httpx.Response) -> None:
                self.last_headers = resp.headers

            pool = _HttpxPool(self.http, seen)

            def factory(package: Any, api_name: str, config: dict[str, Any]) -> Any:
                api = DiscoveryBase._default_api_factory(package, api_name, config)
                api.api_client.rest_client.pool_manager = pool
                return api

            self._sdk = hubspot.Client.create(access_token=self.secret(), host=self.url, api_factory=factory)
        return self._sdk

    def through_sdk(self, what: str, send: Callable[[Any], T], *, missing: str = "") -> T:
        """One call of the client, waiting out throttling as `call` does; a 404 is ConnectorNotFound with the fix
        `missing` (when given), any other refusal, or an answer the client cannot read, ConnectorTargetError."""
        errors = _sdk_errors()
        for attempt in range(self.attempts):
            try:
                return send(self.sdk())
            except httpx.TransportError as exc:
                raise self.unreachable(what, exc) from None
            except errors as exc:
                status = int(getattr(exc, "status", 0) or 0)
                if not status:  # the client's own failure (no answer read), e.g. a TLS error it caught
                    raise self.unreachable(what, exc) from None
                resp = httpx.Response(
                    status, headers=dict(getattr(exc, "headers", None) or {}), content=getattr(exc, "body", b"") or b""
                )
            except (ValueError, TypeError) as exc:  # an answer of another shape than the spec's model
                raise self.unexpected_shape(what, exc) from None
            if self.retry(resp, what, attempt):
                continue
            if resp.status_code == 404 and missing:
                raise self.not_found(resp, what, missing)
            raise self.unexpected(resp, what)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def unexpected_shape(self, what: str, exc: Exception) -> Exception:
        from ...errors import ConnectorTargetError

        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return ConnectorTargetError(
            f"{self.system}: cannot {what}: its answer does not fit HubSpot's API ({first}). Fix: check {self.settings}.url points at the {self.system} API"
        )

    def reachable(self) -> str:
        what = "list companies (the preflight's read)"
        self.through_sdk(what, lambda c: c.crm.companies.basic_api.get_page(limit=1, properties=["name"]))
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
        obj = self.through_sdk(
            f"read company {company_id}",
            lambda c: c.crm.companies.basic_api.get_by_id(company_id, properties=["name", "domain"]),
            missing=fix,
        )
        props = obj.properties or {}
        return Company(id=str(obj.id), name=props.get("name") or "", domain=props.get("domain") or "")

    def associated_contacts(self, company_id: str) -> list[tuple[str, tuple[str, ...], bool]]:
        """(contact id, labels, primary) of every contact associated with the company, over all pages."""
        what = f"list the contacts associated with company {company_id}"
        out: list[tuple[str, tuple[str, ...], bool]] = []
        after: str | None = None
        while True:
            kw: dict[str, Any] = {"limit": 500, **({"after": after} if after else {})}

            def page_of(c: Any, kw: dict[str, Any] = kw) -> Any:
                return c.crm.associations.v4.basic_api.get_page("companies", company_id, "contacts", **kw)

            page = self.through_sdk(what, page_of, missing="give the company's id from its card's URL")
            for row in page.results or []:
                types = row.association_types or []
                labels = tuple(t.label for t in types if t.label and t.category == "USER_DEFINED")
                primary = any(t.type_id == PRIMARY and t.category == "HUBSPOT_DEFINED" for t in types)
                out.append((str(row.to_object_id), labels, primary))
            nxt = page.paging.next if page.paging is not None else None
            after = nxt.after if nxt is not None else None
            if not after:
                return out

    def contacts(self, ids: list[str]) -> list[tuple[str, dict[str, str | None]]]:
        """(id, properties) of the contact records of these ids (batches of 100); ids HubSpot no longer has are left
        out (the batch answers 207 for them)."""
        from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId, SimplePublicObjectId

        found: list[tuple[str, dict[str, str | None]]] = []
        for i in range(0, len(ids), BATCH):
            body = BatchReadInputSimplePublicObjectId(
                inputs=[SimplePublicObjectId(id=x) for x in ids[i : i + BATCH]],
                properties=list(CONTACT_PROPERTIES),
                properties_with_history=[],
            )

            def batch_of(c: Any, body: Any = body) -> Any:
                return c.crm.contacts.batch_api.read(body, archived=False)

            batch = self.through_sdk("read contacts", batch_of)
            found += [(str(r.id), dict(r.properties or {})) for r in batch.results or []]
        return found

    def company_contacts(self, company_id: str) -> list[CrmContact]:
        """The contacts associated with a company, with their names, e-mail, job title and association labels."""
        links = self.associated_contacts(company_id)
        by_id = dict(self.contacts([cid for cid, _, _ in links]))
        out = []
        for cid, labels, primary in links:
            p = by_id.get(cid)
            if p is None:
                continue
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
