"""Microsoft Partner Center's REST API (`https://api.partnercenter.sandbox.test/v1/`, the stand-in for
`https://api.partnercenter.microsoft.com/v1/`) as an app registered in the partner's account meets it: the partner's
customers (by their tenant id), a customer's subscriptions, its agreement confirmations and its usage spending budget
(read and set), bearer authentication with the sandbox's Entra tokens (the audience `https://api.partnercenter.
microsoft.com`, the MSP's tenant, an app registered in Partner Center) and Partner Center's error bodies.

Sources (tests/contract/test_partner_center.py cites each): Microsoft Learn, Partner Center REST reference:
get-a-customer-by-id, get-a-list-of-customers, get-all-of-a-customer-s-subscriptions, get-a-customer-s-usage-spending-
budget, update-a-customer-s-usage-spending-budget ("the full resource"; 400/401/403 in the REST reference's "Azure
spending - Set customer usage budget"), get-confirmation-of-customer-agreement ("This scenario only supports App+User
authentication") and agreement-resources (type, dateAgreed, templateId, primaryContact), partner-center-rest-resources
(the Collection: totalCount, items, links, attributes.objectType), error-codes (the body `code`, `description`, and
the table: 401 code 800001 "Partner Token missing in request context" and 400 "Access denied", 403 2032 "Access
denied", 404 60003 "Tenant not found", 400 3000 "Invalid property"; the `WWW-Authenticate: OAuth realm=urn:cpsvc:
cpid:...` header); confirm-customer-consent-customer-agreement (a real error body with errorName, isRetryable,
parameters, errorMessageExtended); PartnerCenterSamples/Partner-Center-SDK-Samples#14 (an app-only token refused with
"The supplied role does not have the rights to perform the requested operation."). Wording no source confirms is
marked inferred below.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from ..core.http import Request, Response
from .hosted import HostedService

if TYPE_CHECKING:
    from ..core.identity import TokenIssuer
    from ..core.state import State

HOST = "api.partnercenter.sandbox.test"
AUDIENCES = ("https://api.partnercenter.microsoft.com", "https://api.partnercenter.microsoft.com/")
RELATIONSHIPS = ("none", "reseller", "advisor")
STATUSES = ("none", "active", "suspended", "deleted", "expired", "pending", "disabled")
ROLE_REFUSED = "The supplied role does not have the rights to perform the requested operation."


def error(
    status: int, code: int, description: str, name: str = "", retryable: bool = False, headers: dict | None = None
) -> Response:
    """Partner Center's error body: `code` and `description` (error-codes), with the fields its newer answers carry
    (errorName, isRetryable, parameters, errorMessageExtended; the names per error are inferred)."""
    body = {
        "code": code,
        "description": description,
        "errorName": name,
        "isRetryable": retryable,
        "parameters": {},
        "errorMessageExtended": f"InternalErrorCode={code}",
    }
    return Response(status, body, dict(headers or {}))


def _link(uri: str) -> dict:
    return {"uri": uri, "method": "GET", "headers": []}


def collection(items: list[dict], uri: str) -> dict:
    """A Partner Center Collection resource."""
    return {
        "totalCount": len(items),
        "items": items,
        "links": {"self": _link(uri)},
        "attributes": {"objectType": "Collection"},
    }


class PartnerCenter(HostedService):
    """One partner's Partner Center account: its customers with their subscriptions, agreements and usage budget, the
    apps registered in it (app-only sign-in), and whether agreements are served to app-only tokens (off, as Microsoft
    documents; a test may switch it on to read them)."""

    name = "partner_center"

    def __init__(self) -> None:
        super().__init__()
        self.customers: dict[str, dict] = {}  # tenant id (lower case) -> {profile, relationship, agreements, ...}
        self.apps: set[str] | None = None  # app ids registered in Partner Center; None: every app of the MSP tenant
        self.switches: dict[str, Any] = {"agreements_app_only": False}
        self.tokens: TokenIssuer | None = None
        self.msp_tenant_id = ""

    @classmethod
    def from_fixture(cls, data: dict | None) -> PartnerCenter:
        data = data or {}
        pc = cls()
        if data.get("apps") is not None:
            pc.apps = {str(a).lower() for a in data["apps"]}
        for c in data.get("customers") or []:
            pc.add_customer(c)
        return pc

    def add_customer(self, c: dict) -> dict:
        """A customer from its fixture shape: id (its tenant id), company_name, domain, relationship, agreements,
        subscriptions, usage_budget."""
        cid = str(c["id"]).lower()
        relationship = str(c.get("relationship", "reseller"))
        if relationship not in RELATIONSHIPS:
            raise ValueError(f"partner_center customer {cid}: relationship must be one of {', '.join(RELATIONSHIPS)}")
        subs = []
        for i, s in enumerate(c.get("subscriptions") or []):
            status = str(s.get("status", "active"))
            if status not in STATUSES:
                raise ValueError(f"partner_center subscription {s}: status must be one of {', '.join(STATUSES)}")
            subs.append(
                {
                    "id": str(s.get("id") or uuid.uuid5(uuid.NAMESPACE_URL, f"{cid}/{i}")),
                    "offerId": str(s.get("offer_id", "")),
                    "offerName": str(s.get("offer_name", "")),
                    "friendlyName": str(s.get("friendly_name") or s.get("offer_name", "")),
                    "quantity": int(s.get("quantity", 1)),
                    "unitType": str(s.get("unit_type", "Licenses")),
                    "creationDate": str(s.get("creation_date", "2026-11-18T09:00:00Z")),
                    "effectiveStartDate": str(s.get("creation_date", "2026-11-18T09:00:00Z")),
                    "status": status,
                    "autoRenewEnabled": bool(s.get("auto_renew", True)),
                    "billingType": str(s.get("billing_type", "license")),
                    "billingCycle": str(s.get("billing_cycle", "monthly")),
                    "termDuration": str(s.get("term_duration", "P1M")),
                    "contractType": "subscription",
                    "orderId": str(s.get("order_id") or uuid.uuid5(uuid.NAMESPACE_URL, f"{cid}/order/{i}")),
                    "attributes": {"etag": uuid.uuid4().hex, "objectType": "Subscription"},
                }
            )
        agreements = [
            {
                "primaryContact": {
                    "firstName": str((a.get("contact") or {}).get("first_name", "")),
                    "lastName": str((a.get("contact") or {}).get("last_name", "")),
                    "email": str((a.get("contact") or {}).get("email", "")),
                    "phoneNumber": str((a.get("contact") or {}).get("phone", "")),
                },
                "templateId": str(a.get("template_id") or uuid.uuid5(uuid.NAMESPACE_URL, str(a.get("type")))),
                "dateAgreed": str(a.get("date_agreed", "")),
                "type": str(a.get("type", "MicrosoftCustomerAgreement")),
                "agreementLink": "https://aka.ms/customeragreement",
                "userId": str(a.get("user_id") or uuid.uuid5(uuid.NAMESPACE_URL, f"{cid}/agreement-user")),
                "attributes": {"objectType": "Agreement"},
            }
            for a in c.get("agreements") or []
        ]
        budget = c.get("usage_budget")
        record = {
            "id": cid,
            "companyName": str(c.get("company_name", "")),
            "domain": str(c.get("domain", "")),
            "relationship": relationship,
            "subscriptions": subs,
            "agreements": agreements,
            "budget": None if budget is None else float(budget),
        }
        with self.lock:
            self.customers[cid] = record
        return record

    def attach(self, state: State, tokens: TokenIssuer) -> None:
        self.tokens, self.msp_tenant_id = tokens, state.msp_tenant_id
        if self.apps is None:  # not listed: the MSP's apps known at start (the runbook's)
            self.apps = set(state.msp_apps)

    def hosts(self) -> list[str]:
        return [HOST]

    def control(self, switches: dict[str, Any]) -> dict[str, Any]:
        """`agreements_app_only`: serve agreement confirmations to app-only tokens (Microsoft documents App+User only);
        `apps`: the app ids registered in Partner Center."""
        unknown = set(switches) - {*self.switches, "apps"}
        if unknown:
            raise ValueError(f"unknown partner_center switch(es): {', '.join(sorted(unknown))}")
        with self.lock:
            if "apps" in switches:
                self.apps = {str(a).lower() for a in switches["apps"]}
            self.switches.update({k: bool(v) for k, v in switches.items() if k != "apps"})
            return {**self.switches, "apps": sorted(self.apps or ())}

    # --- requests --------------------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        with self.lock:
            self.calls += 1
            claims = self._claims(req)
            if isinstance(claims, Response):
                return claims
            resp = self._route(req, claims)
            resp.headers.setdefault("MS-CorrelationId", req.headers.get("ms-correlationid") or str(uuid.uuid4()))
            resp.headers.setdefault("MS-RequestId", req.headers.get("ms-requestid") or str(uuid.uuid4()))
            return resp

    def _unauthorized(self, code: int, description: str) -> Response:
        # the challenge header as error-codes shows it; the cid in it is not documented (inferred: the partner tenant)
        return error(
            401,
            code,
            description,
            "Unauthorized",
            headers={"WWW-Authenticate": f"OAuth realm=urn:cpsvc:cpid:{self.msp_tenant_id}"},
        )

    def _claims(self, req: Request) -> dict | Response:
        """The token's claims, or Partner Center's 401 (no, a foreign, an expired token; another audience; another
        tenant than the partner's) / 403 (an app not registered in Partner Center)."""
        auth = req.headers.get("authorization", "")
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            return self._unauthorized(800001, "Partner Token missing in request context")
        claims = self.tokens.claims(auth[7:].strip()) if self.tokens is not None else None
        if claims is None:
            return self._unauthorized(400, "Access denied: the access token is not valid.")  # wording inferred
        if float(claims.get("exp", 0)) <= time.time():
            return self._unauthorized(400, "Access denied: the access token has expired.")  # wording inferred
        if claims.get("aud") not in AUDIENCES:
            return self._unauthorized(
                400,
                f"Access denied: the access token was issued for another audience ({claims.get('aud')}); ask for {AUDIENCES[0]}.",
            )  # wording inferred
        if str(claims.get("tid", "")).lower() != self.msp_tenant_id.lower():
            return self._unauthorized(
                400, f"Access denied: the access token's tenant {claims.get('tid')} is not the partner's tenant."
            )  # wording inferred
        if str(claims.get("appid", "")).lower() not in (self.apps or set()):
            return error(403, 2032, "Access denied", "AccessDenied")  # the app is not registered in Partner Center
        return claims

    def _route(self, req: Request, claims: dict) -> Response:
        parts = [p.lower() for p in req.path.split("/") if p]
        if not parts or parts[0] != "v1":
            return error(404, 1000, "Not found", "NotFound")
        rest = parts[1:]
        if rest == ["customers"]:
            return self._customers(req) if req.method == "GET" else self._not_allowed()
        if len(rest) < 2 or rest[0] != "customers":
            return error(404, 1000, "Not found", "NotFound")
        customer = self.customers.get(rest[1])
        if customer is None:
            return error(404, 60003, f"Tenant not found: {rest[1]}", "TenantNotFound")  # wording after the id inferred
        tail = rest[2:]
        if tail == [] and req.method == "GET":
            return Response(200, self._customer(customer))
        if tail == ["subscriptions"] and req.method == "GET":
            items = [dict(s) for s in customer["subscriptions"]]
            return Response(200, collection(items, f"/customers/{customer['id']}/subscriptions"))
        if tail == ["agreements"] and req.method == "GET":
            return self._agreements(req, claims, customer)
        if tail == ["usagebudget"] and req.method == "GET":
            return Response(200, self._budget(customer))
        if tail == ["usagebudget"] and req.method == "PATCH":
            return self._set_budget(req, customer)
        if tail in ([], ["subscriptions"], ["agreements"], ["usagebudget"]):
            return self._not_allowed()
        return error(404, 1000, "Not found", "NotFound")

    @staticmethod
    def _not_allowed() -> Response:
        return error(
            405, 405, "The requested resource does not support the HTTP method.", "MethodNotAllowed"
        )  # inferred

    def _customers(self, req: Request) -> Response:
        try:
            size = int(req.query.get("size") or 500)
        except ValueError:
            return error(400, 3000, "Invalid property: size must be a number.", "InvalidProperty")  # wording inferred
        listed = [self._customer(c) for _, c in sorted(self.customers.items())][: max(0, size)]
        return Response(200, collection(listed, "/customers"))

    @staticmethod
    def _customer(c: dict) -> dict:
        cid = c["id"]
        return {
            "id": cid,
            "commerceId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"commerce/{cid}")),
            "companyProfile": {
                "tenantId": cid,
                "domain": c["domain"],
                "companyName": c["companyName"],
                "attributes": {"objectType": "CustomerCompanyProfile"},
            },
            "relationshipToPartner": c["relationship"],
            "allowDelegatedAccess": True,
            "links": {"self": _link(f"/customers/{cid}")},
            "attributes": {"objectType": "Customer"},
        }

    def _agreements(self, req: Request, claims: dict, c: dict) -> Response:
        if claims.get("idtyp") == "app" and not self.switches["agreements_app_only"]:
            # get-confirmation-of-customer-agreement: "This scenario only supports App+User authentication"
            return error(403, 2032, ROLE_REFUSED, "AccessDenied")  # code inferred; the message: SDK-Samples#14
        wanted = req.query.get("agreementtype") or "MicrosoftCloudAgreement"  # get-agreements: the default
        items = [dict(a) for a in c["agreements"] if wanted == "*" or a["type"].lower() == wanted.lower()]
        return Response(200, collection(items, f"/customers/{c['id']}/agreements"))

    @staticmethod
    def _budget(c: dict) -> dict:
        return {"amount": c["budget"], "attributes": {"objectType": "SpendingBudget"}}

    def _set_budget(self, req: Request, c: dict) -> Response:
        try:
            body = json.loads(req.body or b"null")
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            return error(400, 800002, "Invalid request input", "InvalidRequestInput")  # the error-codes table
        fields = {str(k).lower(): v for k, v in body.items()}  # Partner Center's JSON is case-insensitive
        amount = fields.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, (int, float)):
            return error(400, 3000, "Invalid property: Amount must be a number.", "InvalidProperty")  # wording inferred
        if amount < 0:
            return error(
                400, 3000, "Invalid property: Amount must be greater than or equal to 0.", "InvalidProperty"
            )  # wording inferred
        c["budget"] = float(amount)
        return Response(200, self._budget(c))
