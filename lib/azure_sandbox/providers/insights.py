"""Microsoft.Insights (Azure Monitor): action groups, metric alerts, activity log alerts, diagnostic settings, and the
metric definitions of the resource types the runbook alerts on.

Specs: specification/monitor/resource-manager/Microsoft.Insights/stable/2023-01-01/actionGroups_API.json,
.../stable/2018-03-01/metricAlert_API.json, .../stable/2020-10-01/activityLogAlerts_API.json,
.../preview/2021-05-01-preview/diagnosticsSettings_API.json, .../stable/2024-02-01/metricDefinitions_API.json.
Metric definitions are data (data/metric_definitions.yml, from the Azure Monitor "Supported metrics" reference).
Semantic rules (codes and sources in tests/contract/test_rules_policy_monitor.py and docs/sandbox.md): metric alerts
refuse an unknown metric of the target type, a missing scope or action group, a severity outside 0-4, a window or
frequency Azure does not offer; action groups refuse a short name over 12 characters and malformed receivers;
activity log alerts need scopes that exist and a condition.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..core import ids
from ..core.http import ArmError, Request, Response, arm_error
from ..core.provider import Provider, Route, TypeSpec

if TYPE_CHECKING:
    from ..core.arm import Arm

_M = "azure.mgmt.monitor.models"
_DATA = Path(__file__).resolve().parent / "data" / "metric_definitions.yml"
RECEIVER_KINDS = (
    "emailReceivers",
    "smsReceivers",
    "webhookReceivers",
    "itsmReceivers",
    "azureAppPushReceivers",
    "automationRunbookReceivers",
    "voiceReceivers",
    "logicAppReceivers",
    "azureFunctionReceivers",
    "armRoleReceivers",
    "eventHubReceivers",
)
METRIC_DEFINITION_API = ("2024-02-01", "2023-10-01", "2021-05-01", "2018-01-01")
# learn.microsoft.com/azure/azure-monitor/alerts/alerts-metric-create-templates: the allowed values of the template's
# evaluationFrequency and windowSize parameters (PT24H and P1D are the same day).
EVALUATION_FREQUENCIES = ("PT1M", "PT5M", "PT15M", "PT30M", "PT1H")
WINDOW_SIZES = ("PT1M", "PT5M", "PT15M", "PT30M", "PT1H", "PT6H", "PT12H", "PT24H", "P1D")
_GRAINS = ("PT1M", "PT5M", "PT15M", "PT30M", "PT1H", "PT6H", "PT12H", "P1D")
_AGGREGATIONS = ["None", "Average", "Minimum", "Maximum", "Total", "Count"]
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DIGITS = re.compile(r"^\d+$")
_URI = re.compile(r"^https?://[^\s/]+", re.IGNORECASE)


@lru_cache(maxsize=1)
def metric_table() -> dict[str, list[list[str]]]:
    """Rows of data/metric_definitions.yml by lower-cased resource type."""
    return yaml.load(_DATA.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: 15x


def minutes(duration: str) -> int | None:
    """Minutes of an ISO 8601 duration of days, hours and minutes (None if it is another form)."""
    m = _DURATION.match(duration or "")
    if not m or not any(m.groups()):
        return None
    d, h, mi = (int(x or 0) for x in m.groups())
    return d * 1440 + h * 60 + mi


def metric_names(resource_type: str) -> dict[str, str] | None:
    """Lower-cased metric name -> its REST name, for a type the sandbox knows the metrics of (else None)."""
    rows = metric_table().get(resource_type.lower())
    return None if rows is None else {r[0].lower(): r[0] for r in rows}


def metric_definitions(resource_id: str, resource_type: str, api_version: str) -> list[dict]:
    """The metricDefinitions list items of a resource, in the 2018-01-01 .. 2024-02-01 shape."""
    out = []
    for name, unit, aggs, dims, grain, *display in metric_table().get(resource_type.lower(), []):
        smallest = minutes(grain) or 1
        item: dict[str, Any] = {
            "id": f"{resource_id}/providers/microsoft.insights/metricdefinitions/{name}",
            "resourceId": resource_id,
            "namespace": resource_type,
            "name": {"value": name, "localizedValue": display[0] if display else name},
            "displayDescription": display[0] if display else name,
            "isDimensionRequired": False,
            "unit": unit,
            "primaryAggregationType": aggs.split("|")[0],
            "supportedAggregationTypes": _AGGREGATIONS,
            "metricAvailabilities": [
                {"timeGrain": g, "retention": "P93D"} for g in _GRAINS if (minutes(g) or 0) >= smallest
            ],
            "dimensions": [{"value": d, "localizedValue": d} for d in dims.split("|") if d],
        }
        if api_version >= "2023-10-01":
            item.update(category="Other", metricClass="Utilization")
        out.append(item)
    return out


def _bad(message: str) -> ArmError:
    """Azure Monitor's 400 for a rule it refuses (its ErrorResponse code is BadRequest)."""
    return ArmError(400, "BadRequest", message)


class Insights(Provider):
    """Azure Monitor alerting, diagnostic settings and metric definitions."""

    namespace = "Microsoft.Insights"
    types = (
        TypeSpec(
            "Microsoft.Insights/actionGroups",
            ("2023-01-01", "2024-10-01-preview", "2022-06-01", "2021-09-01", "2019-06-01"),
            model=f"{_M}:ActionGroupResource",
            global_location=True,
            invalid_code="BadRequest",
            schema_skip=("properties.groupShortName",),
        ),
        TypeSpec(
            "Microsoft.Insights/metricAlerts",
            ("2018-03-01", "2024-03-01-preview"),
            put_created=200,
            model=f"{_M}:MetricAlertResource",
            global_location=True,
            global_only=True,
            invalid_code="BadRequest",
        ),
        TypeSpec(
            "Microsoft.Insights/activityLogAlerts",
            ("2020-10-01", "2023-01-01-preview", "2017-04-01"),
            model=f"{_M}:ActivityLogAlertResource",
            global_location=True,
            global_only=True,
            invalid_code="BadRequest",
        ),
        TypeSpec(
            "Microsoft.Insights/diagnosticSettings",
            ("2021-05-01-preview", "2017-05-01-preview"),
            put_created=200,
            tracked=False,
            patch=False,
        ),
    )
    routes = (
        Route(
            r"(?P<res>/subscriptions/[^/]+/resourcegroups/[^/]+/providers/[^/]+/.+?)"
            r"/providers/microsoft\.insights/metricdefinitions",
            "list_metric_definitions",
            METRIC_DEFINITION_API,
            "metricDefinitions",
            ("GET",),
            namespace_error=True,
            type="Microsoft.Insights/metricDefinitions",
        ),
    )

    # ------------------------------------------------------------------ metric definitions
    def list_metric_definitions(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """GET {resourceId}/providers/Microsoft.Insights/metricDefinitions: the platform metrics of the resource's type
        (empty for a type the sandbox has no table for; filtered by `metricnamespace`)."""
        rid = path[: len(m.group("res"))]
        obj = arm.state.get(rid)
        if obj is None:
            parsed = ids.parse(rid)
            return arm_error(
                404,
                "ResourceNotFound",
                f"The Resource '{parsed.resource_type}/{parsed.name}' under resource group "
                f"'{ids.resource_group_of(rid)}' was not found. For more details please go to "
                "https://aka.ms/ARMResourceNotFoundFix",
            )
        if denied := arm.authorize(principal, rid, "Microsoft.Insights/metricDefinitions/read"):
            return denied
        namespace = req.query.get("metricnamespace")
        other = namespace and namespace.lower() != obj["type"].lower()
        items = [] if other else metric_definitions(obj["id"], obj["type"], req.api_version or "")
        return Response(200, {"value": items})

    # ------------------------------------------------------------------ action groups
    def validate_actiongroups(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, body: dict) -> None:
        """Short name 1-12 characters; receiver names unique; e-mail, SMS and webhook receivers well-formed."""
        props = body.get("properties") or {}
        short = props.get("groupShortName")
        if req.method == "PUT" and (not isinstance(short, str) or not short.strip()):
            raise ArmError(
                400,
                "GroupShortNameIsNullOrEmpty",
                "The action group short name is null or empty. "
                "Please specify a short name with '12' or less "
                "characters.",
            )
        if isinstance(short, str) and len(short) > 12:
            raise ArmError(
                400,
                "GroupShortNameIsTooLong",
                f"The action group short name '{short}' is too long. "
                "Please specify a short name with '12' or less characters",
            )
        seen: set[str] = set()
        for kind in RECEIVER_KINDS:
            for r in props.get(kind) or []:
                name = str(r.get("name", ""))
                if name.lower() in seen:
                    raise ArmError(
                        400,
                        "ReceiverNamesAreNotUnique",
                        f"The receiver name '{name}' is used more than once in the action group. "
                        "Receiver names must be unique across all receivers.",
                    )
                seen.add(name.lower())
        for r in props.get("emailReceivers") or []:
            if not _EMAIL.match(str(r.get("emailAddress", ""))):
                raise ArmError(
                    400,
                    "EmailAddressIsInvalid",
                    f"The email address '{r.get('emailAddress')}' of email receiver '{r.get('name')}' "
                    "is not a valid email address.",
                )
        for kind, label in (("smsReceivers", "SmsReceiver"), ("voiceReceivers", "VoiceReceiver")):
            for r in props.get(kind) or []:
                code = str(r.get("countryCode", ""))
                if not _DIGITS.match(code) or len(code) > 3:
                    raise ArmError(
                        400,
                        f"{label}CountryCodeIsInvalid",
                        f"The country code '{code}' of receiver "
                        f"'{r.get('name')}' is invalid: it must be "
                        "1 to 3 digits.",
                    )
                if not _DIGITS.match(str(r.get("phoneNumber", ""))):
                    raise ArmError(
                        400,
                        f"{label}PhoneNumberIsInvalid",
                        f"The phone number '{r.get('phoneNumber')}' of receiver '{r.get('name')}' is "
                        "invalid: it must contain digits only.",
                    )
        for r in props.get("webhookReceivers") or []:
            if not _URI.match(str(r.get("serviceUri", ""))):
                raise ArmError(
                    400,
                    "WebhookReceiverServiceUriIsInvalid",
                    f"The service URI '{r.get('serviceUri')}' of webhook receiver '{r.get('name')}' is "
                    "not an absolute http or https URI.",
                )

    def on_actiongroups(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str
    ) -> Response | None:
        """Azure marks e-mail and SMS receivers Enabled, lists every receiver kind, and enables the group."""
        if req.method == "PUT":
            if locked := arm.check_locks(ap.path, req.method):
                return locked
            body = req.json()
            props = body.setdefault("properties", {})
            for kind in ("emailReceivers", "smsReceivers"):
                for receiver in props.get(kind) or []:
                    receiver.setdefault("status", "Enabled")
            for kind in RECEIVER_KINDS:
                props.setdefault(kind, [])
            props.setdefault("enabled", True)
            return arm.put(req, ap, spec, arm.state.get(ap.path), body=body)
        return None

    # ------------------------------------------------------------------ metric alerts
    @staticmethod
    def _scope_type(arm: Arm, scope: str) -> str:
        """The resource type of an alert scope that exists (subscription and group scopes by their type), or 400."""
        obj = arm.state.get(scope) if scope.startswith("/") else None
        if obj is None:
            raise _bad(f"Alert scope is invalid: the resource '{scope}' was not found.")
        return str(obj.get("type") or "")

    def validate_metricalerts(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, body: dict) -> None:
        """Severity, frequency and window; scopes exist and share one type; every criterion names a metric of that
        type (unless skipMetricValidation); action groups exist in the rule's subscription."""
        props = body.get("properties") or {}
        if req.method == "PATCH" and not props:
            return
        severity = props.get("severity")
        if isinstance(severity, int) and not 0 <= severity <= 4:
            raise _bad(f"The severity '{severity}' is invalid. Severity must be an integer between 0 and 4.")
        frequency, window = str(props.get("evaluationFrequency", "")), str(props.get("windowSize", ""))
        if frequency and frequency.upper() not in EVALUATION_FREQUENCIES:
            raise _bad(
                f"The evaluation frequency '{frequency}' is not supported. Supported values: "
                f"{', '.join(EVALUATION_FREQUENCIES)}."
            )
        if window and window.upper() not in WINDOW_SIZES:
            raise _bad(f"The window size '{window}' is not supported. Supported values: {', '.join(WINDOW_SIZES)}.")
        if frequency and window and (minutes(window) or 0) < (minutes(frequency) or 0):
            raise _bad(
                f"The window size '{window}' must be greater than or equal to the evaluation frequency '{frequency}'."
            )
        scopes = props.get("scopes")
        if req.method == "PUT" and not scopes:
            raise _bad("Alert scope is invalid: 'scopes' must name at least one resource.")
        types = {self._scope_type(arm, s).lower() for s in scopes or []}
        target = str(props.get("targetResourceType") or "").lower()
        if len(types) > 1 and not target:
            raise _bad("You can't define a scope that is different from the selected target resource type.")
        containers = ("microsoft.resources/subscriptions", "microsoft.resources/resourcegroups")
        if target and len(scopes or []) == 1 and types and types != {target} and next(iter(types)) not in containers:
            raise _bad("You can't define a scope that is different from the selected target resource type.")
        target = target or (next(iter(types)) if types else "")
        criteria = props.get("criteria") or {}
        if req.method == "PUT" and not criteria.get("allOf"):
            raise _bad("The alert rule criteria are invalid: 'criteria.allOf' must hold at least one condition.")
        names = metric_names(target)
        for criterion in criteria.get("allOf") or []:
            metric = criterion.get("metricName")
            namespace = str(criterion.get("metricNamespace") or target).lower()
            if names is None or not metric or criterion.get("skipMetricValidation") or namespace != target:
                continue
            if str(metric).lower() not in names:
                raise _bad(
                    f"Couldn't find a metric named {metric}. Make sure the name is correct. "
                    f"Available metrics: {', '.join(sorted(names.values()))}"
                )
        sub = ids.subscription_of(ap.path)
        for action in props.get("actions") or []:
            group_id = str(action.get("actionGroupId", ""))
            group = arm.state.get(group_id) if group_id.startswith("/") else None
            is_group = group is not None and group.get("type", "").lower() == "microsoft.insights/actiongroups"
            if not is_group or ids.subscription_of(group_id) != sub:
                raise _bad(f"Arm resource {group_id} is invalid or in a different subscription as alert rule.")

    # ------------------------------------------------------------------ activity log alerts
    def validate_activitylogalerts(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, body: dict) -> None:
        """Scopes, condition and actions are required (2020-10-01 AlertRuleProperties); scopes must exist; the
        condition needs at least one allOf entry."""
        props = body.get("properties") or {}
        if req.method != "PUT":
            return
        if not props.get("scopes"):
            raise _bad(
                "The activity log alert is invalid: 'scopes' must name at least one subscription, "
                "resource group or resource."
            )
        for scope in props["scopes"]:
            if not str(scope).startswith("/") or arm.state.get(str(scope)) is None:
                raise _bad(f"The activity log alert is invalid: the scope '{scope}' was not found.")
        if not (props.get("condition") or {}).get("allOf"):
            raise _bad("The activity log alert is invalid: 'condition.allOf' must hold at least one condition.")
        if "actions" not in props:
            raise _bad("The activity log alert is invalid: the required property 'actions' is missing.")
