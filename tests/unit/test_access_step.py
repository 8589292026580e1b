"""Stage 0 access check against the sandbox tenant: RBAC, Lighthouse, and exactly what is missing."""

import pytest

from runbook.customer import params as P
from runbook.steps.access import MspAccess
from runbook.steps.base import Context, execute
from tests.conftest import DEMO_SUBS

RUNBOOK_SP = "9a2e4c61-7b3d-4f85-a1c9-0d6e8f2b5a73"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


@pytest.fixture
def ctx(clients):
    return Context(P.load("demo"), lambda: clients, apply=False, ran_by="test")


def test_demo_tenant_is_fully_authorized(ctx):
    result = execute(MspAccess(), ctx)
    assert result.status == "fulfilled", result.summary
    sources = {(r["subscription"], r["source"]) for r in result.observed if r["msp"]}
    assert (DEMO_SUBS[0], "RBAC") in sources and (DEMO_SUBS[2], "Lighthouse") in sources


def test_removed_role_assignment_is_named(ctx, clients):
    auth = clients.authorization(DEMO_SUBS[1])
    scope = f"/subscriptions/{DEMO_SUBS[1]}"
    # grant Reader first so the runbook can still see the subscription, then drop its Owner
    auth.role_assignments.create(
        scope,
        "0b1c2d3e-0000-4000-8000-000000000001",
        {
            "role_definition_id": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7",
            "principal_id": RUNBOOK_SP,
        },
    )
    owner = next(ra for ra in auth.role_assignments.list_for_scope(scope) if ra.role_definition_id.endswith(OWNER))
    auth.role_assignments.delete_by_id(owner.id)
    result = execute(MspAccess(), ctx)
    assert result.status == "open"
    assert result.summary == "The MSP is authorized on 2 of 3 subscription(s)."
    assert result.missing == [
        f"{DEMO_SUBS[1]}: no Owner or Contributor role assignment for principal {RUNBOOK_SP} and no Lighthouse delegation from tenant 0b8e6a2d-93c4-4f5e-8d17-5a9c3e2f1b40"
    ]


def test_invisible_subscription_is_reported(ctx, sandbox):
    # remove every grant on subscription 2 directly in the tenant state (the customer revoked access)
    for key in [
        k
        for k in sandbox.state.arm
        if k.startswith(f"/subscriptions/{DEMO_SUBS[1]}/providers/microsoft.authorization/roleassignments/")
    ]:
        del sandbox.state.arm[key]
    result = execute(MspAccess(), ctx)
    assert result.status == "open"
    assert any(m.startswith(f"{DEMO_SUBS[1]}: the runbook principal") and "cannot read" in m for m in result.missing)


def test_lighthouse_offer_missing_an_authorization(ctx, sandbox):
    definition = next(
        o for o in sandbox.state.arm.values() if o["type"] == "Microsoft.ManagedServices/registrationDefinitions"
    )
    definition["properties"]["authorizations"] = [
        a for a in definition["properties"]["authorizations"] if a["principalIdDisplayName"] != "engineers"
    ]
    result = execute(MspAccess(), ctx)
    assert result.status == "open"
    assert result.missing == [
        f"{DEMO_SUBS[2]}: Lighthouse offer 'Intercept Managed Services' lacks the authorization {role} for principal 5d7a9c3e-1f2b-4a6d-8e0c-7b9d1f3a5c26"
        for role in ("contributor", "managed services registration assignment delete role")
    ]


def test_unreachable_tenant_fails_the_item_not_the_run(ctx, sandbox):
    sandbox.sandbox.stop()
    result = execute(MspAccess(), ctx)
    assert result.status == "failed" and "Connection refused" in result.error
