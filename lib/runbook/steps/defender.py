"""Stage 3 (Premium, Full Stack): the tier's Defender for Cloud plans on every subscription.

Each plan of `defender.plans` is a pricing at subscription scope (Pricings, api-version 2024-01-01): tier Standard,
its sub-plan and extensions. Azure computes the rest; verification reads back the pricing tier, sub-plan,
extensions and `resourcesCoverageStatus` per plan, and reports a plan that some resource opted out of
(PartiallyCovered) rather than calling the subscription covered.
"""

from __future__ import annotations

from .base import Context, Observation, ScopeFailure, Verdict
from .desired import Desired, DesiredResourcesStep

API = "2024-01-01"


class DefenderEnabled(DesiredResourcesStep):
    """One desired pricing per plan and subscription."""

    item_id = "s3-defender-enabled"

    def desired(self, ctx: Context, unreadable: list[ScopeFailure]) -> list[Desired]:
        """The tier's plans, Standard, in every subscription."""
        table = []
        for sub in ctx.params.subscription_ids:
            for plan in ctx.params.defender.plans:
                props: dict = {"pricingTier": "Standard"}
                if plan.sub_plan:
                    props["subPlan"] = plan.sub_plan
                if plan.extensions:
                    props["extensions"] = [
                        {"name": e.name, "isEnabled": "True" if e.enabled else "False"} for e in plan.extensions
                    ]
                compare = ["properties.pricingTier"]
                if plan.sub_plan:
                    compare.append("properties.subPlan")
                if plan.extensions:
                    compare.append("properties.extensions[name,isEnabled]")
                table.append(
                    Desired(
                        sub,
                        "Defender plan",
                        f"/subscriptions/{sub}/providers/Microsoft.Security/pricings/{plan.name}",
                        API,
                        {"properties": props},
                        tuple(compare),
                        f"{plan.name} {plan.sub_plan or ''}".strip(),
                    )
                )
        return table

    def inspect(self, ctx: Context) -> Observation:
        """The base pairing, with each plan's coverage as Azure computes it."""
        obs = super().inspect(ctx)
        coverage = {
            want.id: (have or {}).get("properties", {}).get("resourcesCoverageStatus", "")
            for want, have in obs.facts["pairs"]
        }
        for row in obs.rows:
            row["coverage"] = coverage.get(
                f"/subscriptions/{row['subscription']}/providers/Microsoft.Security/pricings/{row['name']}", ""
            )
        obs.facts["coverage"] = coverage
        return obs

    def judge(self, ctx: Context, obs: Observation, pending: list, applied: list) -> Verdict:
        """The base verdict; a plan in place that some resource opted out of is named in the summary."""
        verdict = super().judge(ctx, obs, pending, applied)
        partial = [i for i, c in obs.facts.get("coverage", {}).items() if c == "PartiallyCovered"]
        if verdict.status == "fulfilled" and partial:
            names = ", ".join(f"{i.split('/')[-1]} in {i.split('/')[2]}" for i in sorted(partial))
            verdict.summary += f" Partially covered (resources opted out at resource level): {names}."
        return verdict
