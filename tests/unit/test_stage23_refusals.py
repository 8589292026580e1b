"""Every Stage 2-3 configuring step on each refusal path Azure has: a subscription without rights (403 named, the
others go on), a locked subscription (409 ScopeLocked named), and ARM throttling (429s waited out); and the Stage 3
run twice with apply plans nothing the second time."""

import json

import pytest

from runbook import runner
from runbook.customer import params as P
from runbook.steps.advisor import AdvisorEverythingEnabled
from runbook.steps.base import Context, execute
from runbook.steps.budget import BudgetAlert
from runbook.steps.defender import DefenderEnabled
from runbook.steps.lighthouse import LighthouseOffer
from runbook.steps.monitoring import MonitoringAlerting
from runbook.steps.tagging import TagSheetResources, prepare_sheet
from tests.conftest import DEMO_SUBS

STEPS = [BudgetAlert, AdvisorEverythingEnabled, DefenderEnabled, LighthouseOffer, TagSheetResources]
SUB = DEMO_SUBS[0]
RUNBOOK = "9a2e4c61-7b3d-4f85-a1c9-0d6e8f2b5a73"


@pytest.fixture
def ctx(clients, params_dir):
    c = Context(P.load("demo"), lambda: clients, apply=True, ran_by="test")
    prepare_sheet(c)
    assert execute(MonitoringAlerting(), c).status == "fulfilled"  # the action group budgets and digests use
    return c


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.item_id)
def test_a_subscription_without_rights_is_named_and_the_others_go_on(step, ctx, sandbox):
    from azure_sandbox.fixtures import role_assignment

    scope = f"/subscriptions/{SUB}"
    for ra in list(sandbox.state.children(f"{scope}/providers/Microsoft.Authorization/roleAssignments")):
        sandbox.state.delete_tree(ra["id"])
    sandbox.state.put(role_assignment(scope, RUNBOOK, "Reader"))  # it may look, not write
    result = execute(step(), ctx)
    text = json.dumps(result.to_dict())
    if step is LighthouseOffer:  # a Reader may not deploy the offer: the customer's admin gets the template
        assert result.status == "open" and f"/subscriptions/{SUB}" in [c.target for c in result.planned]
        return
    assert result.status == "failed", result.summary
    assert "403" in text and "AuthorizationFailed" in text and SUB in text
    assert result.applied and all(SUB not in c.target for c in result.applied)  # the other subscriptions got theirs


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.item_id)
def test_a_locked_subscription_is_named(step, ctx, clients):
    clients.locks(SUB).management_locks.create_or_update_at_subscription_level("freeze", {"level": "ReadOnly"})
    result = execute(step(), ctx)
    text = json.dumps(result.to_dict())
    assert result.status in ("failed", "open"), result.summary
    assert "ScopeLocked" in text and SUB in text
    assert all(SUB not in c.target for c in result.applied)


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.item_id)
def test_throttling_is_waited_out(step, ctx, sandbox):
    if step is LighthouseOffer:  # its writes are long-running operations, whose Retry-After stays in whole seconds
        sandbox.set_faults(throttle=True, write_capacity=1, write_refill=0.5)
    else:
        sandbox.set_faults(
            throttle=True,
            write_capacity=1,
            write_refill=40.0,
            read_capacity=1,
            read_refill=40.0,
            fractional_retry_after=True,
        )
    result = execute(step(), ctx)
    assert result.status in ("fulfilled", "open"), result.summary  # open: Lighthouse's template handover
    assert not result.error and sandbox.stats().get("throttled", 0) > 0
    sandbox.set_faults()
    assert execute(step(), ctx).planned == [] or step is LighthouseOffer


def test_stage3_twice_with_apply_plans_nothing_the_second_time(sandbox, evidence_dir, params_dir):
    for stage in (0, 1, 2):
        runner.run_stage("demo", stage, apply=True, force=True)
    first = runner.run_stage("demo", 3, apply=True, force=True)
    automated = {"s3-tag-sheet-resources", "s3-advisor", "s3-lighthouse", "s3-defender-enabled"}
    by_id = {r.item_id: r for r in first.items}
    assert {i: by_id[i].status for i in automated} == dict.fromkeys(automated, "fulfilled")
    second = runner.run_stage("demo", 3, apply=True)
    again = {r.item_id: r for r in second.items}
    assert all(again[i].status == "fulfilled" and not again[i].planned and not again[i].applied for i in automated)
