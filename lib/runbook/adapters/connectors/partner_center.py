"""Microsoft Partner Center's REST API (`https://api.partnercenter.microsoft.com/v1/`) with an app-only Entra token of
the MSP's tenant for the audience `https://api.partnercenter.microsoft.com`, through httpx (Microsoft publishes no
OpenAPI spec and no maintained Python client; the routes and shapes are those of the Partner Center REST reference on
Microsoft Learn and the Partner Center .NET SDK's models).

Reads a customer by its id, which is its Entra tenant id (`GET /customers/{id}`: company profile, relationship to the
partner), its subscriptions (`GET /customers/{id}/subscriptions`, a Collection), its agreement confirmations
(`GET /customers/{id}/agreements?agreementType=MicrosoftCustomerAgreement`; Microsoft documents this read for App+User
sign-ins only, so an app-only token may be refused: `agreements()` then says so instead of failing) and its usage
spending budget (`GET /customers/{id}/usagebudget`, a SpendingBudget). The one write: the usage budget
(`PATCH /customers/{id}/usagebudget` with the whole resource), only from the budget step's apply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from ...errors import ConnectorCredentialError, ConnectorInputError
from .base import Connector

AUDIENCE = "https://api.partnercenter.microsoft.com"
SCOPE = f"{AUDIENCE}/.default"
MCA = "MicrosoftCustomerAgreement"


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class CompanyProfile(_Wire):
    tenant_id: str = Field("", alias="tenantId")
    domain: str = ""
    company_name: str = Field("", alias="companyName")


class Customer(_Wire):
    """A customer of the partner (get-a-customer-by-id): its id is its tenant id."""

    id: str
    company_profile: CompanyProfile = Field(CompanyProfile.model_validate({}), alias="companyProfile")
    relationship_to_partner: str = Field("", alias="relationshipToPartner")  # none, reseller, advisor

    @property
    def name(self) -> str:
        return self.company_profile.company_name or self.company_profile.domain or self.id


class Subscription(_Wire):
    """A subscription of the customer (get-all-of-a-customer-s-subscriptions)."""

    id: str
    offer_id: str = Field("", alias="offerId")
    offer_name: str = Field("", alias="offerName")
    friendly_name: str = Field("", alias="friendlyName")
    quantity: int = 0
    status: str = ""  # active, suspended, deleted, expired, pending, disabled

    @property
    def offer(self) -> str:
        return self.offer_name or self.friendly_name or self.offer_id or self.id

    @property
    def active(self) -> bool:
        return self.status.strip().lower() == "active"


class Agreement(_Wire):
    """An agreement confirmation (get-customer-agreements). `primaryContact` (a person of the customer) is not read:
    the evidence needs only the type and the date."""

    type: str = ""
    date_agreed: str = Field("", alias="dateAgreed")
    template_id: str = Field("", alias="templateId")


@dataclass(frozen=True)
class Agreements:
    """The customer's agreement confirmations, or why they could not be read (`refused`: Partner Center serves them to
    App+User sign-ins only, and the runbook signs in app-only)."""

    items: tuple[Agreement, ...] = ()
    refused: str = ""


class SpendingBudget(_Wire):
    """The customer's usage spending budget (get-a-customer-s-usage-spending-budget); None: no budget set."""

    amount: float | None = None


class PartnerCenter(Connector):
    """The MSP's Partner Center account, as an app registered in it (app-only)."""

    system = "Partner Center"
    settings = "msp.connectors.partner_center"
    credential_name = "app's token"
    writes = ("the customer's usage budget (PATCH /customers/{id}/usagebudget)",)

    def secret(self) -> str:
        """An access token, asked for at every call: the credential behind it (azure-identity) caches and renews it."""
        self._secret = None
        return super().secret()

    def auth(self, secret: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}", "Accept": "application/json"}

    def credential_fix(self) -> str:
        return (
            f"register the app of {self.settings}.client_id in Partner Center (Account settings > App management) and "
            f"store a client secret of it where {self.settings}.client_secret points; the token is asked for in the "
            f"MSP's tenant (msp.tenant_id) for {AUDIENCE}"
        )

    def explain(self, resp: httpx.Response) -> str:
        try:
            body = resp.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and ("code" in body or "description" in body):
            name = f" {body['errorName']}" if body.get("errorName") else ""
            return f"{resp.status_code} {body.get('code', '')}{name}: {body.get('description') or body.get('message') or ''}".strip()
        return f"{resp.status_code} {resp.reason_phrase}".strip()

    def _customer_path(self, customer_id: str) -> str:
        return f"/v1/customers/{customer_id}"

    def reachable(self) -> str:
        what = "list the partner's customers (the preflight's read)"
        resp = self.call("GET", "/v1/customers", what, params={"size": 1})
        if resp.status_code != 200:
            raise self.unexpected(resp, what)
        total = (self.json(resp, what) or {}).get("totalCount")
        count = f" ({total} customer(s) on the first page)" if isinstance(total, int) else ""
        return f"the app's token is accepted at {self.url}{count}"

    def customer(
        self, customer_id: str, fix: str = "give the customer's Microsoft ID (its tenant id) from Partner Center"
    ) -> Customer:
        """The customer; ConnectorNotFound (with `fix`) when the partner has none of that id."""
        what = f"read customer {customer_id}"
        resp = self.call("GET", self._customer_path(customer_id), what)
        if resp.status_code == 404:
            raise self.not_found(resp, what, fix)
        if resp.status_code != 200:
            raise self.unexpected(resp, what)
        return self.model(Customer, self.json(resp, what), resp, what)

    def _collection(self, resp: httpx.Response, what: str) -> list[Any]:
        body = self.json(resp, what)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise self.unexpected(resp, what)
        return items

    def subscriptions(self, customer_id: str) -> list[Subscription]:
        """Every subscription of the customer (whatever its status)."""
        what = f"list the subscriptions of customer {customer_id}"
        resp = self.call("GET", f"{self._customer_path(customer_id)}/subscriptions", what)
        if resp.status_code == 404:
            raise self.not_found(resp, what, "give the customer's Microsoft ID (its tenant id)")
        if resp.status_code != 200:
            raise self.unexpected(resp, what)
        return [self.model(Subscription, s, resp, what) for s in self._collection(resp, what)]

    def agreements(self, customer_id: str, agreement_type: str = MCA) -> Agreements:
        """The customer's agreement confirmations of a type. Partner Center documents this read for App+User sign-ins
        only: a refusal of the app-only token is returned as `refused` (the check says so), not raised."""
        what = f"read the {agreement_type} confirmations of customer {customer_id}"
        try:
            resp = self.call(
                "GET", f"{self._customer_path(customer_id)}/agreements", what, params={"agreementType": agreement_type}
            )
        except ConnectorCredentialError as exc:
            return Agreements(refused=str(exc))
        if resp.status_code == 404:
            raise self.not_found(resp, what, "give the customer's Microsoft ID (its tenant id)")
        if resp.status_code != 200:
            raise self.unexpected(resp, what)
        return Agreements(tuple(self.model(Agreement, a, resp, what) for a in self._collection(resp, what)))

    def usage_budget(self, customer_id: str) -> SpendingBudget:
        """The customer's usage spending budget."""
        what = f"read the usage budget of customer {customer_id}"
        resp = self.call("GET", f"{self._customer_path(customer_id)}/usagebudget", what)
        if resp.status_code == 404:
            raise self.not_found(resp, what, "give the customer's Microsoft ID (its tenant id)")
        if resp.status_code != 200:
            raise self.unexpected(resp, what)
        return self.model(SpendingBudget, self.json(resp, what), resp, what)

    def set_usage_budget(self, customer_id: str, amount: float) -> SpendingBudget:
        """Set the customer's usage spending budget (PATCH with the whole resource); Partner Center's refusal (400 for
        an amount it does not take) is ConnectorTargetError with its words."""
        what = f"set the usage budget of customer {customer_id} to {amount:g}"
        body = {"amount": amount, "attributes": {"objectType": "SpendingBudget"}}
        resp = self.call("PATCH", f"{self._customer_path(customer_id)}/usagebudget", what, json=body)
        if resp.status_code == 404:
            raise self.not_found(resp, what, "give the customer's Microsoft ID (its tenant id)")
        if resp.status_code == 400:
            raise ConnectorInputError(
                f"{self.system}: cannot {what}: it refused the amount ({self.explain(resp)}). Fix: give budget.amount as a number of 0 or more"
            )
        if resp.status_code != 200:
            raise self.unexpected(resp, what)
        return self.model(SpendingBudget, self.json(resp, what), resp, what)
