"""Microsoft.Security (Defender for Cloud): pricings, one per plan, present in every subscription.

Spec: specification/security/resource-manager/Microsoft.Security/stable/2024-01-01/pricings.json (plans as listed by
examples/Pricings/ListPricings_example.json; extension names and their plans/sub-plans from `Extension.name`).
Secure score (secureScore.json, stable/2020-01-01 only; examples/secureScores/ListSecureScores_example.json,
ListSecureScoreControlsForNameWithExpand_builtin_example.json): one score, `ascScore`, per subscription, computed
from the tenant as it is, per control (SCORE_CONTROLS): a control's max counts only when it has healthy or unhealthy
resources; current = max x healthy / (healthy + unhealthy), percentage = healthy share; the score sums the controls.
What moves it: the VirtualMachines plan (vulnerabilities, endpoint protection, management ports per VM), each VM's
patch assessment mode (system updates), diagnostic settings on key vaults and SQL servers (auditing), the number of
Owner assignments on the subscription (access), the other plans (enhanced security features, max 0 as in Azure).
The API has no history (only the current score; history lives in continuous export / the SecureScores table of Log
Analytics, which the sandbox does not emulate). An unknown score name is 404 NotFound, `$expand` other than
`definition` 400 BadRequest (both inferred).

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
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from ..core import ids
from ..core.http import ArmError, Request, Response
from ..core.provider import Provider, Route, TypeSpec
from ..core.rbac import ROLE_IDS_BY_NAME

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
SCORE_API = ("2020-01-01",)
_SUB = r"/subscriptions/[^/]+/providers/microsoft\.security"


@dataclass(frozen=True)
class ScoreControl:
    """A secure score control: its id (the built-in's where the spec examples show it), name, max score, and what it
    assesses (`rule` names the function of `Security` judging one subscription: (healthy, unhealthy) counts)."""

    id: str
    name: str
    max: int
    rule: str
    assessments: tuple[str, ...] = ()


def _cid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"secureScoreControl/{name}"))


#: the controls (names and max scores of Defender for Cloud's secure score); ids of MFA, DDoS, best practices,
#: enhanced security (ATP) and auditing as ListSecureScoreControlsForNameWithExpand_builtin_example.json gives them,
#: the others generated (uuid5 of the name)
SCORE_CONTROLS: tuple[ScoreControl, ...] = (
    ScoreControl("34a42fb3-e6db-409c-b56b-7b1db6b8aee0", "Enable MFA", 10, "mfa"),
    ScoreControl(_cid("Secure management ports"), "Secure management ports", 8, "vm_plan"),
    ScoreControl(_cid("Remediate vulnerabilities"), "Remediate vulnerabilities", 6, "vm_plan"),
    ScoreControl(_cid("Apply system updates"), "Apply system updates", 6, "system_updates"),
    ScoreControl(_cid("Manage access and permissions"), "Manage access and permissions", 4, "owners"),
    ScoreControl(_cid("Enable encryption at rest"), "Enable encryption at rest", 4, "encryption"),
    ScoreControl(_cid("Restrict unauthorized network access"), "Restrict unauthorized network access", 4, "network"),
    ScoreControl(_cid("Enable endpoint protection"), "Enable endpoint protection", 2, "vm_plan"),
    ScoreControl("a9909064-42b4-4d34-8143-275477afe18b", "Protect applications against DDoS attacks", 2, "ddos"),
    ScoreControl("27b24961-75ba-4fe4-8909-97286d5dd5ee", "Enable auditing and logging", 1, "auditing"),
    ScoreControl("4db8d6cf-075b-4149-a813-da09ca2ae120", "Enable enhanced security features", 0, "plans"),
    ScoreControl("76763537-9feb-42d3-b4f4-78c01117be80", "Implement security best practices", 0, "best_practices"),
)
_PLAN_COVERS = {
    "VirtualMachines": "microsoft.compute/virtualmachines",
    "StorageAccounts": "microsoft.storage/storageaccounts",
    "SqlServers": "microsoft.sql/servers",
    "KeyVaults": "microsoft.keyvault/vaults",
    "AppServices": "microsoft.web/sites",
}
MAX_OWNERS = 3  # "A maximum of 3 owners should be designated for your subscription"


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
    routes = (
        Route(
            _SUB + r"/securescores",
            "list_scores",
            SCORE_API,
            "secureScores",
            ("GET",),
            True,
            "Microsoft.Security/secureScores",
        ),
        Route(
            _SUB + r"/securescores/(?P<name>[^/]+)",
            "get_score",
            SCORE_API,
            "secureScores",
            ("GET",),
            True,
            "Microsoft.Security/secureScores",
        ),
        Route(
            _SUB + r"/securescores/(?P<name>[^/]+)/securescorecontrols",
            "list_controls",
            SCORE_API,
            "secureScores/secureScoreControls",
            ("GET",),
            True,
            "Microsoft.Security/secureScoreControls",
        ),
        Route(
            _SUB + r"/securescorecontrols",
            "list_controls",
            SCORE_API,
            "secureScoreControls",
            ("GET",),
            True,
            "Microsoft.Security/secureScoreControls",
        ),
        Route(
            r"(?:/subscriptions/[^/]+)?/providers/microsoft\.security/securescorecontroldefinitions",
            "list_definitions",
            SCORE_API,
            "secureScoreControlDefinitions",
            ("GET",),
            True,
            "Microsoft.Security/secureScoreControlDefinitions",
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

    # ------------------------------------------------------------------ secure score
    @staticmethod
    def _sub_of(arm: Arm, principal: str, path: str, action: str) -> str:
        sub = path.split("/")[2]
        if denied := arm.authorize(principal, f"/subscriptions/{sub}", action):
            raise ArmError(denied.status, "AuthorizationFailed", denied.body["error"]["message"])  # type: ignore[index]
        return sub

    @staticmethod
    def _resources(arm: Arm, sub: str, *types: str) -> list[dict]:
        prefix = f"/subscriptions/{sub}/resourcegroups/".lower()
        wanted = set(types)
        return [
            o
            for k, o in list(arm.state.arm.items())
            if k.startswith(prefix) and str(o.get("type", "")).lower() in wanted
        ]

    def judge(self, arm: Arm, sub: str, control: ScoreControl) -> tuple[int, int, int]:
        """(healthy, unhealthy, not applicable) resources of one control in a subscription."""
        sub_id = f"/subscriptions/{sub}"
        vms = self._resources(arm, sub, "microsoft.compute/virtualmachines")

        def tier(plan: str) -> str:
            return str(
                (arm.state.get(f"{sub_id}/providers/Microsoft.Security/pricings/{plan}") or {}).get("_tier", "Free")
            )

        if control.rule == "mfa":
            return 1, 0, 0
        if control.rule == "vm_plan":
            ok = tier("VirtualMachines") == "Standard"
            return (len(vms), 0, 0) if ok else (0, len(vms), 0)
        if control.rule == "system_updates":
            healthy = sum(1 for vm in vms if _assessment_mode(vm) == "AutomaticByPlatform")
            return healthy, len(vms) - healthy, 0
        if control.rule == "owners":
            owner = ROLE_IDS_BY_NAME["owner"].lower()
            owners = {
                str(a["properties"].get("principalId"))
                for a in arm.state.children(f"{sub_id}/providers/Microsoft.Authorization/roleAssignments")
                if str(a["properties"].get("roleDefinitionId", "")).lower().endswith(owner)
            }
            return (1, 0, 0) if len(owners) <= MAX_OWNERS else (0, 1, 0)
        if control.rule == "encryption":
            stores = self._resources(arm, sub, "microsoft.storage/storageaccounts", "microsoft.sql/servers/databases")
            return len(stores), 0, 0
        if control.rule == "network":
            vaults = self._resources(arm, sub, "microsoft.keyvault/vaults")
            accounts = self._resources(arm, sub, "microsoft.storage/storageaccounts")
            return len(vaults), len(accounts), 0
        if control.rule == "ddos":
            nets = self._resources(arm, sub, "microsoft.network/virtualnetworks")
            return 0, len(nets), 0
        if control.rule == "auditing":
            audited = self._resources(arm, sub, "microsoft.keyvault/vaults", "microsoft.sql/servers")
            healthy = sum(
                1 for r in audited if arm.state.children(r["id"] + "/providers/Microsoft.Insights/diagnosticSettings")
            )
            return healthy, len(audited) - healthy, 0
        if control.rule == "plans":
            healthy = unhealthy = 0
            for plan, rtype in _PLAN_COVERS.items():
                count = len(self._resources(arm, sub, rtype))
                if tier(plan) == "Standard":
                    healthy += count
                else:
                    unhealthy += count
            return healthy, unhealthy, 0
        return len(self._resources(arm, sub, "microsoft.web/sites")), 0, 1  # best practices

    def control(self, arm: Arm, sub: str, control: ScoreControl, expand: bool) -> dict:
        """A control of the subscription's score as secureScoreControls lists it."""
        healthy, unhealthy, na = self.judge(arm, sub, control)
        assessed = healthy + unhealthy
        top = control.max if assessed else 0
        current = round(top * healthy / assessed, 2) if assessed else 0
        props: dict = {
            "displayName": control.name,
            "healthyResourceCount": healthy,
            "unhealthyResourceCount": unhealthy,
            "notApplicableResourceCount": na,
            "score": {"max": top, "current": current, "percentage": round(healthy / assessed, 4) if assessed else 0},
            "weight": assessed,
        }
        if expand:
            props["definition"] = self.definition(control)
        return {
            "id": f"/subscriptions/{sub}/providers/Microsoft.Security/secureScores/ascScore/secureScoreControls/{control.id}",
            "name": control.id,
            "type": "Microsoft.Security/secureScores/secureScoreControls",
            "properties": props,
        }

    @staticmethod
    def definition(control: ScoreControl) -> dict:
        """A built-in control definition (secureScoreControlDefinitions)."""
        return {
            "id": f"/providers/Microsoft.Security/secureScoreControlDefinitions/{control.id}",
            "name": control.id,
            "type": "Microsoft.Security/secureScoreControlDefinitions",
            "properties": {
                "source": {"sourceType": "BuiltIn"},
                "displayName": control.name,
                "maxScore": control.max,
                "assessmentDefinitions": [
                    {
                        "id": f"/providers/Microsoft.Security/assessmentMetadata/{uuid.uuid5(uuid.NAMESPACE_URL, control.name + '/assessment')}"
                    }
                ],
            },
        }

    def score(self, arm: Arm, sub: str) -> dict:
        """The subscription's ascScore: the sum of its controls."""
        controls = [self.control(arm, sub, c, False)["properties"] for c in SCORE_CONTROLS]
        top = sum(c["score"]["max"] for c in controls)
        current = round(sum(c["score"]["current"] for c in controls), 2)
        return {
            "id": f"/subscriptions/{sub}/providers/Microsoft.Security/secureScores/ascScore",
            "name": "ascScore",
            "type": "Microsoft.Security/secureScores",
            "properties": {
                "displayName": "ASC score",
                "score": {"max": top, "current": current, "percentage": round(current / top, 4) if top else 0},
                "weight": sum(c["weight"] for c in controls),
            },
        }

    def list_scores(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """SecureScores_List: the subscription's one score."""
        sub = self._sub_of(arm, principal, path, "Microsoft.Security/secureScores/read")
        return Response(200, {"value": [self.score(arm, sub)]})

    def get_score(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """SecureScores_Get: ascScore (the only name Azure serves)."""
        sub = self._sub_of(arm, principal, path, "Microsoft.Security/secureScores/read")
        self._score_name(path)
        return Response(200, self.score(arm, sub))

    @staticmethod
    def _score_name(path: str) -> None:
        name = path.split("/")[6]
        if name.lower() != "ascscore":
            raise ArmError(
                404, "NotFound", f"The secure score '{name}' was not found; the subscription's score is 'ascScore'."
            )

    def list_controls(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """SecureScoreControls_List / _ListBySecureScore, `$expand=definition` adding each definition."""
        sub = self._sub_of(arm, principal, path, "Microsoft.Security/secureScoreControls/read")
        if "/securescores/" in path.lower():
            self._score_name(path)
        expand = req.query.get("$expand")
        if expand is not None and expand.lower() != "definition":
            raise _bad(f"The $expand value '{expand}' is not supported. Supported values: definition.")
        return Response(200, {"value": [self.control(arm, sub, c, expand is not None) for c in SCORE_CONTROLS]})

    def list_definitions(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """SecureScoreControlDefinitions_List (tenant) / _ListBySubscription: the built-in definitions."""
        if path.lower().startswith("/subscriptions/"):
            self._sub_of(arm, principal, path, "Microsoft.Security/secureScoreControlDefinitions/read")
        return Response(200, {"value": [self.definition(c) for c in SCORE_CONTROLS]})


def _assessment_mode(vm: dict) -> str:
    """A VM's patch assessment mode (windowsConfiguration or linuxConfiguration patchSettings)."""
    profile = (vm.get("properties") or {}).get("osProfile") or {}
    for key in ("windowsConfiguration", "linuxConfiguration"):
        mode = ((profile.get(key) or {}).get("patchSettings") or {}).get("assessmentMode")
        if mode:
            return str(mode)
    return "ImageDefault"
