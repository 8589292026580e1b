"""Microsoft.Advisor: the `default` configuration per subscription and per resource group, and recommendations.

Spec: specification/advisor/resource-manager/Microsoft.Advisor/stable/2023-01-01/advisor.json (same shapes in
2020-01-01):
- `configurationName` is an enum with the single value `default` ("Value must be 'default'");
- Configurations_CreateInSubscription: "Create/Overwrite Azure Advisor configuration and also delete all configurations
  of contained resource groups"; Configurations_ListBySubscription: "... and also retrieve configurations of contained
  resource groups";
- ConfigDataProperties: lowCpuThreshold "5"|"10"|"15"|"20", duration "7"|"14"|"21"|"30"|"60"|"90" (2023-01-01), both
  and `digests` "Valid only for subscriptions";
- DigestConfig: frequency "between 7 and 30 days inclusive", categories and state enums (schema), name "case-insensitive
  and must be unique within a subscription", actionGroupResourceId an action group.
The Advisor RP's error codes were not found in a public source: semantic refusals answer 400 BadRequest.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..core import ids
from ..core.http import ArmError, Request, Response
from ..core.provider import Provider, TypeSpec

if TYPE_CHECKING:
    from ..core.arm import Arm

API = ("2020-01-01", "2023-01-01", "2022-10-01")
DURATIONS = ("7", "14", "21", "30", "60", "90")
CPU_THRESHOLDS = ("5", "10", "15", "20")
CATEGORIES = ("HighAvailability", "Security", "Performance", "Cost", "OperationalExcellence")
SUBSCRIPTION_ONLY = ("lowCpuThreshold", "duration", "digests")
_SUB_SCOPE = re.compile(r"^/subscriptions/[^/]+$", re.IGNORECASE)


def _bad(message: str) -> ArmError:
    """Advisor's refusal of a configuration it does not accept."""
    return ArmError(400, "BadRequest", message)


class Advisor(Provider):
    """Advisor configurations and recommendations."""

    namespace = "Microsoft.Advisor"
    types = (
        TypeSpec(
            "Microsoft.Advisor/configurations",
            API,
            put_created=200,
            tracked=False,
            patch=False,
            model="azure.mgmt.advisor.models:ConfigData",
        ),
        TypeSpec("Microsoft.Advisor/recommendations", API, tracked=False, patch=False),
    )

    # ------------------------------------------------------------------ rules
    def validate_configurations(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, body: dict) -> None:
        """Name `default`, subscription-only properties, duration enum and digest rules."""
        self.check_name(ap.name)
        props = body.get("properties") or {}
        if not _SUB_SCOPE.match(ap.scope):
            given = [k for k in SUBSCRIPTION_ONLY if props.get(k) not in (None, [])]
            if given:
                raise _bad(
                    f"The properties {', '.join(given)} are valid only for subscriptions, not for resource "
                    f"group configurations."
                )
        self.check_enums(props)
        duration = props.get("duration")
        if duration is not None and str(duration) not in DURATIONS:
            raise _bad(f"The value '{duration}' of 'duration' is invalid. Valid values: {', '.join(DURATIONS)}.")
        seen: set[str] = set()
        for digest in props.get("digests") or []:
            self.check_digest(arm, digest, seen)

    @staticmethod
    def check_enums(props: dict) -> None:
        """lowCpuThreshold and digest categories (their enums are not in the SDK models' metadata)."""

        def refuse(where: str, value: object, allowed: tuple[str, ...]) -> None:
            raise ArmError(
                400,
                "InvalidRequestContent",
                "The request content was invalid and could not be "
                f'deserialized: \'Error converting value "{value}"; allowed values are: '
                f"{', '.join(allowed)}. Path '{where}'.'",
            )

        low = props.get("lowCpuThreshold")
        if low is not None and str(low) not in CPU_THRESHOLDS:
            refuse("properties.lowCpuThreshold", low, CPU_THRESHOLDS)
        for i, item in enumerate(props.get("digests") or []):
            for j, category in enumerate((item or {}).get("categories") or []):
                if str(category).lower() not in {c.lower() for c in CATEGORIES}:
                    refuse(f"properties.digests[{i}].categories[{j}]", category, CATEGORIES)

    @staticmethod
    def check_name(name: str) -> None:
        """Only `default` is a configuration name (the spec's ConfigurationName enum)."""
        if name != "default":
            raise _bad(f"The configuration name '{name}' is invalid. Advisor configuration name must be 'default'.")

    @staticmethod
    def check_digest(arm: Arm, digest: dict, seen: set[str]) -> None:
        """A digest: unique name, frequency 7-30 days, an existing action group."""
        name = str(digest.get("name") or "")
        if name.lower() in seen:
            raise _bad(f"The digest name '{name}' is used twice; digest names must be unique within a subscription.")
        seen.add(name.lower())
        freq = digest.get("frequency")
        if freq is not None and not 7 <= freq <= 30:
            raise _bad(f"The digest frequency {freq} is invalid: it must be between 7 and 30 days inclusive.")
        group = digest.get("actionGroupResourceId")
        if group is not None:
            parsed = ids.parse(str(group))
            if parsed.resource_type.lower() != "microsoft.insights/actiongroups" or arm.state.get(group) is None:
                raise _bad(f"The action group '{group}' of digest '{name}' was not found.")

    # ------------------------------------------------------------------ behaviour
    def on_configurations(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str
    ) -> Response | None:
        """`default` at subscription and resource-group scope; a subscription write removes the groups' ones."""
        at_sub = bool(_SUB_SCOPE.match(ap.scope))
        if ap.is_collection:
            items = [self.config(arm, ap.scope)]
            if at_sub:
                items += [
                    arm.view(o)
                    for o in arm.all_of_type("Microsoft.Advisor/configurations")
                    if ids.key(o["id"]).startswith(ids.key(ap.scope) + "/resourcegroups/")
                ]
            return Response(200, {"value": [_as_azure(i) for i in items]})
        self.check_name(ap.name)
        if req.method == "PUT":
            props = req.json().get("properties") or {}
            stored = {
                "id": self.config_id(ap.scope),
                "name": "default",
                "type": "Microsoft.Advisor/configurations",
                "properties": {**self.defaults(at_sub), **props},
            }
            if at_sub:
                for o in list(arm.all_of_type("Microsoft.Advisor/configurations")):
                    if ids.key(o["id"]).startswith(ids.key(ap.scope) + "/resourcegroups/"):
                        arm.state.delete_tree(o["id"])
            arm.state.put(stored)
            return Response(200, _as_azure(arm.view(stored)))
        if req.method in ("GET", "HEAD"):
            return Response(200, _as_azure(self.config(arm, ap.scope)))
        if req.method == "DELETE":
            arm.state.delete_tree(self.config_id(ap.scope))
            return Response(200)
        return None

    @staticmethod
    def config_id(scope: str) -> str:
        """ID of the `default` configuration of a scope (resourceGroups spelt as ARM does)."""
        scope = re.sub(r"/resourcegroups/", "/resourceGroups/", scope, flags=re.IGNORECASE)
        return f"{scope}/providers/Microsoft.Advisor/configurations/default"

    @staticmethod
    def defaults(at_sub: bool) -> dict:
        """Properties of a configuration nobody wrote yet."""
        return {"exclude": False, "lowCpuThreshold": "5", "digests": []} if at_sub else {"exclude": False}

    def config(self, arm: Arm, scope: str) -> dict:
        """The stored `default` configuration of a scope, or the defaults."""
        stored = arm.state.get(self.config_id(scope))
        if stored is not None:
            return arm.view(stored)
        return {
            "id": self.config_id(scope),
            "name": "default",
            "type": "Microsoft.Advisor/configurations",
            "properties": self.defaults(bool(_SUB_SCOPE.match(scope))),
        }


def _as_azure(config: dict) -> dict:
    """A configuration as Advisor answers it: lowCpuThreshold repeated as `low_cpu_threshold` (every recorded
    answer of azure-cli's test_configurations_subscription.yaml carries both, 2020-01-01)."""
    props = config.get("properties") or {}
    if "lowCpuThreshold" not in props:
        return config
    return {**config, "properties": {**props, "low_cpu_threshold": props["lowCpuThreshold"]}}
