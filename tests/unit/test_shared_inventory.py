"""A batch run lists the customer's inventory once for the steps that need it; verification, and applying a
reviewed plan, read it afresh (issue 14: no waste at scale)."""

import pytest

from runbook.adapters import inventory
from runbook.customer import params as P
from runbook.steps.base import Context, execute
from runbook.steps.monitoring import MonitoringAlerting
from runbook.steps.tagging import TagManagedResources, prepare_sheet


@pytest.fixture
def listings(monkeypatch):
    calls = []
    real = inventory.list_resources

    def counted(*args, **kwargs):  # the real listing against the sandbox, counted
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(inventory, "list_resources", counted)
    return calls


@pytest.mark.parametrize(
    ("share", "apply", "expected"), [(True, False, 1), (False, False, 3), (True, True, 3), (False, True, 5)]
)
def test_stage1_lists_the_inventory_once_and_verification_reads_afresh(
    clients, params_dir, listings, share, apply, expected
):
    ctx = Context(P.load("demo"), lambda: clients, apply=apply, ran_by="test", share_inventory=share)
    prepare_sheet(ctx)
    tagged = execute(TagManagedResources(), ctx)
    monitored = execute(MonitoringAlerting(), ctx)
    assert len(listings) == expected
    assert tagged.status == monitored.status == ("fulfilled" if apply else "open")


def test_verification_sees_what_apply_changed_although_the_inventory_is_shared(clients, params_dir):
    ctx = Context(P.load("demo"), lambda: clients, apply=True, ran_by="test", share_inventory=True)
    prepare_sheet(ctx)
    first = execute(TagManagedResources(), ctx)
    assert first.status == "fulfilled" and first.applied  # verified against a fresh listing, not the shared one
    assert execute(TagManagedResources(), ctx).planned == []  # the shared inventory now holds the fresh read
