"""s3-azure-policy against the sandbox tenant, which evaluates policy: the baseline deployed and remediated (also
through Lighthouse), compliance computed, a re-run planning nothing, and the hostile cases named: a customer deny
policy on the MSP's tag, a new identity not yet replicated, a resource that stays non-compliant, expired and
unowned exemptions, bad exemption input."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest
import yaml
from azure.core.rest import HttpRequest

from runbook.customer import params as P
from runbook.steps import policy as policy_step
from runbook.steps.base import Context, execute
from runbook.steps.policy import PolicyBaseline
from runbook.steps.tagging import TagManagedResources, prepare_sheet
from tests.conftest import DEMO_SUBS

LIGHTHOUSE_SUB = DEMO_SUBS[2]
SHARED_RG = f"/subscriptions/{LIGHTHOUSE_SUB}/resourceGroups/rg-shared-network"


def call(clients, sub: str, method: str, url: str, body=None):
    resp = clients.resource(sub).send_request(HttpRequest(method, url, json=body))
    resp.raise_for_status()
    return resp.json() if resp.content else None


def tag_group(clients, rg_id: str, tags: dict) -> None:
    sub = rg_id.split("/")[2]
    call(clients, sub, "PATCH", f"{rg_id}?api-version=2021-04-01", {"tags": tags})


def run(clients, apply: bool = True):
    return execute(PolicyBaseline(), Context(P.load("demo"), lambda: clients, apply=apply, ran_by="test"))


def customer_deny_of_msp_tag(clients, sub: str) -> None:
    """The customer's own policy: no resource may carry the MSP's tag (the kind of Deny that blocks an MSP)."""
    scope = f"/subscriptions/{sub}"
    rule = {"if": {"field": "tags['Intercept']", "exists": "true"}, "then": {"effect": "deny"}}
    definition = {"properties": {"displayName": "Contoso: no vendor tags", "mode": "Indexed", "policyRule": rule}}
    call(
        clients,
        sub,
        "PUT",
        f"{scope}/providers/Microsoft.Authorization/policyDefinitions/no-vendor-tags?api-version=2023-04-01",
        definition,
    )
    assignment = {
        "properties": {
            "displayName": "Contoso: no vendor tags",
            "policyDefinitionId": f"{scope}/providers/Microsoft.Authorization/policyDefinitions/no-vendor-tags",
        }
    }
    call(
        clients,
        sub,
        "PUT",
        f"{scope}/providers/Microsoft.Authorization/policyAssignments/no-vendor-tags?api-version=2023-04-01",
        assignment,
    )


def test_the_baseline_is_deployed_remediated_through_lighthouse_and_a_rerun_plans_nothing(clients, params_dir):
    tag_group(clients, SHARED_RG, {"env": "shared", "Intercept": "Managed"})  # its resources inherit the tag
    dry = run(clients, apply=False)
    assert dry.status == "open"
    kinds = [c.detail["kind"] for c in dry.planned]
    assert kinds.count("policy initiative") == kinds.count("policy assignment") == len(DEMO_SUBS)
    assert kinds.count("role assignment") == len(DEMO_SUBS) and kinds.count("remediation") == len(DEMO_SUBS)
    done = run(clients)
    assert done.status == "fulfilled", (done.summary, done.missing)
    remediated = [c for c in done.applied if c.detail["kind"] == "remediation"]
    assert [c.target.split("/")[2] for c in remediated] == [LIGHTHOUSE_SUB]  # the only group carrying the tag
    assert remediated[0].detail["outcome"] == "Succeeded" and remediated[0].detail["deployments"] >= 4
    listed = call(clients, LIGHTHOUSE_SUB, "GET", f"{SHARED_RG}/resources?api-version=2021-04-01")["value"]
    assert listed and all(r["tags"].get("Intercept") == "Managed" for r in listed)
    # through Lighthouse the identity's role assignment names the assignment; with RBAC of its own it need not
    grants = {
        sub: call(
            clients,
            sub,
            "GET",
            f"{PolicyBaseline().role_assignment_id(sub, 'b24988ac-6180-42a0-ab88-20f7382dd24c')}?api-version=2022-04-01",
        )
        for sub in (DEMO_SUBS[0], LIGHTHOUSE_SUB)
    }
    assert grants[LIGHTHOUSE_SUB]["properties"]["delegatedManagedIdentityResourceId"].endswith(
        "/policyAssignments/intercept-baseline"
    )
    assert not grants[DEMO_SUBS[0]]["properties"].get("delegatedManagedIdentityResourceId")
    # computed compliance: the five VMs of production are not backed up (Full Stack audits it)
    rows = {(r["subscription"], r["name"]): r for r in done.observed if r["kind"] == "policy compliance"}
    assert rows[(DEMO_SUBS[0], "VmBackup")]["non_compliant"] == 5
    assert rows[(LIGHTHOUSE_SUB, "InheritManagedTag")]["non_compliant"] == 0
    assert "VmBackup 5 in" in done.summary
    again = run(clients)
    assert again.status == "fulfilled" and again.planned == []


def test_a_new_baseline_version_plans_the_update_only(clients, params_dir, monkeypatch):
    assert run(clients).status == "fulfilled"
    newer = dataclasses.replace(policy_step.load_baseline(), version="1.1.0")
    monkeypatch.setattr(PolicyBaseline, "baseline", lambda self: newer)
    plan = run(clients, apply=False)
    assert sorted({c.action for c in plan.planned}) == ["update policy assignment", "update policy initiative"]
    assert len(plan.planned) == 2 * len(DEMO_SUBS)
    assert run(clients).status == "fulfilled"
    got = call(clients, DEMO_SUBS[0], "GET", f"{PolicyBaseline().assignment_id(DEMO_SUBS[0])}?api-version=2023-04-01")
    assert got["properties"]["metadata"]["baselineVersion"] == "1.1.0"


def test_a_new_identity_not_yet_in_the_directory_is_waited_for(clients, params_dir, sandbox):
    sandbox.set_faults(identity_replication=2)
    done = run(clients)
    assert done.status == "fulfilled", (done.summary, done.missing)
    assert sum(1 for c in done.applied if c.detail["kind"] == "role assignment") == len(DEMO_SUBS)


def test_a_customer_deny_on_the_msp_tag_is_named_and_the_resource_stays_non_compliant(clients, params_dir):
    customer_deny_of_msp_tag(clients, LIGHTHOUSE_SUB)
    ctx = Context(P.load("demo"), lambda: clients, apply=True, ran_by="test")
    prepare_sheet(ctx)  # the demo marks every resource managed
    tagging = execute(TagManagedResources(), ctx)
    assert tagging.status == "failed"
    assert "Azure Policy refused the write" in tagging.summary and "Contoso: no vendor tags" in tagging.summary
    assert "exempt" in tagging.summary  # the way out is named
    tag_group(clients, SHARED_RG, {"env": "shared", "Intercept": "Managed"})
    result = run(clients)
    assert result.status == "failed"
    failure = next(m for m in result.missing if "remediation" in m)
    assert LIGHTHOUSE_SUB in failure and "RequestDisallowedByPolicy" in failure
    assert "Contoso: no vendor tags" in failure
    look = run(clients, apply=False)  # the resources stay non-compliant, shown; the others went on
    rows = {(r["subscription"], r["name"]): r for r in look.observed if r["kind"] == "policy compliance"}
    assert rows[(LIGHTHOUSE_SUB, "InheritManagedTag")]["non_compliant"] == 5
    assert all(rows[(s, "InheritManagedTag")]["non_compliant"] == 0 for s in DEMO_SUBS[:2])
    assert [c.target.split("/")[2] for c in look.planned] == [LIGHTHOUSE_SUB] and look.status == "open"


def _with_exemption(params_dir, expires: date) -> None:
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    data["policy"] = {
        "exemptions": [
            {
                "name": "legacy-north",
                "scope": f"/subscriptions/{DEMO_SUBS[1]}/resourceGroups/rg-dev",
                "policies": ["AllowedLocations"],
                "category": "Waiver",
                "reason": "Development stays in North Europe until the move",
                "ticket": "TOPdesk I2611-0200",
                "owner": "Dana Director",
                "expires": expires.isoformat(),
            }
        ]
    }
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))


def test_exemptions_are_ensured_and_expired_or_unowned_ones_keep_the_item_open(clients, params_dir):
    _with_exemption(params_dir, date.today() + timedelta(days=90))
    done = run(clients)
    assert done.status == "fulfilled", (done.summary, done.missing)
    rows = {(r["subscription"], r["name"]): r for r in done.observed if r["kind"] == "policy compliance"}
    assert rows[(DEMO_SUBS[1], "AllowedLocations")]["exempt"] > 0  # the dev group's resources
    got = call(
        clients,
        DEMO_SUBS[1],
        "GET",
        f"/subscriptions/{DEMO_SUBS[1]}/resourceGroups/rg-dev/providers/Microsoft.Authorization/policyExemptions/legacy-north?api-version=2022-07-01-preview",
    )
    assert got["properties"]["metadata"]["owner"] == "Dana Director"
    # an exemption on the baseline that no parameters file owns
    stray = {
        "properties": {
            "policyAssignmentId": PolicyBaseline().assignment_id(DEMO_SUBS[0]),
            "exemptionCategory": "Waiver",
        }
    }
    call(
        clients,
        DEMO_SUBS[0],
        "PUT",
        f"/subscriptions/{DEMO_SUBS[0]}/providers/Microsoft.Authorization/policyExemptions/someone-else?api-version=2022-07-01-preview",
        stray,
    )
    _with_exemption(params_dir, date.today() - timedelta(days=1))
    result = run(clients)
    assert result.status == "open"
    assert any("legacy-north" in m and "expired" in m and "Dana Director" in m for m in result.missing)
    assert any("someone-else" in m and "no owner" in m for m in result.missing)


@pytest.mark.parametrize(
    ("scope", "said"),
    [
        ("/subscriptions/00000000-0000-4000-8000-000000000000/resourceGroups/rg-x", "not in one of subscription_ids"),
        ("rg-dev", "is not a subscription, resource group or resource ID"),
    ],
)
def test_an_exemption_outside_the_customer_is_bad_input(params_dir, scope, said):
    _with_exemption(params_dir, date.today() + timedelta(days=30))
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    data["policy"]["exemptions"][0]["scope"] = scope
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    with pytest.raises(P.ParameterError) as exc:
        P.load("demo")
    assert said in str(exc.value) and "demo.yml" in str(exc.value)


def test_the_hostile_fixture_gives_named_outcomes(tmp_path, params_dir, monkeypatch):
    """tests/data/sandbox-hostile-policy.yml: the customer's deny on the MSP tag in the Lighthouse-delegated
    subscription, whose shared-network group carries the managed tag, and an expired exemption in the parameters.
    The baseline is deployed everywhere; the remediation there fails naming the customer's assignment; the resources
    stay non-compliant and are counted; the expired exemption is named; the other subscriptions are done."""
    from azure_sandbox import Sandbox
    from runbook import PROJECT_ROOT
    from tests.conftest import SandboxHandle

    sb = Sandbox(PROJECT_ROOT / "tests" / "data" / "sandbox-hostile-policy.yml", tmp_path / "hostile")
    sb.start()
    try:
        handle = SandboxHandle(sb)
        monkeypatch.setenv("RUNBOOK_SANDBOX", str(handle.connection_file))
        clients = handle.clients()
        _with_exemption(params_dir, date.today() - timedelta(days=3))
        done = run(clients)
        assert done.status == "failed"
        failure = next(m for m in done.missing if "remediation" in m)
        assert LIGHTHOUSE_SUB in failure and "no-vendor-tags" in failure and "RequestDisallowedByPolicy" in failure
        assert {c.target.split("/")[2] for c in done.applied if c.detail["kind"] == "policy assignment"} == set(
            DEMO_SUBS
        )
        look = run(clients, apply=False)
        assert look.status == "open"
        rows = {(r["subscription"], r["name"]): r for r in look.observed if r["kind"] == "policy compliance"}
        assert rows[(LIGHTHOUSE_SUB, "InheritManagedTag")]["non_compliant"] == 5
        assert any("legacy-north" in m and "expired" in m for m in look.missing)
        assert [c.action for c in look.planned] == ["remediate"]
    finally:
        sb.stop()
