"""Stage 2: the budget alert agreed with the customer: a monthly Cost budget per subscription with Actual and
Forecasted notifications to the agreed e-mails (and the MSP action group where monitoring is in the tier)."""

from __future__ import annotations

from datetime import datetime, timezone

from azure.core.exceptions import HttpResponseError

from .base import Context, ScopeFailure, StepInputError, error_text
from .desired import Desired, DesiredResourcesStep

API = "2024-08-01"
NAME = "msp-monthly-budget"


class BudgetAlert(DesiredResourcesStep):
    """One desired budget per subscription; an update keeps the budget's start date and eTag, as Azure requires."""

    item_id = "s2-budget-alert"
    requires = ("budget",)

    def explain(self, exc: HttpResponseError) -> str:
        """A subscription the budget API does not serve gets the cause and what the CSM must do."""
        text = error_text(exc)
        if (
            exc.status_code == 422
            or "Cost Management supports only" in text
            or "not supported for subscription" in text
        ):
            return (
                f"{text} The budget API does not serve this subscription (a CSP Azure plan without cost visibility, or "
                "an offer Cost Management does not support). CSM: in Partner Center, let the customer see Azure usage "
                "charges (or set the budget there), then record what was agreed in attestations.s2-budget-alert."
            )
        return text

    def desired(self, ctx: Context, unreadable: list[ScopeFailure]) -> list[Desired]:
        """The agreed budget on every subscription."""
        p = ctx.params
        if p.budget is None:
            raise StepInputError(
                "parameters: 'budget' (amount, currency, alert_thresholds) is required for the budget alert"
            )
        emails = list(p.budget.contact_emails or ([p.alerts.email] if p.alerts else []))
        if not emails:
            raise StepInputError(
                "parameters: 'budget.contact_emails' (or 'alerts.email') must name who receives budget alerts"
            )
        start = datetime.now(timezone.utc).strftime("%Y-%m-01T00:00:00Z")  # Azure: the first day of a month
        notes = {
            f"actual-{t}": {
                "enabled": True,
                "operator": "GreaterThanOrEqualTo",
                "threshold": t,
                "thresholdType": "Actual",
                "contactEmails": emails,
            }
            for t in p.budget.alert_thresholds
        }
        notes["forecast-100"] = {
            "enabled": True,
            "operator": "GreaterThanOrEqualTo",
            "threshold": 100,
            "thresholdType": "Forecasted",
            "contactEmails": emails,
        }
        table = []
        for sub in p.subscription_ids:
            body_notes = {k: dict(v) for k, v in notes.items()}
            if "s1-monitoring-alerting" in _monitored_items(p.tier):
                group = f"/subscriptions/{sub}/resourceGroups/{p.monitoring.resource_group}/providers/Microsoft.Insights/actionGroups/{p.monitoring.action_group}"
                for n in body_notes.values():
                    n["contactGroups"] = [group]
            amount = p.budget.amounts.get(sub, p.budget.amount)  # agreed per subscription, else the default
            body = {
                "properties": {
                    "category": "Cost",
                    "amount": amount,
                    "timeGrain": "Monthly",
                    "timePeriod": {"startDate": start},
                    "notifications": body_notes,
                }
            }
            table.append(
                Desired(
                    sub,
                    "budget",
                    f"/subscriptions/{sub}/providers/Microsoft.Consumption/budgets/{NAME}",
                    API,
                    body,
                    ("properties.category", "properties.amount", "properties.timeGrain", "properties.notifications"),
                    f"{amount:g} {p.budget.currency} a month",
                    preserve=("properties.timePeriod", "eTag"),
                )
            )
        return table


def _monitored_items(tier: str) -> set[str]:
    from ..customer import catalogue

    return {i.id for i in catalogue.load().items if i.applies_to(tier)}
