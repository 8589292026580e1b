"""Stage 1: monitoring and alerting: action group, Service/Resource Health alerts, baseline metric alerts."""
from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

import yaml

from ..inventory import customer_resources
from ..results import Change
from .base import Context, Observation, Step, StepInputError, Verdict
from .tagging import managed_marking

RULES_FILE = Path(__file__).resolve().parents[1] / "data" / "baseline_alerts.yml"
HEALTH_ALERTS = {"ala-service-health": "ServiceHealth", "ala-resource-health": "ResourceHealth"}


@lru_cache(maxsize=1)
def baseline_rules() -> dict[str, list[dict]]:
    """Baseline metric alert rules by lower-cased resource type."""
    return yaml.safe_load(RULES_FILE.read_text())


def metric_alert_name(rule_id: str, resource_id: str) -> str:
    """A stable, unique alert name: rule, resource name and a short hash of the full ID."""
    name = re.sub(r"[^A-Za-z0-9-]", "-", resource_id.rstrip("/").rsplit("/", 1)[-1])[:40]
    return f"ma-{rule_id}-{name}-{hashlib.sha256(resource_id.lower().encode()).hexdigest()[:6]}"


def desired_action_group(ctx: Context) -> dict:
    """The MSP action group in REST shape."""
    alerts = ctx.params.alerts
    body = {"location": "Global", "properties": {"groupShortName": "intercept", "enabled": True, "emailReceivers": [{"name": "msp-alerts", "emailAddress": alerts.email, "useCommonAlertSchema": True}], "webhookReceivers": []}}
    if alerts.webhook:
        body["properties"]["webhookReceivers"] = [{"name": "msp-webhook", "serviceUri": alerts.webhook, "useCommonAlertSchema": True}]
    return body


def desired_health_alert(sub: str, category: str, action_group_id: str) -> dict:
    """A subscription-wide activity log alert on one health category."""
    return {"location": "Global", "properties": {"scopes": [f"/subscriptions/{sub}"], "condition": {"allOf": [{"field": "category", "equals": category}]}, "actions": {"actionGroups": [{"actionGroupId": action_group_id}]}, "enabled": True, "description": f"MSP baseline: {category} events for the subscription"}}


def desired_metric_alert(resource_id: str, rule: dict, action_group_id: str) -> dict:
    """A single-resource static-threshold metric alert in REST shape."""
    criterion = {"name": rule["id"], "metricName": rule["metric"], "operator": rule["operator"], "threshold": rule["threshold"], "timeAggregation": rule["aggregation"], "criterionType": "StaticThresholdCriterion"}
    return {"location": "global", "properties": {"description": f"MSP baseline: {rule['metric']} {rule['operator']} {rule['threshold']}", "severity": rule["severity"], "enabled": True, "scopes": [resource_id], "evaluationFrequency": "PT5M", "windowSize": "PT15M", "criteria": {"odata.type": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria", "allOf": [criterion]}, "autoMitigate": True, "actions": [{"actionGroupId": action_group_id}]}}


def _ag_state(ag) -> tuple:
    return (ag.group_short_name, ag.enabled, sorted((r.name, r.email_address) for r in ag.email_receivers or []), sorted((r.name, r.service_uri) for r in ag.webhook_receivers or []))


def _want_ag_state(body: dict) -> tuple:
    p = body["properties"]
    return (p["groupShortName"], p["enabled"], sorted((r["name"], r["emailAddress"]) for r in p["emailReceivers"]), sorted((r["name"], r["serviceUri"]) for r in p["webhookReceivers"]))


def _ala_state(a) -> tuple:
    conds = [(c.field.lower(), (c.equals or "").lower()) for c in a.condition.all_of]
    return ([s.lower() for s in a.scopes], conds, sorted(g.action_group_id.lower() for g in a.actions.action_groups), a.enabled)


def _want_ala_state(body: dict) -> tuple:
    p = body["properties"]
    return ([s.lower() for s in p["scopes"]], [(c["field"].lower(), c["equals"].lower()) for c in p["condition"]["allOf"]], sorted(g["actionGroupId"].lower() for g in p["actions"]["actionGroups"]), p["enabled"])


def _ma_state(m) -> tuple:
    crit = [(c.metric_name, c.operator, float(c.threshold), c.time_aggregation) for c in m.criteria.all_of]
    return ([s.lower() for s in m.scopes], crit, m.severity, m.enabled, sorted(a.action_group_id.lower() for a in m.actions or []))


def _want_ma_state(body: dict) -> tuple:
    p = body["properties"]
    crit = [(c["metricName"], c["operator"], float(c["threshold"]), c["timeAggregation"]) for c in p["criteria"]["allOf"]]
    return ([s.lower() for s in p["scopes"]], crit, p["severity"], p["enabled"], sorted(a["actionGroupId"].lower() for a in p["actions"]))


class MonitoringAlerting(Step):
    """Per subscription: an action group, health alerts, and baseline metric alerts on managed resources."""

    item_id = "s1-monitoring-alerting"

    def __init__(self) -> None:
        self.bodies: dict[str, dict] = {}  # kept out of the evidence: a webhook URL may carry a token
    def inspect(self, ctx: Context) -> Observation:
        """Existing monitoring objects in each subscription's monitoring resource group, and what is wanted."""
        if ctx.params.alerts is None:
            raise StepInputError("parameters: 'alerts' (email, optional webhook) is required for monitoring and alerting")
        m = ctx.params.monitoring
        resources = customer_resources(ctx.clients, ctx.params.subscription_ids, ctx.params.monitoring.resource_group)
        managed = managed_marking(ctx, resources).managed
        rules = baseline_rules()
        wanted: list[tuple[str, str, str, dict, object]] = []  # (sub, kind, name, body, existing)
        rows = []
        for sub in ctx.params.subscription_ids:
            rc, mon = ctx.clients.resource(sub), ctx.clients.monitor(sub)
            rg_exists = rc.resource_groups.check_existence(m.resource_group)
            ag_id = f"/subscriptions/{sub}/resourceGroups/{m.resource_group}/providers/Microsoft.Insights/actionGroups/{m.action_group}"
            existing_ag = existing_ala = existing_ma = {}
            if rg_exists:
                existing_ag = {a.name.lower(): a for a in mon.action_groups.list_by_resource_group(m.resource_group)}
                existing_ala = {a.name.lower(): a for a in mon.activity_log_alerts.list_by_resource_group(m.resource_group)}
                existing_ma = {a.name.lower(): a for a in mon.metric_alerts.list_by_resource_group(m.resource_group)}
            wanted.append((sub, "resource group", m.resource_group, {"location": m.location}, True if rg_exists else None))
            wanted.append((sub, "action group", m.action_group, desired_action_group(ctx), existing_ag.get(m.action_group.lower())))
            for name, category in HEALTH_ALERTS.items():
                wanted.append((sub, "activity log alert", name, desired_health_alert(sub, category, ag_id), existing_ala.get(name)))
            for r in resources:
                if r.subscription_id != sub or r.key not in managed:
                    continue
                for rule in rules.get(r.type.lower(), []):
                    name = metric_alert_name(rule["id"], r.id)
                    wanted.append((sub, "metric alert", name, desired_metric_alert(r.id, rule, ag_id), existing_ma.get(name.lower())))
        for sub, kind, name, body, existing in wanted:
            target = body["properties"]["scopes"][0] if kind == "metric alert" else f"/subscriptions/{sub}"
            rows.append({"subscription": sub, "kind": kind, "name": name, "watches": target, "state": "in place" if existing is not None and not self._differs(kind, body, existing) else ("differs" if existing is not None else "missing")})
        return Observation(rows, {"wanted": wanted})

    @staticmethod
    def _differs(kind: str, body: dict, existing) -> bool:
        """Whether an existing object differs from the wanted body in anything the MSP relies on."""
        if kind == "resource group":
            return False
        if kind == "action group":
            return _ag_state(existing) != _want_ag_state(body)
        if kind == "activity log alert":
            return _ala_state(existing) != _want_ala_state(body)
        return _ma_state(existing) != _want_ma_state(body)

    def plan(self, ctx: Context, obs: Observation) -> list[Change]:
        """Create what is missing and update what differs, in dependency order."""
        changes = []
        for sub, kind, name, body, existing in obs.facts["wanted"]:
            if existing is None or self._differs(kind, body, existing):
                verb = "create" if existing is None else "update"
                target = f"/subscriptions/{sub}/resourceGroups/{ctx.params.monitoring.resource_group}" + ("" if kind == "resource group" else f"/{kind.replace(' ', '-')}/{name}")
                self.bodies[target] = body
                changes.append(Change(target, f"{verb} {kind}", {"name": name}))
        return changes

    def apply(self, ctx: Context, changes: list[Change]) -> list[Change]:
        """Create or update each object with its SDK operation."""
        m = ctx.params.monitoring
        applied = []
        for c in changes:
            sub = c.target.split("/")[2]
            kind = c.action.split(" ", 1)[1]
            body = self.bodies[c.target]
            if kind == "resource group":
                ctx.clients.resource(sub).resource_groups.create_or_update(m.resource_group, body)
            elif kind == "action group":
                ctx.clients.monitor(sub).action_groups.create_or_update(m.resource_group, c.detail["name"], body)
            elif kind == "activity log alert":
                ctx.clients.monitor(sub).activity_log_alerts.create_or_update(m.resource_group, c.detail["name"], body)
            else:
                ctx.clients.monitor(sub).metric_alerts.create_or_update(m.resource_group, c.detail["name"], body)
            applied.append(c)
        return applied

    def judge(self, ctx: Context, obs: Observation, pending: list[Change], applied: list[Change]) -> Verdict:
        """Fulfilled when every wanted object is in place."""
        if pending:
            return super().judge(ctx, obs, pending, applied)
        counts: dict[str, int] = {}
        for _sub, kind, *_ in obs.facts["wanted"]:
            counts[kind] = counts.get(kind, 0) + 1
        done = f" ({len(applied)} change(s) applied)" if applied else ""
        return Verdict("fulfilled", "In place: " + ", ".join(f"{v} {k}(s)" for k, v in counts.items()) + f" across {len(ctx.params.subscription_ids)} subscription(s){done}.")

