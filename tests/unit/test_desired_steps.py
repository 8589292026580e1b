"""Configuring steps as tables of desired resources: the shared base lists, compares, writes and judges."""

from runbook.customer import catalogue
from runbook.customer import params as P
from runbook.steps.base import Context, execute, with_attestation
from runbook.steps.budget import BudgetAlert
from runbook.steps.desired import Desired, differences, project
from runbook.steps.monitoring import MonitoringAlerting
from runbook.steps.tagging import prepare_sheet
from tests.conftest import DEMO_SUBS


def test_projection_compares_what_matters_case_insensitively():
    want = Desired(
        "s",
        "x",
        "/subscriptions/s/x/n",
        "v",
        {"p": {"a": "Foo", "n": 5, "l": [{"k": "B", "v": 1}, {"k": "a", "v": 2}]}},
        ("p.a", "p.n", "p.l[k,v]"),
    )
    have = {"p": {"a": "foo", "n": 5.0, "l": [{"k": "A", "v": 2, "extra": 1}, {"k": "b", "v": 1}], "computed": True}}
    assert differences(want, have) == []
    assert differences(want, {**have, "p": {**have["p"], "n": 6}}) == ["p.n"]
    assert project({"a": [" /Subscriptions/X "]}, "a") == [" /subscriptions/x "]


def test_budget_is_created_updated_in_place_and_keeps_its_start_date(clients, params_dir):
    ctx = Context(P.load("demo"), lambda: clients, apply=True, ran_by="test")
    prepare_sheet(ctx)
    execute(MonitoringAlerting(), ctx)  # the budgets notify the MSP action group it creates
    first = execute(BudgetAlert(), ctx)
    assert first.status == "fulfilled", first.summary
    assert [c.action for c in first.applied] == ["create budget"] * 3
    assert "payload" not in str(first.to_dict())  # bodies stay out of the evidence
    assert execute(BudgetAlert(), ctx).planned == []
    ctx.params = ctx.params.model_copy(update={"budget": ctx.params.budget.model_copy(update={"amount": 5000})})
    ctx.apply = False
    drift = execute(BudgetAlert(), ctx)
    # issue 28: a drift names the old and the new value, not only the path
    assert drift.status == "open" and {r["state"] for r in drift.observed} == {
        "differs: properties.amount 4500.0 -> 5000"
    }
    update = drift.planned[0]
    assert update.detail["values"] == {"properties.amount": {"old": 4500.0, "new": 5000}}
    assert update.value_lines() == ["properties.amount: 4500.0 -> 5000"]
    ctx.apply = True
    again = execute(BudgetAlert(), ctx)
    assert again.status == "fulfilled" and [c.action for c in again.applied] == ["update budget"] * 3, again.summary
    b = clients.consumption(DEMO_SUBS[0]).budgets.get(f"/subscriptions/{DEMO_SUBS[0]}", "msp-monthly-budget")
    assert b.amount == 5000 and b.time_period.start_date.day == 1 and len(b.notifications) == 3


def test_an_item_both_attested_and_automated_needs_both(clients, params_dir):
    ctx = Context(P.load("demo"), lambda: clients, apply=True, ran_by="test")
    item = catalogue.load().item("s2-budget-alert")
    fulfilled = execute(BudgetAlert(), ctx)
    assert with_attestation(item, ctx, fulfilled).attestation["by"] == "Chris CSM"
    ctx.params = ctx.params.model_copy(update={"attestations": {}})
    result = with_attestation(item, ctx, execute(BudgetAlert(), ctx))
    assert result.status == "open" and any("attestation of s2-budget-alert" in m for m in result.missing)


def test_budget_amounts_agreed_per_subscription(clients, params_dir):
    text = (params_dir / "demo.yml").read_text()
    assert "budget:" in text
    (params_dir / "demo.yml").write_text(
        text.replace("budget: {amount: 4500", f"budget: {{amounts: {{'{DEMO_SUBS[1]}': 250}}, amount: 4500", 1)
    )
    ctx = Context(P.load("demo"), lambda: clients, apply=True, ran_by="test")
    prepare_sheet(ctx)
    execute(MonitoringAlerting(), ctx)
    assert execute(BudgetAlert(), ctx).status == "fulfilled"
    budgets = {
        s: clients.resource(s)
        .resources.get_by_id(
            f"/subscriptions/{s}/providers/Microsoft.Consumption/budgets/msp-monthly-budget", api_version="2024-08-01"
        )
        .properties["amount"]
        for s in DEMO_SUBS
    }
    assert budgets == {DEMO_SUBS[0]: 4500, DEMO_SUBS[1]: 250, DEMO_SUBS[2]: 4500}


def test_budget_amounts_for_an_unknown_subscription_are_refused_before_anything_runs(params_dir):
    import pytest

    from runbook import errors

    text = (params_dir / "demo.yml").read_text()
    (params_dir / "demo.yml").write_text(
        text.replace(
            "budget: {amount: 4500", "budget: {amounts: {'00000000-0000-4000-8000-000000000000': 5}, amount: 4500", 1
        )
    )
    with pytest.raises(errors.ParameterError) as err:
        P.load("demo")
    assert "budget.amounts names subscription(s) not in subscription_ids" in str(err.value)


def test_a_subscription_the_budget_api_does_not_serve_fails_naming_what_the_csm_must_do(sandbox, clients, params_dir):
    sub = sandbox.state.get(f"/subscriptions/{DEMO_SUBS[2]}")
    sub["_cost_management"] = False  # e.g. a CSP Azure plan without cost visibility
    sandbox.state.put(sub)
    ctx = Context(P.load("demo"), lambda: clients, apply=True, ran_by="test")
    prepare_sheet(ctx)
    execute(MonitoringAlerting(), ctx)
    result = execute(BudgetAlert(), ctx)
    assert result.status == "failed" and result.error == ""
    assert any(DEMO_SUBS[2] in m and "CSM: in Partner Center" in m for m in result.missing)
    assert "Cost Management supports only" in " ".join(result.missing)
    others = [c.target for c in result.applied]
    assert len(others) == 2 and all(DEMO_SUBS[2] not in t for t in others)  # the other subscriptions got theirs
