"""Stage 1: monitoring and alerting: action group, Service/Resource Health alerts, baseline metric alerts."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

import yaml

from ..customer.params import SAFE_LOADER
from .base import Context, ScopeFailure, StepInputError
from .desired import Desired, DesiredResourcesStep
from .tagging import managed_marking

RULES_FILE = Path(__file__).resolve().parents[1] / "data" / "baseline_alerts.yml"
HEALTH_ALERTS = {"ala-service-health": "ServiceHealth", "ala-resource-health": "ResourceHealth"}


@lru_cache(maxsize=1)
def baseline_rules() -> dict[str, list[dict]]:
    """Baseline metric alert rules by lower-cased resource type."""
    return yaml.load(RULES_FILE.read_text(), Loader=SAFE_LOADER)


def metric_alert_name(rule_id: str, resource_id: str) -> str:
    """A stable, unique alert name: rule, resource name and a short hash of the full ID."""
    name = re.sub(r"[^A-Za-z0-9-]", "-", resource_id.rstrip("/").rsplit("/", 1)[-1])[:40]
    return f"ma-{rule_id}-{name}-{hashlib.sha256(resource_id.lower().encode()).hexdigest()[:6]}"


def desired_action_group(ctx: Context) -> dict:
    """The MSP action group in REST shape."""
    alerts = ctx.params.alerts
    if alerts is None:
        raise StepInputError("parameters: 'alerts' (email, optional webhook) is required for monitoring and alerting")
    webhooks = (
        [{"name": "msp-webhook", "serviceUri": alerts.webhook, "useCommonAlertSchema": True}] if alerts.webhook else []
    )
    return {
        "location": "Global",
        "properties": {
            "groupShortName": "intercept",
            "enabled": True,
            "emailReceivers": [{"name": "msp-alerts", "emailAddress": alerts.email, "useCommonAlertSchema": True}],
            "webhookReceivers": webhooks,
        },
    }


def desired_health_alert(sub: str, category: str, action_group_id: str) -> dict:
    """A subscription-wide activity log alert on one health category."""
    return {
        "location": "Global",
        "properties": {
            "scopes": [f"/subscriptions/{sub}"],
            "condition": {"allOf": [{"field": "category", "equals": category}]},
            "actions": {"actionGroups": [{"actionGroupId": action_group_id}]},
            "enabled": True,
            "description": f"MSP baseline: {category} events for the subscription",
        },
    }


def desired_metric_alert(resource_id: str, rule: dict, action_group_id: str) -> dict:
    """A single-resource static-threshold metric alert in REST shape."""
    criterion = {
        "name": rule["id"],
        "metricName": rule["metric"],
        "operator": rule["operator"],
        "threshold": rule["threshold"],
        "timeAggregation": rule["aggregation"],
        "criterionType": "StaticThresholdCriterion",
    }
    return {
        "location": "global",
        "properties": {
            "description": f"MSP baseline: {rule['metric']} {rule['operator']} {rule['threshold']}",
            "severity": rule["severity"],
            "enabled": True,
            "scopes": [resource_id],
            "evaluationFrequency": "PT5M",
            "windowSize": "PT15M",
            "criteria": {
                "odata.type": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                "allOf": [criterion],
            },
            "autoMitigate": True,
            "actions": [{"actionGroupId": action_group_id}],
        },
    }


API = {
    "resource group": "2025-04-01",
    "action group": "2023-01-01",
    "activity log alert": "2020-10-01",
    "metric alert": "2018-03-01",
}
COMPARE = {
    "resource group": (),
    "action group": (
        "properties.groupShortName",
        "properties.enabled",
        "properties.emailReceivers[name,emailAddress]",
        "properties.webhookReceivers[name,serviceUri]",
    ),
    "activity log alert": (
        "properties.scopes",
        "properties.condition.allOf[field,equals]",
        "properties.actions.actionGroups[actionGroupId]",
        "properties.enabled",
    ),
    "metric alert": (
        "properties.scopes",
        "properties.criteria.allOf[metricName,operator,threshold,timeAggregation]",
        "properties.severity",
        "properties.enabled",
        "properties.actions[actionGroupId]",
    ),
}


class MonitoringAlerting(DesiredResourcesStep):
    """Per subscription: an action group, health alerts, and baseline metric alerts on managed resources."""

    item_id = "s1-monitoring-alerting"
    requires = ("alerts",)

    def desired(self, ctx: Context, unreadable: list[ScopeFailure]) -> list[Desired]:
        """The monitoring resource group, action group and health alerts per subscription, then a baseline metric alert
        per rule and managed resource."""
        if ctx.params.alerts is None:
            raise StepInputError(
                "parameters: 'alerts' (email, optional webhook) is required for monitoring and alerting"
            )
        m = ctx.params.monitoring
        resources = ctx.resources(m.resource_group, unreadable)
        managed = managed_marking(ctx, resources, unreadable).managed
        rules = baseline_rules()
        table: list[Desired] = []

        def row(sub: str, kind: str, rid: str, body: dict, watches: str = "") -> None:
            table.append(Desired(sub, kind, rid, API[kind], body, COMPARE[kind], watches))

        for sub in ctx.params.subscription_ids:
            rg = f"/subscriptions/{sub}/resourceGroups/{m.resource_group}"
            ag_id = f"{rg}/providers/Microsoft.Insights/actionGroups/{m.action_group}"
            row(sub, "resource group", rg, {"location": m.location})
            row(sub, "action group", ag_id, desired_action_group(ctx))
            for name, category in HEALTH_ALERTS.items():
                row(
                    sub,
                    "activity log alert",
                    f"{rg}/providers/Microsoft.Insights/activityLogAlerts/{name}",
                    desired_health_alert(sub, category, ag_id),
                )
            for r in resources:
                if r.subscription_id != sub or r.key not in managed:
                    continue
                for rule in rules.get(r.type.lower(), []):
                    alert = f"{rg}/providers/Microsoft.Insights/metricAlerts/{metric_alert_name(rule['id'], r.id)}"
                    row(sub, "metric alert", alert, desired_metric_alert(r.id, rule, ag_id), r.id)
        return table
