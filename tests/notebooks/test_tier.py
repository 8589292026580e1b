"""`runbook tier` on the Premium demo after its onboarding (issue 25): Premium -> CSP removes what CSP does not include
(monitoring, the policy baseline; Defender and Advisor handed over / kept) after the customer's agreement is attested,
the stages run again under CSP, the parameters' tier changes only then; back to Premium the stages' steps restore
them. The evidence verifies and drift does not take the customer for offboarded."""

from __future__ import annotations

import pytest

from runbook import PROJECT_ROOT
from runbook.cli import main
from runbook.customer import params
from runbook.evidence import archive as evidence
from tests.conftest import DEMO_SUBS
from tests.notebooks.conftest import onboard

pytestmark = pytest.mark.notebooks
CUSTOMER = "demo-premium"
AGREED = '  tier-change-agreed: {by: Chris CSM, at: 2026-12-01, reference: "SLA amendment 2026-12, signed"}\n'


@pytest.fixture(scope="module")
def premium(module_sandbox):
    """A sandbox whose Premium demo customer went through every stage with --apply, shared by this module's tests."""
    # the two subscriptions the MSP holds Owner on by RBAC: a tier change there needs nobody else (on a
    # Lighthouse-delegated one the customer's admin deploys the narrowed offer: Stage 3 stays open until then)
    text = (PROJECT_ROOT / "parameters" / f"{CUSTOMER}.yml").read_text()
    return onboard(module_sandbox, CUSTOMER, text.replace(f"  - {DEMO_SUBS[2]}\n", "", 1))


def exact_item(handle, code: str) -> None:
    """The CSM moves the customer's managed-services subscription in Exact Online to the tier's item (what
    s1-invoice-run checks under the new tier)."""
    ex = handle.service("exact")
    for tables in ex.divisions.values():
        items = {i["Code"]: i for i in tables["logistics/Items"]}
        account = next((a for a in tables["crm/Accounts"] if a["Code"].strip() == "43"), None)
        if account is None or code not in items:
            continue
        subs = {s["EntryID"] for s in tables["subscription/Subscriptions"] if s["OrderedBy"] == account["ID"]}
        tier_items = {items[c]["ID"] for c in ("MS-CSP", "MS-PREMIUM", "MS-FULLSTACK") if c in items}
        for line in tables["subscription/SubscriptionLines"]:
            if line["EntryID"] in subs and line["Item"] in tier_items:
                line["Item"], line["ItemDescription"] = items[code]["ID"], items[code]["Description"]


def topdesk_level(handle, level: str) -> None:
    """The CSM records the new service level on the customer's SLA contract in TOPdesk (s2-topdesk-sla checks it)."""
    for asset in handle.service("topdesk").assets:
        if "branch/3f2a6c1e-8d4b-4c57-9e21-5b7d0a9c4e12" in asset["linked"] and not asset["archived"]:
            asset["fields"]["service-level"] = level


def the_csm_records(handle, tier: str) -> None:
    exact_item(handle, {"CSP": "MS-CSP", "Premium": "MS-PREMIUM"}[tier])
    topdesk_level(handle, tier)


def action_groups(handle) -> list[str]:
    return [k for k in handle.state.arm if "/microsoft.insights/actiongroups/" in k.lower()]


def policy_assignments(handle) -> list[str]:
    return [k for k in handle.state.arm if k.lower().endswith("/policyassignments/intercept-baseline")]


def test_down_to_csp_is_planned_then_needs_the_agreement(premium, capsys):
    groups = action_groups(premium)
    assert len(groups) == len(params.load(CUSTOMER).subscription_ids) and policy_assignments(premium)
    assert main(["tier", CUSTOMER, "--to", "CSP"]) == 0
    out = capsys.readouterr().out
    assert f"tier {CUSTOMER}: Premium -> CSP: planned" in out and "remove" in out and "s1-monitoring-alerting" in out
    assert action_groups(premium) == groups  # a dry run: nothing removed
    assert main(["tier", CUSTOMER, "--to", "CSP", "--apply"]) == 2
    err = capsys.readouterr().err
    assert "attestations.tier-change-agreed is required" in err
    assert main(["tier", CUSTOMER, "--to", "Premium"]) == 2  # the tier it has


def test_down_to_csp_removes_what_csp_does_not_include(premium, capsys):
    path = premium.folder / f"{CUSTOMER}.yml"
    path.write_text(path.read_text().replace("attestations:\n", "attestations:\n" + AGREED, 1))
    the_csm_records(premium, "CSP")
    assert main(["tier", CUSTOMER, "--to", "CSP", "--apply"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert f"tier {CUSTOMER}: Premium -> CSP: changed (--apply)" in out
    assert action_groups(premium) == [] and policy_assignments(premium) == []
    assert params.load(CUSTOMER).tier == "CSP"
    run = next(r for r in reversed(evidence.runs(CUSTOMER)) if "-offboard-" in r.name)
    import json

    data = json.loads((run / "results.json").read_text())
    assert data["tier_to"] == "CSP" and data["tier_from"] == "Premium" and "s1-monitoring-alerting" in data["only"]
    assert "s1-app-registration" not in {i["item_id"] for i in data["items"]}  # in every tier: untouched
    assert evidence.verify(CUSTOMER) == []
    assert main(["drift", CUSTOMER]) in (0, 3)
    assert "offboarded" not in capsys.readouterr().out  # a tier change is not an offboarding


def test_back_up_to_premium_restores_them_through_the_stage_steps(premium, capsys):
    the_csm_records(premium, "Premium")
    assert main(["tier", CUSTOMER, "--to", "Premium", "--apply"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert f"tier {CUSTOMER}: CSP -> Premium: changed (--apply)" in out and "s1-monitoring-alerting" in out
    assert len(action_groups(premium)) == 2 and policy_assignments(premium)
    assert params.load(CUSTOMER).tier == "Premium"
    assert evidence.verify(CUSTOMER) == []
