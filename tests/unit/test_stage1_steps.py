"""Stage 1 steps against the sandbox: app registration, tagging at scale, monitoring; each re-run changes nothing."""

import json
import os
import stat

import pytest
from openpyxl import load_workbook

from runbook.customer import params as P
from runbook.evidence.archive import scan_text
from runbook.steps.app_registration import AppRegistration
from runbook.steps.base import Context, execute
from runbook.steps.monitoring import MonitoringAlerting
from runbook.steps.tagging import TagManagedResources, prepare_sheet
from tests.conftest import DEMO_SUBS

SUB = DEMO_SUBS[0]


@pytest.fixture
def ctx(clients, params_dir):
    return Context(P.load("demo"), lambda: clients, apply=True, ran_by="test")


@pytest.fixture
def marked(ctx):
    """The generated sheet (the demo pre-marks everything Yes)."""
    return prepare_sheet(ctx)


def test_app_registration_creates_once_and_keeps_the_secret_out(ctx, sandbox):
    first = execute(AppRegistration(), ctx)
    assert first.status == "fulfilled", first.summary
    assert [c.action for c in first.applied][:3] == [
        "create application",
        "create service principal",
        "add client secret",
    ]
    # 3 roles on the two RBAC-managed subscriptions; the Lighthouse-delegated one cannot take them (Azure refuses a
    # delegated User Access Administrator assigning roles to anything but a managed identity), so none are planned
    assert sum(c.action == "assign role" for c in first.applied) == 6
    lighthouse = [r for r in first.observed if r["object"] == "role assignment" and r["id"].endswith(DEMO_SUBS[2])]
    assert len(lighthouse) == 1 and lighthouse[0]["state"].startswith(
        "not needed: the MSP manages this subscription through the Lighthouse offer"
    )
    store = ctx.params.app_registration.secret_store.file
    secret = __import__("pathlib").Path(store).read_text()
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o600
    record = json.dumps(first.to_dict())
    assert secret not in record and scan_text(record, "result") == []
    assert "file:" in first.summary  # the reference is shown, not the value
    again = execute(AppRegistration(), ctx)
    assert again.status == "fulfilled" and again.planned == [] and again.applied == []
    assert sum(1 for a in sandbox.state.applications.values() if a["displayName"] == "Intercept Managed Services") == 1


def test_app_registration_dry_run_plans_only(ctx, sandbox):
    ctx.apply = False
    result = execute(AppRegistration(), ctx)
    assert result.status == "open" and len(result.planned) == 9 and result.applied == []
    assert not any(a["displayName"] == "Intercept Managed Services" for a in sandbox.state.applications.values())


def test_duplicate_applications_are_not_guessed(ctx, sandbox):
    from azure_sandbox.providers import graph

    graph.new_application(sandbox.state, "Intercept Managed Services")
    graph.new_application(sandbox.state, "Intercept Managed Services")
    result = execute(AppRegistration(), ctx)
    assert result.status == "failed" and "2 applications are named" in result.summary and result.applied == []


def test_tagging_merges_reuses_key_casing_and_is_idempotent(ctx, marked, clients):
    result = execute(TagManagedResources(), ctx)
    assert result.status == "fulfilled", result.summary
    assert len(result.applied) == 50  # 57 managed, 4 already Intercept=Managed, 3 SQL ones had intercept=managed
    db = f"/subscriptions/{SUB}/resourceGroups/rg-prod-data/providers/Microsoft.Sql/servers/sql-contoso-prod/databases/shop"
    tags = clients.resource(SUB).tags.get_at_scope(db).properties.tags
    assert tags == {"env": "prod", "intercept": "Managed"}  # no second "Intercept" key, other tags kept
    again = execute(TagManagedResources(), ctx)
    assert again.status == "fulfilled" and again.planned == []


def test_tagging_plan_shows_exactly_which_resources_change(ctx, marked):
    ctx.apply = False
    result = execute(TagManagedResources(), ctx)
    assert result.status == "open" and len(result.planned) == 50
    sql_change = next(c for c in result.planned if c.target.endswith("/servers/sql-contoso-prod"))
    assert sql_change.detail == {"key": "intercept", "value": "Managed", "was": "managed"}


def test_locked_resources_are_reported_not_fatal(ctx, marked, clients):
    clients.locks(SUB).management_locks.create_or_update_at_resource_group_level(
        "rg-prod-data", "freeze", {"level": "ReadOnly"}
    )
    result = execute(TagManagedResources(), ctx)
    assert result.status == "open"
    locked = [m for m in result.missing if "ScopeLocked" in m]
    assert len(locked) == 6 and all(
        "/resourceGroups/rg-prod-data/" in m for m in locked
    )  # 2 storage, the SQL server and its 3 databases
    assert len(result.applied) == 44


def test_tagging_survives_a_429_storm(ctx, marked, sandbox):
    sandbox.set_faults(throttle=True, write_capacity=5, write_refill=40.0, fractional_retry_after=True)
    result = execute(TagManagedResources(), ctx)
    assert result.status == "fulfilled" and len(result.applied) == 50
    assert sandbox.stats()["throttled"] > 0


def test_bad_workbook_fails_the_item_with_the_row(ctx, marked):
    wb = load_workbook(marked.marking.path)
    wb["Resources"]["J5"] = "Perhaps"
    wb.save(marked.marking.path)
    result = execute(TagManagedResources(), ctx)
    assert result.status == "failed" and "row 5: Managed is 'Perhaps'" in result.summary and result.applied == []


def test_monitoring_applies_then_plans_nothing_then_repairs_drift(ctx, marked, clients):
    first = execute(MonitoringAlerting(), ctx)
    assert first.status == "fulfilled", first.summary
    kinds = [c.action for c in first.applied]
    assert (
        kinds.count("create action group") == 3
        and kinds.count("create activity log alert") == 6
        and kinds.count("create metric alert") == 41
    )
    assert execute(MonitoringAlerting(), ctx).planned == []
    mon = clients.monitor(SUB)
    alert = next(
        a
        for a in mon.metric_alerts.list_by_resource_group("rg-intercept-monitoring")
        if a.name.startswith("ma-cpu-vm-contoso-app-01")
    )
    body = alert.as_dict()
    body["criteria"]["all_of"][0]["threshold"] = 99
    mon.metric_alerts.create_or_update("rg-intercept-monitoring", alert.name, body)
    ctx.apply = False
    drift = execute(MonitoringAlerting(), ctx)
    assert drift.status == "open" and [(c.action, c.detail["name"]) for c in drift.planned] == [
        ("update metric alert", alert.name)
    ]


def test_monitoring_needs_an_alert_address(ctx, marked, params_dir):
    text = (params_dir / "demo.yml").read_text().replace("alerts: {email: alerts@intercept.example}\n", "")
    (params_dir / "demo.yml").write_text(text)
    ctx.params = P.load("demo")
    result = execute(MonitoringAlerting(), ctx)
    assert result.status == "failed" and "'alerts'" in result.summary


def test_a_customer_without_app_registration_gets_a_named_input_error(ctx, params_dir):
    """Was an AttributeError in the Stage 1 cell; now the step says which section is missing and the fix."""
    text = (params_dir / "demo.yml").read_text()
    head, _, rest = text.partition("app_registration:\n")
    tail = rest.split("\n", 3)[3] if rest.count("\n") >= 3 else ""
    (params_dir / "demo.yml").write_text(head + tail)
    ctx.params = P.load("demo")
    assert ctx.params.app_registration is None
    result = execute(AppRegistration(), ctx)
    assert (
        result.status == "failed"
        and "'app_registration' is required for s1-app-registration" in result.summary
        and "Fix:" in result.summary
    )


def test_the_sheet_error_names_a_command_that_exists(ctx, tmp_path):
    """The missing-workbook error suggests `runbook sheet <customer>`, and that command is in the CLI."""
    from runbook.cli import build_parser
    from runbook.customer import sheet
    from runbook.errors import SheetError

    with pytest.raises(SheetError) as err:
        sheet.read(tmp_path / "nothing.xlsx", set())
    suggested = str(err.value).split("`")[1]
    assert suggested == "runbook sheet <customer>"
    args = build_parser().parse_args(suggested.replace("<customer>", "demo").split()[1:])
    assert args.func.__name__ == "cmd_sheet"
