"""s3-defender-enabled against the sandbox: the tier's plans on every subscription, coverage read back."""

from azure.core.rest import HttpRequest

from runbook.customer import params as P
from runbook.steps.base import Context, execute
from runbook.steps.defender import API, DefenderEnabled
from tests.conftest import DEMO_SUBS


def pricing(clients, sub, name, scope=None, method="GET", body=None):
    path = f"{scope or f'/subscriptions/{sub}'}/providers/Microsoft.Security/pricings/{name}?api-version={API}"
    resp = clients.resource(sub).send_request(HttpRequest(method, path, json=body))
    resp.raise_for_status()
    return resp.json()


def test_the_plans_are_enabled_everywhere_and_a_rerun_plans_nothing(clients, params_dir):
    ctx = Context(P.load("demo"), lambda: clients, apply=True, ran_by="test")
    done = execute(DefenderEnabled(), ctx)
    assert done.status == "fulfilled", done.summary
    assert len(done.applied) == len(DEMO_SUBS) * len(ctx.params.defender.plans)
    vms = pricing(clients, DEMO_SUBS[1], "VirtualMachines")["properties"]
    assert vms["pricingTier"] == "Standard" and vms["subPlan"] == "P2"
    assert vms["resourcesCoverageStatus"] == "FullyCovered"
    assert {"name": "MdeDesignatedSubscription", "isEnabled": "True"} in vms["extensions"]
    assert {r["coverage"] for r in done.observed} == {"FullyCovered"}
    again = execute(DefenderEnabled(), ctx)
    assert again.status == "fulfilled" and again.planned == []


def test_a_resource_that_opted_out_is_reported_as_partial_coverage(clients, params_dir, sandbox):
    ctx = Context(P.load("demo"), lambda: clients, apply=True, ran_by="test")
    assert execute(DefenderEnabled(), ctx).status == "fulfilled"
    sub = DEMO_SUBS[0]
    vm = next(
        r.id for r in clients.resource(sub).resources.list(filter="resourceType eq 'Microsoft.Compute/virtualMachines'")
    )
    pricing(clients, sub, "VirtualMachines", scope=vm, method="PUT", body={"properties": {"pricingTier": "Free"}})
    result = execute(DefenderEnabled(), ctx)
    assert (
        result.status == "fulfilled"
        and "Partially covered" in result.summary
        and f"VirtualMachines in {sub}" in result.summary
    )


def test_an_unknown_sub_plan_is_refused_by_azure_and_named(clients, params_dir):
    text = (params_dir / "demo.yml").read_text() + "\ndefender: {plans: [{name: VirtualMachines, sub_plan: P9}]}\n"
    (params_dir / "demo.yml").write_text(text)
    ctx = Context(P.load("demo"), lambda: clients, apply=True, ran_by="test")
    result = execute(DefenderEnabled(), ctx)
    assert result.status == "failed" and "400" in result.summary and "P9" in result.summary
