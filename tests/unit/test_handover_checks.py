"""Issue 22: Stage 4's handover checks in the customer's tenant (s4-o365-licenses through Microsoft Graph,
s4-advisor-insight and s4-policy-dashboard through ARM role assignments): each check's decision table, Azure's
evaluation of actions (wildcards, notActions), the checks against the sandbox (what the evidence holds, and what it
must not), and the fallback to the attestation when the parameters name no contact or the tenant refuses the read."""

from __future__ import annotations

import json

import pytest
import yaml

from runbook.customer import catalogue, params
from runbook.customer.params import Contact
from runbook.errors import ParameterError
from runbook.notebook import Session
from runbook.steps import REGISTRY
from runbook.steps.base import Context, TenantCheck, check_or_attest
from runbook.steps.handover import (
    ADVISOR_READ,
    POLICY_READ,
    DirectoryRole,
    Grant,
    Permission,
    Person,
    allows,
    covers,
    insight_verdict,
    licence_verdict,
)

ITEMS = ("s4-o365-licenses", "s4-advisor-insight", "s4-policy-dashboard")
DANA = Contact(name="Dana Director", email="dana@contoso-demo.example", role="IT manager")
OLAF = Contact(name="Olaf Operator", email="olaf@contoso-demo.example", role="Operations")
DANA_ID = "2b7e4f1a-6c3d-4e8b-9a5f-0d1c2e3f4a51"
OLAF_ID = "2b7e4f1a-6c3d-4e8b-9a5f-0d1c2e3f4a52"
SUBS = ("1a2b3c4d-0001-4e5f-8a9b-0c1d2e3f4a01", "1a2b3c4d-0002-4e5f-8a9b-0c1d2e3f4a02")
LICENSE_ADMIN = DirectoryRole("4d6ac14f-3453-41d0-bef9-a3e0c569773a", "License Administrator")
READER = (Permission(("*/read",)),)


# --- the catalogue and the registry ----------------------------------------------------------------------------------
def test_the_three_items_are_both_and_tenant_checks_without_a_connector():
    cat = catalogue.load()
    for item_id in ITEMS:
        item = cat.item(item_id)
        assert (item.kind, item.connector, item.configures) == ("both", "", False) and item.automation
        assert isinstance(REGISTRY[item_id](), TenantCheck)


# --- Azure's evaluation of actions -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("permissions", "advisor", "policy"),
    [
        (READER, True, True),  # Reader: */read
        ((Permission(("*",)),), True, True),  # Owner / Contributor
        ((Permission(("Microsoft.Advisor/*",)),), True, False),
        ((Permission(("microsoft.advisor/recommendations/READ",)),), True, False),  # actions are case-insensitive
        ((Permission(("*/read",), ("Microsoft.Advisor/*",)),), False, True),  # notActions subtract
        ((Permission(("*/read",), ("Microsoft.PolicyInsights/policyStates/*",)),), True, False),
        # notActions subtract within their block only: another block's action still allows it
        (
            (
                Permission(("*/read",), ("Microsoft.Advisor/*",)),
                Permission(("Microsoft.Advisor/recommendations/read",)),
            ),
            True,
            True,
        ),
        ((Permission(("Microsoft.Advisor/configurations/read",)),), False, False),
        ((Permission(("Microsoft.PolicyInsights/*/read",)),), False, True),  # '*' spans segments
        ((Permission(("Microsoft.Resources/subscriptions/read",)),), False, False),
        ((), False, False),
    ],
)
def test_actions_are_matched_with_wildcards_minus_not_actions(permissions, advisor, policy):
    assert allows(permissions, ADVISOR_READ) is advisor
    assert allows(permissions, POLICY_READ) is policy


def test_only_the_subscription_or_a_scope_above_it_covers_the_subscription():
    sub = SUBS[0]
    assert covers(f"/subscriptions/{sub}", sub) and covers("/", sub)
    assert covers("/providers/Microsoft.Management/managementGroups/contoso", sub)
    assert not covers(f"/subscriptions/{sub}/resourceGroups/rg-prod-web", sub)
    assert not covers(f"/subscriptions/{SUBS[1]}", sub)


# --- the licence check's decision table ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("person", "status", "summary", "missing"),
    [
        (
            Person(DANA, DANA_ID, 1, [LICENSE_ADMIN]),
            "fulfilled",
            f"Dana Director (user {DANA_ID}) holds License Administrator",
            [],
        ),
        (
            Person(DANA, DANA_ID, 1, [DirectoryRole("62e90394-69f5-4237-9190-012177145e10", "Global Administrator")]),
            "fulfilled",
            "holds Global Administrator",
            [],
        ),
        (  # a custom role granting the licence action counts
            Person(
                DANA,
                DANA_ID,
                1,
                [
                    DirectoryRole(
                        "c0ffee00-0000-0000-0000-000000000001",
                        "Licensing desk",
                        "/",
                        ("microsoft.directory/users/assignLicense",),
                    )
                ],
            ),
            "fulfilled",
            "holds Licensing desk",
            [],
        ),
        (
            Person(DANA, DANA_ID, 1, [DirectoryRole("f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader")]),
            "open",
            "holds Global Reader in tenant Contoso, none of which can assign licences",
            [
                "Dana Director lacks License Administrator (or User Administrator, Global Administrator) for the whole directory"
            ],
        ),
        (
            Person(
                DANA,
                DANA_ID,
                1,
                [DirectoryRole(LICENSE_ADMIN.definition_id, "License Administrator", "/administrativeUnits/au-1")],
            ),
            "open",
            "holds License Administrator for /administrativeUnits/au-1: only for part of the directory",
            [
                "Dana Director lacks License Administrator (or User Administrator, Global Administrator) for the whole directory"
            ],
        ),
        (
            Person(DANA, DANA_ID, 1, []),
            "open",
            "holds no role in tenant Contoso",
            [
                "Dana Director lacks License Administrator (or User Administrator, Global Administrator) for the whole directory"
            ],
        ),
        (
            Person(DANA, "", 0),
            "open",
            "Dana Director is not a user of tenant Contoso",
            [
                "Dana Director: a user in tenant Contoso with the contact's e-mail address, holding License Administrator (or User Administrator, Global Administrator) for the whole directory"
            ],
        ),
        (
            Person(DANA, "ambiguous", 2),
            "open",
            "2 users of tenant Contoso have Dana Director's e-mail address",
            ["Dana Director: one user in tenant Contoso with the contact's e-mail address (now 2)"],
        ),
    ],
)
def test_licence_decision_table(person, status, summary, missing):
    v = licence_verdict(person, "Contoso")
    assert (v.status, v.missing) == (status, missing) and summary in v.summary, v.summary


# --- the insight checks' decision table -----------------------------------------------------------------------------
def sub_grant(sub: str, permissions=READER, via: str = "", role: str = "Reader") -> Grant:
    return Grant(role, f"/subscriptions/{sub}", permissions, via)


def test_insight_is_fulfilled_per_subscription_direct_or_through_a_group_or_from_above():
    people = [Person(DANA, DANA_ID, 1), Person(OLAF, OLAF_ID, 1)]
    grants = {
        (DANA_ID, SUBS[0]): [sub_grant(SUBS[0])],
        (DANA_ID, SUBS[1]): [Grant("Reader", "/providers/Microsoft.Management/managementGroups/contoso", READER)],
        (OLAF_ID, SUBS[0]): [sub_grant(SUBS[0], via="group-1")],
        (OLAF_ID, SUBS[1]): [sub_grant(SUBS[1], (Permission(("*",)),), role="Contributor")],
    }
    v = insight_verdict(people, grants, SUBS, ADVISOR_READ, "Azure Advisor", "Contoso")
    assert v.status == "fulfilled" and v.summary.startswith(
        "All 2 contact(s) can open Azure Advisor on all 2 subscription(s)"
    )


def test_insight_open_names_each_contact_and_subscription_missing():
    people = [
        Person(DANA, DANA_ID, 1),
        Person(OLAF, OLAF_ID, 1),
        Person(Contact(name="Frank Finance", email="f@x.example"), "", 0),
    ]
    rg = f"/subscriptions/{SUBS[1]}/resourceGroups/rg-dev"
    grants = {
        (DANA_ID, SUBS[0]): [sub_grant(SUBS[0])],
        (DANA_ID, SUBS[1]): [Grant("Reader", rg, READER)],  # a resource group only
        (OLAF_ID, SUBS[0]): [
            sub_grant(SUBS[0], (Permission(("*/read",), ("Microsoft.PolicyInsights/*",)),), role="Custom")
        ],
        (OLAF_ID, SUBS[1]): [sub_grant(SUBS[1])],
    }
    v = insight_verdict(people, grants, SUBS, POLICY_READ, "the Azure Policy dashboard", "Contoso")
    assert (
        v.status == "open"
        and v.summary == "3 contact x subscription part(s) of 6 lack insight in the Azure Policy dashboard."
    )
    assert v.missing == [
        f"Dana Director (user {DANA_ID}) on subscription {SUBS[1]}: no role allowing {POLICY_READ} (only on {rg})",
        f"Olaf Operator (user {OLAF_ID}) on subscription {SUBS[0]}: no role allowing {POLICY_READ}",
        "Frank Finance is not a user of tenant Contoso (by the contact's e-mail address)",
    ]


# --- parameters ---------------------------------------------------------------------------------------------------
def test_handover_must_name_contacts(params_dir):
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    data["handover"] = {"licence_admin": "Nobody Known"}
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    with pytest.raises(ParameterError) as exc:
        params.load("demo")
    assert "handover names 'Nobody Known', who is not in contacts" in str(exc.value)
    data["handover"] = {"licence_admin": "DANA@contoso-demo.example", "insight": ["olaf  operator"]}
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    p = params.load("demo")
    assert p.contact(p.handover.licence_admin).name == "Dana Director"


# --- against the sandbox ---------------------------------------------------------------------------------------------
@pytest.fixture
def ctx(sandbox, params_dir):
    p = params.load("demo")
    clients = sandbox.clients()
    yield Context(p, lambda: clients, journal=None)
    clients.close()


def run(ctx: Context, item_id: str):
    return check_or_attest(catalogue.load().item(item_id), ctx, REGISTRY[item_id]())


def test_the_demo_checks_are_fulfilled_and_their_evidence_holds_ids_and_roles_but_no_address(ctx):
    results = {i: run(ctx, i) for i in ITEMS}
    assert {i: r.status for i, r in results.items()} == dict.fromkeys(ITEMS, "fulfilled"), {
        i: r.summary for i, r in results.items()
    }
    lic = results["s4-o365-licenses"]
    assert lic.summary.startswith(
        f"Dana Director (user {DANA_ID}) holds License Administrator in tenant Contoso Demo BV"
    )
    assert lic.observed == [
        {
            "contact": "Dana Director",
            "user": DANA_ID,
            "role": "License Administrator",
            "scope": "/",
            "manages licences": "yes",
        }
    ]
    adv = results["s4-advisor-insight"]
    assert adv.summary.startswith("All 2 contact(s) can open Azure Advisor on all 3 subscription(s)")
    assert len(adv.observed) == 6  # 2 contacts x 3 subscriptions, one role each
    assert {(r["contact"], r["via"], r["role"], r["allows"]) for r in adv.observed} == {
        ("Dana Director", "direct", "Reader", "yes"),
        ("Olaf Operator", "group 7e1b5c3a-2d4f-4a8e-9c6b-1f3e5d7a9b20", "Reader", "yes"),
    }
    for r in results.values():
        text = json.dumps(r.to_dict())
        assert "@" not in text and "onmicrosoft" not in text, r.item_id  # no address, no user name
        assert r.attestation is None  # the check decided


def test_a_contact_without_the_role_keeps_it_open_naming_them(sandbox, ctx):
    state = sandbox.state
    state.directory_role_assignments.clear()
    lic = run(ctx, "s4-o365-licenses")
    assert lic.status == "open" and lic.missing == [
        "Dana Director lacks License Administrator (or User Administrator, Global Administrator) for the whole directory"
    ]
    dev = f"/subscriptions/{SUBS[1]}"
    for obj in list(state.of_type("Microsoft.Authorization/roleAssignments")):
        if obj["properties"]["principalId"] == DANA_ID and obj["properties"]["scope"] == dev:
            state.delete_tree(obj["id"])
    adv = run(ctx, "s4-advisor-insight")
    assert adv.status == "open" and adv.missing == [
        f"Dana Director (user {DANA_ID}) on subscription {SUBS[1]}: no role allowing {ADVISOR_READ}"
    ]


def test_without_a_contact_named_or_with_the_read_refused_the_attestation_is_used(sandbox, params_dir):
    """Not available: no handover.licence_admin (nothing asked of the tenant), or Graph refusing the read for want of
    a permission (the one line names it); the attestation decides, and without one the item waits for it."""
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    del data["handover"]
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    p = params.load("demo")
    att = p.attestations["s4-o365-licenses"]
    r = run(Context(p, None, journal=None), "s4-o365-licenses")  # no clients: a call out would fail the item
    assert r.status == "fulfilled" and r.attestation["reference"] == att.reference
    assert r.summary == (
        "Check not available: no handover.licence_admin in demo.yml (the contact who edits the Office 365 licences), "
        f"attestation used. Attested by {att.by} on {att.at.isoformat()}: {att.reference}."
    )
    # the runbook's app without a Graph permission that reads users
    app_id = sandbox.conn.client_id.lower()
    sandbox.state.graph_permissions[app_id] = {"Application.ReadWrite.All"}
    clients = sandbox.clients()
    try:
        ctx = Context(params.load("demo"), lambda: clients, journal=None)
        for item_id in ITEMS[1:]:
            r = run(ctx, item_id)
            assert r.status == "fulfilled" and "\n" not in r.summary
            assert r.summary.startswith(
                "Check not available: Microsoft Graph refused to read its users in tenant Contoso Demo BV (403 "
                "Authorization_RequestDenied). Fix: grant the runbook's app the Microsoft Graph application permission "
                "User.Read.All (or Directory.Read.All) and admin consent"
            ), r.summary
            assert r.summary.endswith(
                f"attestation used. Attested by Chris CSM on 2026-11-24: {p.attestations[item_id].reference}."
            )
        sandbox.state.graph_permissions[app_id] = {"User.Read.All"}  # users yes, directory roles no
        clients.close()
        clients = sandbox.clients()  # a new token, with the new permission
        del data["attestations"]["s4-o365-licenses"]
        data["handover"] = {"licence_admin": "Dana Director"}
        (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
        r = run(Context(params.load("demo"), lambda: clients, journal=None), "s4-o365-licenses")
        assert r.status == "open" and r.missing == ["attestation of s4-o365-licenses"]
        assert "Microsoft Graph refused to read the directory role assignments in tenant Contoso Demo BV" in r.summary
        assert "RoleManagement.Read.Directory (or Directory.Read.All)" in r.summary
    finally:
        clients.close()


def test_a_subscription_whose_role_assignments_are_refused_uses_the_attestation_naming_it(sandbox, ctx):
    dev = f"/subscriptions/{SUBS[1]}"
    runbook = ctx.params.msp.principal_id
    for obj in list(sandbox.state.of_type("Microsoft.Authorization/roleAssignments")):
        if obj["properties"]["principalId"].lower() == runbook and obj["properties"]["scope"] == dev:
            sandbox.state.delete_tree(obj["id"])
    r = run(ctx, "s4-policy-dashboard")
    assert r.status == "fulfilled" and r.attestation is not None
    assert r.summary.startswith(
        f"Check not available: Azure refused to read the role assignments of subscription(s) {SUBS[1]} (403 "
        "AuthorizationFailed). Fix: the customer grants the runbook's principal Reader there"
    )
    assert any(row["subscription"] == SUBS[0] and row["allows"] == "yes" for row in r.observed)  # what was read stays


def test_the_notebook_session_runs_the_checks(sandbox, clients, params_dir, evidence_dir):
    session = Session(params.load("demo"), 4)
    session.ctx.clients_factory = lambda: clients
    for item_id in ITEMS:
        assert session.run(item_id).status == "fulfilled", session.results[item_id].summary
    assert session.results["s4-o365-licenses"].observed[0]["user"] == DANA_ID


def test_preflight_says_whether_graph_reads_what_stage_4_needs(sandbox, params_dir):
    from runbook.operate import preflight

    def check(clients):
        pf = preflight.run(params.load("demo"), Context(params.load("demo"), lambda: clients, journal=None))
        return next(c for c in pf.checks if c.what == "graph stage 4 reads")

    clients = sandbox.clients()
    try:
        ok = check(clients)
        assert ok.state == "ok" and "s4-policy-dashboard, s4-advisor-insight, s4-o365-licenses" in ok.detail
    finally:
        clients.close()
    sandbox.state.graph_permissions[sandbox.conn.client_id.lower()] = {"Application.ReadWrite.All", "User.Read.All"}
    clients = sandbox.clients()
    try:
        off = check(clients)
        assert off.state == "off" and off.blocks == ()  # the items use their attestations: nothing is blocked
        assert off.detail.startswith("the token lacks RoleManagement.Read.Directory (or Directory.Read.All)")
    finally:
        clients.close()
