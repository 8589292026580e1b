"""Microsoft.Security (Defender for Cloud): pricings, one per plan, present in every subscription.

Spec: specification/security/resource-manager/Microsoft.Security/stable/2024-01-01/pricings.json (plans as listed by
examples/Pricings/ListPricings_example.json; extension names and their plans/sub-plans from `Extension.name`).
Rules (error codes of the Security RP were not found in any public source: semantic refusals answer 400 BadRequest;
the unknown-plan message is Azure's, seen in Azure/azure-powershell#10842):
- a pricing name outside the plan list is refused;
- `subPlan` must be one of the plan's sub-plans (VirtualMachines P1/P2, StorageAccounts PerTransaction /
  DefenderForStorageV2 / PerStorageAccount, KeyVaults PerTransaction/PerKeyVault, Arm PerSubscription/PerApiCall,
  Api P1..P5); a plan without sub-plans takes none;
- an extension must belong to the plan (and, where the spec says so, to its sub-plan);
- resource scope: only VirtualMachines (VMs, VM scale sets, Arc machines; subPlan P1) and Containers (AKS clusters,
  container registries, per the 2024-01-01 resource examples); `enforce` only at subscription scope; a subscription
  plan with enforce=True refuses resource-level overrides; DELETE is valid only at resource scope.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from ..core import ids
from ..core.http import ArmError, Request, Response
from ..core.provider import Provider, TypeSpec

if TYPE_CHECKING:
    from ..core.arm import Arm


@dataclass(frozen=True)
class Plan:
    """A Defender plan: its sub-plans, extensions (name -> sub-plans it needs, () = any) and deprecation."""

    name: str
    sub_plans: tuple[str, ...] = ()
    extensions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    replaced_by: tuple[str, ...] = ()
    resource_types: tuple[str, ...] = ()  # resource types where the plan may be set per resource
    resource_sub_plans: tuple[str, ...] = ()  # sub-plans allowed at resource scope (() = none needed)


#: VirtualMachines enabled without subPlan is P2: azure-cli's test_security_pricings.yaml (2023-01-01) PUTs
#: {"pricingTier": "standard", "extensions": [MdeDesignatedSubscription, AgentlessVmScanning]} and Azure answers
#: subPlan "P2" (tests/contract/recordings/security_pricings.yaml)
DEFAULT_SUB_PLANS = {"virtualmachines": "P2"}


_VM_TYPES = (
    "microsoft.compute/virtualmachines",
    "microsoft.compute/virtualmachinescalesets",
    "microsoft.hybridcompute/machines",
)
_CONTAINER_TYPES = ("microsoft.containerservice/managedclusters", "microsoft.containerregistry/registries")
PLANS: tuple[Plan, ...] = (
    Plan(
        "VirtualMachines",
        ("P1", "P2"),
        (
            ("MdeDesignatedSubscription", ("P1", "P2")),
            ("AgentlessVmScanning", ("P2",)),
            ("FileIntegrityMonitoring", ("P2",)),
        ),
        resource_types=_VM_TYPES,
        resource_sub_plans=("P1",),
    ),
    Plan("SqlServers"),
    Plan("AppServices"),
    Plan(
        "StorageAccounts",
        ("PerTransaction", "DefenderForStorageV2", "PerStorageAccount"),
        (("OnUploadMalwareScanning", ("DefenderForStorageV2",)), ("SensitiveDataDiscovery", ("DefenderForStorageV2",))),
    ),
    Plan("SqlServerVirtualMachines"),
    Plan("KubernetesService", replaced_by=("Containers",)),
    Plan("ContainerRegistry", replaced_by=("Containers",)),
    Plan("KeyVaults", ("PerTransaction", "PerKeyVault")),
    Plan("Dns", replaced_by=("VirtualMachines",)),
    Plan("Arm", ("PerSubscription", "PerApiCall")),
    Plan("OpenSourceRelationalDatabases"),
    Plan(
        "Containers",
        (),
        (
            ("AgentlessDiscoveryForKubernetes", ()),
            ("ContainerRegistriesVulnerabilityAssessments", ()),
            ("AgentlessVmScanning", ()),
            ("ContainerSensor", ()),
            ("ContainerIntegrityContribution", ()),
        ),
        resource_types=_CONTAINER_TYPES,
    ),
    Plan("CosmosDbs"),
    Plan(
        "CloudPosture",
        (),
        (
            ("AgentlessVmScanning", ()),
            ("AgentlessDiscoveryForKubernetes", ()),
            ("SensitiveDataDiscovery", ()),
            ("ContainerRegistriesVulnerabilityAssessments", ()),
            ("EntraPermissionsManagement", ()),
            ("ApiPosture", ()),
        ),
    ),
    Plan("Api", ("P1", "P2", "P3", "P4", "P5")),
    Plan("AI", (), (("AIPromptEvidence", ()),)),
)
DEFENDER_PLANS = tuple(p.name for p in PLANS)
_BY_NAME = {p.name.lower(): p for p in PLANS}
FREE_TRIAL = timedelta(days=30)
_SUB_SCOPE = re.compile(r"^/subscriptions/[^/]+$", re.IGNORECASE)
API = ("2024-01-01", "2023-01-01", "2022-03-01", "2018-06-01")


def _bad(message: str) -> ArmError:
    """The Security RP's refusal of a request it understands but does not accept."""
    return ArmError(400, "BadRequest", message)


def _canon(value: str, allowed: tuple[str, ...]) -> str | None:
    """`value` in the documented casing if it is one of `allowed` (case-insensitively)."""
    return next((a for a in allowed if a.lower() == str(value).lower()), None)


def plan_of(name: str) -> Plan:
    """The plan named in a path, or Azure's 400 listing the valid names."""
    plan = _BY_NAME.get(name.lower())
    if plan is None:
        # code and wording as Azure answers it (Azure/ResourceModules#453)
        raise ArmError(
            400,
            "InvalidResourceName",
            f"The name '{name}' is not a valid name. Possible pricing bundle names: {', '.join(DEFENDER_PLANS)}.",
        )
    return plan


def resource_type_of(scope: str) -> str:
    """Lower-cased resource type of a resource ID used as a pricing scope ('' for a subscription)."""
    parsed = ids.parse(scope)
    return parsed.resource_type.lower() if parsed.namespace else ""


def default_sub_plan(plan: Plan, tier: str | None) -> str | None:
    """The sub-plan Azure gives a plan enabled (Standard) without one, if it documents one."""
    return DEFAULT_SUB_PLANS.get(plan.name.lower()) if tier == "Standard" else None


class Security(Provider):
    """Defender for Cloud plans at subscription scope and, for some plans, per resource."""

    namespace = "Microsoft.Security"
    types = (
        TypeSpec(
            "Microsoft.Security/pricings",
            API,
            put_created=200,
            delete_codes=(200, 204),
            tracked=False,
            patch=False,
            model="azure.mgmt.security.models:Pricing",
            invalid_code="InvalidInputJson",
        ),
    )

    # ------------------------------------------------------------------ rules
    def validate_pricings(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, body: dict) -> None:
        """Scope, sub-plan, extension and enforce rules of a pricing PUT (after the schema)."""
        plan = plan_of(ap.name)
        self.check_scope(arm, ap.scope, plan)
        props = body.get("properties") or {}
        tier = _canon(str(props.get("pricingTier")), ("Free", "Standard"))
        if props.get("pricingTier") is None:  # PricingProperties.required (the SDK model does not mark it)
            raise ArmError(
                400,
                "InvalidInputJson",
                "The request content was invalid and could not be deserialized: "
                "'Required property 'pricingTier' not found in JSON. Path 'properties'.'",
            )
        sub_plan = props.get("subPlan")
        resource_level = resource_type_of(ap.scope) != ""
        if sub_plan is not None and _canon(sub_plan, plan.sub_plans) is None:
            allowed = ", ".join(plan.sub_plans) or "none"
            raise _bad(
                f"The sub plan '{sub_plan}' is not valid for pricing bundle '{plan.name}'. "
                f"Possible sub plans: {allowed}."
            )
        if resource_level:
            if props.get("enforce") is not None:
                raise _bad("The property 'enforce' is only available for subscription-level pricing.")
            wrong_sub_plan = _canon(sub_plan or "", plan.resource_sub_plans) is None
            if tier == "Standard" and plan.resource_sub_plans and wrong_sub_plan:
                raise _bad(
                    f"At resource level, plan '{plan.name}' supports only sub plan "
                    f"'{', '.join(plan.resource_sub_plans)}'."
                )
            sub = (
                arm.state.get(
                    f"/subscriptions/{ids.subscription_of(ap.scope)}/providers/Microsoft.Security/pricings/{plan.name}"
                )
                or {}
            )
            if (sub.get("_given") or {}).get("enforce") == "True":
                raise ArmError(
                    409,
                    "Conflict",
                    f"The '{plan.name}' pricing of subscription "
                    f"'{ids.subscription_of(ap.scope)}' is enforced (enforce=True); resources under it "
                    "cannot override it.",
                )
        chosen = _canon(sub_plan, plan.sub_plans) if sub_plan else default_sub_plan(plan, tier)
        for ext in props.get("extensions") or []:
            name = ext.get("name") if isinstance(ext, dict) else None
            known = next((e for e in plan.extensions if e[0].lower() == str(name).lower()), None)
            if known is None:
                offered = ", ".join(e[0] for e in plan.extensions) or "none"
                # InvalidInputJson as Azure answers an extension the plan lacks (Azure/Azure-Landing-Zones#822)
                raise ArmError(
                    400,
                    "InvalidInputJson",
                    f"The extension '{name}' is not available for plan '{plan.name}'. Available: {offered}.",
                )
            if known[1] and tier == "Standard" and chosen not in known[1]:
                raise ArmError(
                    400,
                    "InvalidInputJson",
                    f"The extension '{known[0]}' of plan '{plan.name}' requires sub plan {' or '.join(known[1])}.",
                )

    @staticmethod
    def check_scope(arm: Arm, scope: str, plan: Plan) -> None:
        """A subscription, or an existing resource of a type the plan supports per resource."""
        if _SUB_SCOPE.match(scope):
            return
        rtype = resource_type_of(scope)
        if not rtype or ids.parse(scope).is_collection:
            raise _bad(
                f"The scope '{scope}' is not supported for pricings. Valid scopes are a subscription or a "
                "specific resource."
            )
        if rtype not in plan.resource_types:
            supported = [p.name for p in PLANS if rtype in p.resource_types]
            raise _bad(
                f"Pricing of plan '{plan.name}' cannot be set on resources of type "
                f"'{ids.parse(scope).resource_type}'. Resource-level pricing is supported for: "
                "VirtualMachines (virtual machines, VM scale sets, Arc machines), "
                "Containers (AKS clusters, container registries)"
                f"{'; this type supports ' + ', '.join(supported) if supported else ''}."
            )
        if arm.state.get(scope) is None:
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource '{ids.parse(scope).resource_type}/{scope.rsplit('/', 1)[-1]}' was not found.",
            )

    # ------------------------------------------------------------------ behaviour
    def present(self, arm: Arm, obj: dict) -> dict:
        """A stored pricing as Azure answers it (tier, sub-plan, coverage computed)."""
        if str(obj.get("type", "")).lower() == "microsoft.security/pricings":
            return self.pricing(arm, obj["id"].split("/providers/Microsoft.Security/pricings/")[0], obj["name"])
        return obj

    def on_pricings(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str) -> Response | None:
        """Every plan exists (Free) until changed; Azure computes the trial, coverage and inheritance fields."""
        if ap.is_collection:
            plans = [p for p in PLANS if self.listable(ap.scope, p)]
            return Response(200, {"value": [self.pricing(arm, ap.scope, p.name) for p in plans]})
        plan = plan_of(ap.name)
        stored_id = f"{ap.scope}/providers/Microsoft.Security/pricings/{plan.name}"
        if req.method in ("GET", "HEAD"):
            self.check_scope(arm, ap.scope, plan)
            return Response(200, self.pricing(arm, ap.scope, plan.name))
        if req.method == "PUT":
            props = req.json().get("properties") or {}
            tier = _canon(str(props.get("pricingTier")), ("Free", "Standard")) or "Free"
            stored = arm.state.get(stored_id) or {"_trial_start": None}
            given = {k: v for k, v in props.items() if k in ("subPlan", "enforce", "extensions")}
            if "subPlan" in given:
                given["subPlan"] = _canon(given["subPlan"], plan.sub_plans)
            elif default_sub_plan(plan, tier):
                given["subPlan"] = default_sub_plan(plan, tier)
            stored.update(
                {
                    "id": stored_id,
                    "name": plan.name,
                    "type": "Microsoft.Security/pricings",
                    "_tier": tier,
                    "_given": given,
                }
            )
            now = datetime.now(timezone.utc).isoformat()
            if tier == "Standard":
                stored["_enabled"] = now
                if stored.get("_trial_start") is None:
                    stored["_trial_start"] = now
            arm.state.put(stored)
            answer = copy.deepcopy(self.pricing(arm, ap.scope, plan.name))
            for ext in answer["properties"].get("extensions") or []:  # the PUT's answer reports each enabling
                if isinstance(ext, dict) and str(ext.get("isEnabled")).lower() == "true":
                    ext["operationStatus"] = {"code": "Succeeded", "message": "Successfully enabled extension"}
            return Response(200, answer)
        if req.method == "DELETE":
            if _SUB_SCOPE.match(ap.scope):
                raise _bad("Deleting a pricing configuration is valid only for resource scope.")
            self.check_scope(arm, ap.scope, plan)
            if arm.state.get(stored_id) is None:
                return Response(204)
            arm.state.delete_tree(stored_id)
            return Response(200)
        return None

    @staticmethod
    def listable(scope: str, plan: Plan) -> bool:
        """Plans shown by a list at a scope: all at a subscription, the per-resource plans at a resource."""
        return bool(_SUB_SCOPE.match(scope)) or resource_type_of(scope) in plan.resource_types

    @staticmethod
    def pricing(arm: Arm, scope: str, plan: str) -> dict:
        """A Defender plan as the Pricings API returns it, computing trial time, coverage and inheritance."""
        pid = f"{scope}/providers/Microsoft.Security/pricings/{plan}"
        sub_id = f"/subscriptions/{ids.subscription_of(scope)}"
        sub_stored = arm.state.get(f"{sub_id}/providers/Microsoft.Security/pricings/{plan}") or {}
        resource_level = not _SUB_SCOPE.match(scope)
        own = arm.state.get(pid) if resource_level else sub_stored
        enforced = (sub_stored.get("_given") or {}).get("enforce") == "True"
        inherited = resource_level and (own is None or enforced)
        stored = (sub_stored if inherited else own) or {}
        tier = stored.get("_tier", "Free")
        props: dict = {"pricingTier": tier}
        if stored.get("_trial_start"):
            used = datetime.now(timezone.utc) - datetime.fromisoformat(stored["_trial_start"])
            left = max(timedelta(0), FREE_TRIAL - used)
            props["freeTrialRemainingTime"] = f"P{left.days}DT{left.seconds // 3600}H{left.seconds % 3600 // 60}M"
        else:
            props["freeTrialRemainingTime"] = "P30D"
        if tier == "Standard":
            props["enablementTime"] = stored.get("_enabled")
        given = dict(stored.get("_given") or {})
        if resource_level:
            given.pop("enforce", None)
            props.update(given)
            props["inherited"] = "True" if inherited else "False"
            props["inheritedFrom"] = sub_id if inherited else None
        else:
            props.update(given)
            props.setdefault("enforce", "False")
            props["resourcesCoverageStatus"] = Security.coverage(arm, sub_id, plan, tier)
        spec = _BY_NAME[plan.lower()]
        props["deprecated"] = bool(spec.replaced_by)
        if spec.replaced_by:
            props["replacedBy"] = list(spec.replaced_by)
        return {"id": pid, "name": plan, "type": "Microsoft.Security/pricings", "properties": props}

    @staticmethod
    def coverage(arm: Arm, sub_id: str, plan: str, tier: str) -> str:
        """FullyCovered / PartiallyCovered / NotCovered from the subscription tier and resource overrides."""
        overrides = [
            o.get("_tier")
            for o in arm.all_of_type("Microsoft.Security/pricings")
            if o["id"].lower().startswith(sub_id.lower() + "/")
            and o.get("name", "").lower() == plan.lower()
            and not _SUB_SCOPE.match(o["id"].split("/providers/Microsoft.Security/")[0])
        ]
        other = "Free" if tier == "Standard" else "Standard"
        if other in overrides:
            return "PartiallyCovered"
        return "FullyCovered" if tier == "Standard" else "NotCovered"
