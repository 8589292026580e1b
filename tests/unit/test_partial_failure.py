"""One subscription Azure refuses does not sink the others, and what was applied stays on the record."""

import pytest

from runbook.customer import params as P
from runbook.evidence.journal import Journal, read
from runbook.steps.app_registration import AppRegistration
from runbook.steps.base import Context, execute
from runbook.steps.monitoring import MonitoringAlerting
from runbook.steps.tagging import prepare_sheet
from tests.conftest import DEMO_SUBS


@pytest.fixture
def ctx(clients, params_dir, tmp_path):
    return Context(
        P.load("demo"), lambda: clients, apply=True, ran_by="test", journal=Journal(tmp_path / "journal.jsonl")
    )


def revoke(sandbox, sub: str) -> None:
    """Take the runbook principal's RBAC role on a subscription away."""
    for key in [
        k
        for k in sandbox.state.arm
        if k.startswith(f"/subscriptions/{sub}/providers/microsoft.authorization/roleassignments/")
    ]:
        del sandbox.state.arm[key]


def test_app_registration_goes_on_past_a_subscription_without_rights(ctx, sandbox, tmp_path):
    revoke(sandbox, DEMO_SUBS[1])
    result = execute(AppRegistration(), ctx)
    assert result.status == "failed"
    assert any(DEMO_SUBS[1] in m and "403" in m for m in result.missing), result.missing
    actions = [c.action for c in result.applied]
    assert actions[:3] == ["create application", "create service principal", "add client secret"]
    assert actions.count("assign role") == 3  # the RBAC subscription that still works
    journal, broken = read(tmp_path / "journal.jsonl")
    assert broken == 0 and [e["action"] for e in journal if e["kind"] == "change"] == actions
    assert journal[-1]["kind"] == "item" and journal[-1]["result"]["status"] == "failed"


def test_monitoring_configures_the_readable_subscriptions_and_names_the_other(ctx, sandbox):
    prepare_sheet(ctx)
    revoke(sandbox, DEMO_SUBS[1])
    result = execute(MonitoringAlerting(), ctx)
    assert result.status == "failed" and any(DEMO_SUBS[1] in m for m in result.missing), result.summary
    assert {c.target.split("/")[2] for c in result.applied} == {DEMO_SUBS[0], DEMO_SUBS[2]}


def test_tagging_tags_the_readable_subscriptions_and_names_the_other(ctx, sandbox):
    prepare_sheet(ctx)
    revoke(sandbox, DEMO_SUBS[1])
    from runbook.steps.tagging import TagManagedResources

    result = execute(TagManagedResources(), ctx)
    assert result.status == "failed" and any(DEMO_SUBS[1] in m for m in result.missing), result.summary
    assert result.applied and {c.target.split("/")[2] for c in result.applied} <= {DEMO_SUBS[0], DEMO_SUBS[2]}


def test_a_stopped_sandbox_is_reported_as_unreachable_with_the_fix(ctx, sandbox):
    sandbox.sandbox.stop()
    result = execute(AppRegistration(), ctx)
    assert result.status == "failed" and result.summary.startswith("The tenant could not be reached")
    assert "runbook sandbox serve" in result.summary and "Azure answered" not in result.summary


def test_the_sheet_lists_what_it_could_read_and_names_the_subscription_it_could_not(ctx, sandbox):
    """Issue 21: a subscription that grants nothing does not sink the sheet, so tagging and monitoring of the others
    still run."""
    revoke(sandbox, DEMO_SUBS[1])
    summary = prepare_sheet(ctx)
    assert summary.created and len(summary.unreadable) == 1 and summary.unreadable[0].scope.endswith(DEMO_SUBS[1])
    assert "403" in summary.unreadable[0] and DEMO_SUBS[1] in repr(summary) and DEMO_SUBS[1] in summary._repr_html_()
    listed = {
        rid.split("/")[2] for rid in summary.marking.managed | summary.marking.unmanaged | summary.marking.unmarked
    }
    assert listed == {DEMO_SUBS[0].lower(), DEMO_SUBS[2].lower()}  # marking keys are lower-cased ids
    from runbook.steps.tagging import TagManagedResources

    tagged = execute(TagManagedResources(), ctx)
    assert tagged.applied and {c.target.split("/")[2] for c in tagged.applied} <= {DEMO_SUBS[0], DEMO_SUBS[2]}
    assert tagged.status == "failed" and any(DEMO_SUBS[1] in m for m in tagged.missing), tagged.summary
    monitored = execute(MonitoringAlerting(), ctx)
    assert {c.target.split("/")[2] for c in monitored.applied} == {DEMO_SUBS[0], DEMO_SUBS[2]}


def test_an_app_without_the_graph_permission_is_named_with_the_fix(ctx, sandbox):
    """Issue 21: the runbook's app lacks Application.ReadWrite.All: the item fails in one line naming the
    permission and admin consent (no traceback)."""
    sandbox.state.graph_permissions[sandbox.conn.client_id.lower()] = {"Directory.Read.All"}
    result = execute(AppRegistration(), ctx)
    assert result.status == "failed"
    assert "403 Authorization_RequestDenied" in result.summary and "Application.ReadWrite.All" in result.summary
    assert "admin consent" in result.summary and "\n" not in result.summary
