"""s3-lighthouse against the sandbox: the tier's offer on every subscription; deployed where the runbook holds Owner
in the customer's tenant, handed to the customer's admin as an ARM template elsewhere; a downgrade narrows it."""

import json

import pytest

from runbook import errors
from runbook.customer import params as P
from runbook.steps.base import Context, execute
from runbook.steps.lighthouse import LighthouseOffer
from tests.conftest import DEMO_SUBS

UAA = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"


def offer_roles(clients, sub):
    out = set()
    for reg in clients.managed_services().registration_assignments.list(
        f"/subscriptions/{sub}", expand_registration_definition=True
    ):
        for a in reg.properties.registration_definition.properties.authorizations:
            out.add((a.principal_id, a.role_definition_id.rsplit("/", 1)[-1]))
    return out


def test_the_offer_is_deployed_where_the_runbook_may_and_a_rerun_plans_nothing(clients, params_dir):
    ctx = Context(P.load("demo"), lambda: clients, apply=False, ran_by="test")
    shown = execute(LighthouseOffer(), ctx)
    assert shown.status == "open"
    assert sorted(c.target.split("/")[2] for c in shown.planned) == sorted(DEMO_SUBS[:2])  # the third is in place
    assert all(c.action == "deploy Lighthouse offer" for c in shown.planned)
    # issue 28: principals and roles by name beside their ids, not raw GUIDs
    assert any(
        "missing: Intercept Runbook (9a2e4c61-" in d and d.endswith(" as Contributor")
        for d in shown.planned[0].detail["differences"]
    )

    ctx.apply = True
    done = execute(LighthouseOffer(), ctx)
    assert done.status == "fulfilled", done.summary
    assert offer_roles(clients, DEMO_SUBS[0]) == offer_roles(clients, DEMO_SUBS[2])
    assert execute(LighthouseOffer(), ctx).planned == []


def test_a_downgrade_narrows_the_offer_in_place(clients, params_dir):
    ctx = Context(P.load("demo"), lambda: clients, apply=True, ran_by="test")
    assert execute(LighthouseOffer(), ctx).status == "fulfilled"
    text = (params_dir / "demo.yml").read_text().replace("tier: Full Stack", "tier: CSP")
    (params_dir / "demo.yml").write_text(text)
    ctx = Context(P.load("demo"), lambda: clients, apply=True, ran_by="test")
    narrowed = execute(LighthouseOffer(), ctx)
    # the runbook narrows what it deployed; the third subscription's offer is the customer's admin's to redeploy
    assert narrowed.status == "open" and "customer's admin" in narrowed.summary
    assert sorted(c.target.split("/")[2] for c in narrowed.applied) == sorted(DEMO_SUBS[:2])
    assert [c.target for c in narrowed.planned if c.action.startswith("customer's admin")] == [
        f"/subscriptions/{DEMO_SUBS[2]}"
    ]
    planned_diffs = " ".join(d for c in narrowed.applied for d in c.detail["differences"])
    assert (
        "extra: Intercept Runbook (9a2e4c61-7b3d-4f85-a1c9-0d6e8f2b5a73) as User Access Administrator" in planned_diffs
    )
    for sub in DEMO_SUBS[:2]:
        assert not any(role == UAA for _, role in offer_roles(clients, sub))


def test_without_owner_the_admin_gets_the_exact_template(clients, params_dir, sandbox, evidence_dir):
    from azure_sandbox.fixtures import role_assignment

    scope = f"/subscriptions/{DEMO_SUBS[1]}"
    for ra in list(sandbox.state.children(f"{scope}/providers/Microsoft.Authorization/roleAssignments")):
        sandbox.state.delete_tree(ra["id"])
    sandbox.state.put(role_assignment(scope, "9a2e4c61-7b3d-4f85-a1c9-0d6e8f2b5a73", "Contributor"))  # not Owner now
    ctx = Context(P.load("demo"), lambda: clients, apply=True, ran_by="test")
    result = execute(LighthouseOffer(), ctx)
    handed = [c for c in result.planned if c.action == "customer's admin deploys Lighthouse offer"]
    assert [c.target for c in handed] == [f"/subscriptions/{DEMO_SUBS[1]}"]
    template = handed[0].detail["template"]
    assert {r["type"] for r in template["resources"]} == {
        "Microsoft.ManagedServices/registrationDefinitions",
        "Microsoft.ManagedServices/registrationAssignments",
    }
    auths = handed[0].detail["parameters"]["parameters"]["authorizations"]["value"]
    assert any(a.get("delegatedRoleDefinitionIds") for a in auths)
    assert result.status == "open" and "customer's admin" in result.summary
    assert [c.target.split("/")[2] for c in result.applied] == [DEMO_SUBS[0]]  # where it may, it deployed
    # issue 28: the files the advice names exist, beside the evidence, and the command deploys exactly them
    folder = evidence_dir.parent / "lighthouse" / "demo"
    assert json.loads((folder / "template.json").read_text()) == template
    assert json.loads((folder / "parameters.json").read_text()) == handed[0].detail["parameters"]
    command = handed[0].detail["deploy"]
    assert command.startswith(f"az deployment sub create --subscription {DEMO_SUBS[1]} --location westeurope")
    assert f"--template-file {folder / 'template.json'}" in command and f"@{folder / 'parameters.json'}" in command
    assert str(folder) in result.summary


def test_an_offer_that_would_lock_the_runbook_out_is_refused(clients, params_dir, evidence_dir):
    """Issue 28: the third subscription is delegated through Lighthouse only (the runbook signs in there as
    Contributor through the offer); expected authorizations without the runbook's Contributor would, once the
    customer's admin deploys them, remove that delegation. Refused, naming it; no template is handed over."""
    shared = params_dir / "msp.yml"
    shared.write_text(
        shared.read_text().replace(
            "    - {principal_id: 9a2e4c61-7b3d-4f85-a1c9-0d6e8f2b5a73, role: Contributor, principal_name: Intercept Runbook}\n",
            "",
        )
    )
    ctx = Context(P.load("demo"), lambda: clients, apply=False, ran_by="test")
    result = execute(LighthouseOffer(), ctx)
    assert result.status == "failed" and result.summary.startswith("Refused: on 1 subscription(s)")
    assert f"/subscriptions/{DEMO_SUBS[2]}: 9a2e4c61-7b3d-4f85-a1c9-0d6e8f2b5a73 as Contributor" in result.summary
    assert "Fix: keep the runbook's principal" in result.summary
    assert not (evidence_dir.parent / "lighthouse" / "demo" / "template.json").exists()


def test_owner_is_never_delegated(params_dir):
    """In the MSP's shared settings (parameters/msp.yml) the problem is named in that file."""
    text = (
        (params_dir / "msp.yml")
        .read_text()
        .replace(
            "role: Contributor, principal_name: Intercept Runbook}", "role: Owner, principal_name: Intercept Runbook}"
        )
    )
    (params_dir / "msp.yml").write_text(text)
    with pytest.raises(errors.ParameterError) as err:
        P.load("demo")
    assert "Owner is never delegated" in str(err.value) and str(err.value).startswith("msp.yml: field 'msp.")
