"""Microsoft.Consumption: budgets (with an eTag and a computed current spend).

Spec: specification/consumption/resource-manager/Microsoft.Consumption/Consumption/stable/2024-08-01/openapi.json
(models as in azure-mgmt-consumption). Rules:
- schema: category Cost, amount, timeGrain enum, timePeriod.startDate required; notification enabled / operator enum /
  threshold required, thresholdType Actual|Forecasted, locale enum;
- BudgetTimePeriod: "The start date must be first of the month and should be less than the end date. Budget start date
  must be on or after June 1, 2017.";
- BudgetProperties.notifications: "Budget can have up to five notifications"; Notification.threshold: "It is always
  percent and has to be between 0 and 1000"; contactEmails: "Must have at least one contact email or contact group
  specified at the Subscription or Resource Group scopes"; contactGroups: "Must be provided as a fully qualified Azure
  resource id";
- amount must be positive (UNVERIFIED: no source states the check; Azure's portal refuses 0);
- Budgets_CreateOrUpdate: "You can optionally provide an eTag if desired as a form of concurrency control" - a PUT
  without eTag overwrites; a stale eTag is refused with 400 and code "400": "There are changes made to Budget {name}.
  Please get the latest budget to avoid overwrite." (MicrosoftDocs/azure-docs#34023);
- the start date of an existing budget cannot change: 400 "Start date of budgets cannot be updated. Please delete and
  create a new budget." (Azure/CanadaPubSecALZ#317, jpsnover/ai-triad-research#1697: "400: ...").
The Consumption RP answers its own validation errors with the code "400" (the two bodies above); we use it for every
budget rule.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..core import ids, schema
from ..core.http import ArmError, Request, Response
from ..core.provider import Provider, TypeSpec

if TYPE_CHECKING:
    from ..core.arm import Arm

MODEL = "azure.mgmt.consumption.models:Budget"
NOTIFICATION = "azure.mgmt.consumption.models:Notification"
CODE = "400"
MAX_NOTIFICATIONS = 5
EARLIEST_START = datetime(2017, 6, 1, tzinfo=timezone.utc)
API = ("2024-08-01", "2023-11-01", "2023-05-01", "2021-10-01", "2019-10-01")


def _bad(message: str) -> ArmError:
    """The Consumption RP's 400 (its error code is the string "400")."""
    return ArmError(400, CODE, f"{message} (Request ID: {uuid.uuid4()})")


def _date(value: Any) -> datetime:
    """A budget date as an aware datetime (the schema already checked it parses)."""
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class Consumption(Provider):
    """Budgets."""

    namespace = "Microsoft.Consumption"
    # Budgets_Delete declares 200 only. Notifications are validated here (contactEmails may be replaced by groups).
    types = (
        TypeSpec(
            "Microsoft.Consumption/budgets",
            API,
            delete_codes=(200, 200),
            tracked=False,
            patch=False,
            model=MODEL,
            invalid_code=CODE,
            schema_skip=("properties.notifications",),
        ),
    )

    # ------------------------------------------------------------------ rules
    def validate_budgets(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, body: dict) -> None:
        """Schema, dates, amount, notifications and eTag of a budget PUT."""
        props = body.get("properties")
        if not isinstance(props, dict):
            raise _bad("Required property 'properties' not found in the budget.")
        name = ap.name
        start = _date(props["timePeriod"]["startDate"])
        if start.day != 1:
            raise _bad(f"The start date must be first of the month. Budget '{name}' has start date {start.date()}.")
        if start < EARLIEST_START:
            raise _bad("Budget start date must be on or after June 1, 2017.")
        end_text = props["timePeriod"].get("endDate")
        if end_text is not None and _date(end_text) <= start:
            raise _bad("The start date should be less than the end date.")
        if isinstance(props["amount"], (int, float)) and props["amount"] <= 0:
            raise _bad(f"The budget amount must be greater than 0; got {props['amount']}.")
        self.check_notifications(props.get("notifications"), ap.scope)
        existing = arm.state.get(ap.path)
        if existing is not None:
            self.check_update(existing, body, req, name)

    @staticmethod
    def check_notifications(notifications: Any, scope: str) -> None:
        """At most five notifications, each valid by the model, threshold 0-1000, with someone to notify."""
        if notifications is None:
            return
        if not isinstance(notifications, dict):
            raise _bad("The property 'notifications' must be an object keyed by notification name.")
        if len(notifications) > MAX_NOTIFICATIONS:
            raise _bad(f"Budget can have up to five notifications; {len(notifications)} were given.")
        for key, item in notifications.items():
            schema.validate(item, NOTIFICATION, CODE, skip=("contactEmails",))
            threshold = item["threshold"]
            if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1000:
                raise _bad(
                    f"The threshold of notification '{key}' must be a percentage between 0 and 1000; got {threshold}."
                )
            emails, groups = item.get("contactEmails") or [], item.get("contactGroups") or []
            if not emails and not groups:
                raise _bad(f"Notification '{key}' must have at least one contact email or contact group.")
            for group in groups:
                if ids.parse(str(group)).resource_type.lower() != "microsoft.insights/actiongroups":
                    raise _bad(
                        f"The contact group '{group}' of notification '{key}' must be a fully qualified action "
                        "group resource id."
                    )

    @staticmethod
    def check_update(existing: dict, body: dict, req: Request, name: str) -> None:
        """An update: the eTag (when given) must be current; the start date cannot change."""
        etag = body.get("eTag") or req.headers.get("if-match")
        if etag is not None and etag.strip('"') != str(existing.get("eTag", "")).strip('"'):
            raise _bad(f"There are changes made to Budget {name}. Please get the latest budget to avoid overwrite.")
        old = _date(existing["properties"]["timePeriod"]["startDate"])
        if _date(body["properties"]["timePeriod"]["startDate"]) != old:
            raise _bad("Start date of budgets cannot be updated. Please delete and create a new budget.")

    # ------------------------------------------------------------------ behaviour
    def on_budgets(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str) -> Response | None:
        """A new eTag on every write; the current spend is computed; endDate defaults to start + 10 years. A
        subscription whose offer Cost Management does not serve (fixture `cost_management: false`) refuses every
        budget call with the message of Azure/azure-powershell#11642 (status 400; the code is UNVERIFIED)."""
        sub_id = ids.subscription_of(ap.path)
        sub = arm.state.get(f"/subscriptions/{sub_id}") or {}
        if sub.get("_cost_management") is False:
            raise _bad(
                "Cost Management supports only Enterprise Agreement, Web direct and Microsoft Customer Agreement offer "
                f"types. Subscription {sub_id} is not associated with a valid offer type."
            )
        if req.method != "PUT":
            return None
        body = req.json()
        body.pop("eTag", None)
        period = (body.get("properties") or {}).get("timePeriod") or {}
        if period.get("startDate") and not period.get("endDate"):
            start = _date(period["startDate"])
            period["endDate"] = start.replace(year=start.year + 10).isoformat().replace("+00:00", "Z")
        props = body.setdefault("properties", {})
        props.setdefault("notifications", {})  # Azure returns {} for a budget without notifications
        if (req.api_version or "") < "2019-01-01" and "filters" not in props:
            # the 2018 versions' BudgetProperties.filters (resourceGroups, resources, meters), answered empty
            # (azure-cli test_consumption_budget_create.yaml, 2018-01-31)
            props["filters"] = {"resourceGroups": [], "resources": [], "meters": []}
        existing = arm.state.get(ap.path)
        answer = arm.put(req, ap, spec, existing, extra={"eTag": f'"{uuid.uuid4().hex[:15]}"'}, body=body)
        if answer.status in (200, 201):
            stored = arm.state.get(ap.path)
            assert stored is not None
            stored["properties"]["currentSpend"] = {"amount": 0.0, "unit": "EUR"}
            answer.body = arm.view(stored)
        return answer
