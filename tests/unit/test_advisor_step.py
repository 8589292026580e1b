"""s3-advisor against the sandbox: everything enabled, and the resource-group configurations that Azure deletes when
the subscription's configuration is written are named in the plan and written back."""

import pytest
from azure.core.rest import HttpRequest

from runbook import errors
from runbook.customer import params as P
from runbook.steps.advisor import API, AdvisorEverythingEnabled
from runbook.steps.base import Context, execute
from runbook.steps.monitoring import MonitoringAlerting
from runbook.steps.tagging import prepare_sheet
from tests.conftest import DEMO_SUBS

SUB = DEMO_SUBS[0]
RG_CONFIG = f"/subscriptions/{SUB}/resourceGroups/rg-dev-excluded/providers/Microsoft.Advisor/configurations/default"


def rest(clients, method, path, body=None):
    resp = clients.resource(SUB).send_request(HttpRequest(method, f"{path}?api-version={API}", json=body))
    resp.raise_for_status()
    return resp.json() if resp.content else {}


@pytest.fixture
def ctx(clients, params_dir):
    c = Context(P.load("demo"), lambda: clients, apply=True, ran_by="test")
    prepare_sheet(c)
    assert execute(MonitoringAlerting(), c).status == "fulfilled"  # the MSP action group the digest goes to
    clients.resource(SUB).resource_groups.create_or_update("rg-dev-excluded", {"location": "westeurope"})
    rest(clients, "PUT", RG_CONFIG, {"properties": {"exclude": True}})  # someone excluded a group
    return c


def test_everything_is_enabled_and_the_excluded_group_is_included_again(ctx, clients):
    dry = Context(ctx.params, lambda: clients, apply=False, ran_by="test")
    shown = execute(AdvisorEverythingEnabled(), dry)
    assert shown.status == "open"
    actions = [(c.action, c.target) for c in shown.planned]
    assert ("update Advisor resource group configuration", RG_CONFIG) in actions
    assert actions.index(("update Advisor resource group configuration", RG_CONFIG)) > actions.index(
        (
            "update Advisor subscription configuration",
            f"/subscriptions/{SUB}/providers/Microsoft.Advisor/configurations/default",
        )
    )  # written after the subscription's, which deletes it

    done = execute(AdvisorEverythingEnabled(), ctx)
    assert done.status == "fulfilled", done.summary
    sub_config = rest(clients, "GET", f"/subscriptions/{SUB}/providers/Microsoft.Advisor/configurations/default")
    digest = sub_config["properties"]["digests"][0]
    assert sub_config["properties"]["exclude"] is False and sub_config["properties"]["lowCpuThreshold"] == "5"
    assert digest["frequency"] == 7 and digest["actionGroupResourceId"].endswith("/actionGroups/ag-intercept")
    assert rest(clients, "GET", RG_CONFIG)["properties"]["exclude"] is False
    listed = rest(clients, "GET", f"/subscriptions/{SUB}/providers/Microsoft.Advisor/configurations")["value"]
    assert RG_CONFIG.lower() in {o["id"].lower() for o in listed}  # it still exists, included

    again = execute(AdvisorEverythingEnabled(), ctx)
    assert again.status == "fulfilled" and again.planned == []


def test_a_group_configuration_in_place_is_restored_after_the_subscription_write(ctx, clients):
    rest(clients, "PUT", RG_CONFIG, {"properties": {"exclude": False}})
    shown = execute(AdvisorEverythingEnabled(), Context(ctx.params, lambda: clients, apply=False, ran_by="t"))
    restore = [c for c in shown.planned if c.action == "restore Advisor resource group configuration"]
    assert [c.target for c in restore] == [RG_CONFIG] and restore[0].detail[
        "why"
    ] == "the subscription write deletes it"
    assert execute(AdvisorEverythingEnabled(), ctx).status == "fulfilled"
    assert rest(clients, "GET", RG_CONFIG)["properties"]["exclude"] is False


def test_a_digest_without_the_msp_action_group_fails_naming_it(clients, params_dir):
    ctx = Context(P.load("demo"), lambda: clients, apply=True, ran_by="test")
    result = execute(AdvisorEverythingEnabled(), ctx)  # monitoring not set up: no action group yet
    assert result.status == "failed"
    assert "400 BadRequest" in result.summary and "ag-intercept" in result.summary and "was not found" in result.summary


def test_the_agreed_settings_are_validated_before_anything_runs(params_dir):
    text = (params_dir / "demo.yml").read_text() + "\nadvisor: {low_cpu_threshold: '7', digest_frequency_days: 3}\n"
    (params_dir / "demo.yml").write_text(text)
    with pytest.raises(errors.ParameterError) as err:
        P.load("demo")
    assert "advisor.low_cpu_threshold" in str(err.value) and "advisor.digest_frequency_days" in str(err.value)
