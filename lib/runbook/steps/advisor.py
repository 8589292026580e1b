"""Stage 3: Azure Advisor with everything enabled: no subscription or resource group excluded, the agreed low-CPU
threshold, and a digest of every category to the MSP action group.

Advisor keeps one `default` configuration per subscription and per resource group. Writing the subscription's
"also deletes all configurations of contained resource groups" (Configurations_CreateInSubscription, advisor.json
2023-01-01), so the plan names each resource-group configuration that write removes and writes it back (with
`exclude: false`) right after: nothing is lost silently, and a group someone excluded is included again.
"""

from __future__ import annotations

from azure.core.exceptions import HttpResponseError

from ..evidence.results import Change
from .base import Context, Observation, ScopeFailure, error_text
from .desired import Desired, DesiredResourcesStep

API = "2023-01-01"
DIGEST = "msp-advisor-digest"


class AdvisorEverythingEnabled(DesiredResourcesStep):
    """The subscription configuration, then every resource-group configuration that exists, not excluded."""

    item_id = "s3-advisor"

    def desired(self, ctx: Context, unreadable: list[ScopeFailure]) -> list[Desired]:
        """Per subscription: its configuration, and each stored resource-group configuration included."""
        p = ctx.params
        a = p.advisor
        table = []
        for sub in p.subscription_ids:
            group = f"/subscriptions/{sub}/resourceGroups/{p.monitoring.resource_group}/providers/Microsoft.Insights/actionGroups/{p.monitoring.action_group}"
            scope = f"/subscriptions/{sub}"
            table.append(
                Desired(
                    sub,
                    "Advisor subscription configuration",
                    f"{scope}/providers/Microsoft.Advisor/configurations/default",
                    API,
                    {
                        "properties": {
                            "exclude": False,
                            "lowCpuThreshold": a.low_cpu_threshold,
                            "digests": [
                                {
                                    "name": DIGEST,
                                    "actionGroupResourceId": group,
                                    "frequency": a.digest_frequency_days,
                                    "categories": list(a.digest_categories),
                                    "language": "en",
                                    "state": "Active",
                                }
                            ],
                        }
                    },
                    (
                        "properties.exclude",
                        "properties.lowCpuThreshold",
                        "properties.digests[name,actionGroupResourceId,frequency,state]",
                        "properties.digests[name,categories]",
                    ),
                    f"{scope} (low CPU {a.low_cpu_threshold}%, digest every {a.digest_frequency_days} days)",
                )
            )
            try:
                stored = self.group_configurations(ctx, sub)
            except HttpResponseError as exc:  # named; the other subscriptions go on
                unreadable.append(
                    ScopeFailure(f"/subscriptions/{sub}", f"cannot read Advisor configurations: {error_text(exc)}")
                )
                continue
            for config_id in stored:
                table.append(
                    Desired(
                        sub,
                        "Advisor resource group configuration",
                        config_id,
                        API,
                        {"properties": {"exclude": False}},
                        ("properties.exclude",),
                        config_id.split("/providers/")[0],
                    )
                )
        return table

    def group_configurations(self, ctx: Context, sub: str) -> list[str]:
        """IDs of the resource-group configurations stored in a subscription (the subscription's list has them)."""
        objs = self.list_objects(ctx, sub, f"/subscriptions/{sub}/providers/Microsoft.Advisor/configurations", API)
        return sorted(o["id"] for o in objs if "/resourcegroups/" in str(o.get("id", "")).lower())

    def list_collection(self, ctx: Context, subscription: str, collection: str, api_version: str) -> dict[str, dict]:
        """Every configuration is named `default`: keep only the one of the collection's own scope."""
        scope = collection.lower().split("/providers/")[0]
        own = [
            o
            for o in self.list_objects(ctx, subscription, collection, api_version)
            if str(o.get("id", "")).lower().split("/providers/")[0] == scope
        ]
        return {"default": own[0]} if own else {}

    def plan(self, ctx: Context, obs: Observation) -> list[Change]:
        """The base plan, plus: after a subscription write, every resource-group configuration written back."""
        changes = super().plan(ctx, obs)
        planned = {c.target.lower() for c in changes}
        out: list[Change] = []
        for c in changes:
            out.append(c)
            if c.detail.get("kind") != "Advisor subscription configuration":
                continue
            sub = c.target.split("/")[2]
            for want, _have in obs.facts["pairs"]:
                if (
                    want.kind == "Advisor resource group configuration"
                    and want.subscription == sub
                    and want.id.lower() not in planned
                ):
                    out.append(
                        Change(
                            want.id,
                            "restore Advisor resource group configuration",
                            {
                                "name": want.name,
                                "kind": want.kind,
                                "api_version": API,
                                "why": "the subscription write deletes it",
                            },
                            payload=want.body,
                        )
                    )
        # a group's configuration must be written after its subscription's: move group rows behind them
        return [c for c in out if "resourceGroups" not in c.target] + [c for c in out if "resourceGroups" in c.target]
