"""Defender for Cloud's secure score, as the monthly report reads it, through azure-mgmt-security (SecurityCenter).

Spec: specification/security/resource-manager/Microsoft.Security/stable/2020-01-01/secureScore.json (SecureScores_List,
_Get, SecureScoreControls_List, _ListBySecureScore, SecureScoreControlDefinitions_List, _ListBySubscription);
examples/secureScores/ListSecureScores_example.json, ListSecureScoreControlsForNameWithExpand_builtin_example.json.
The score is computed from the tenant's state, so enabling a plan or changing patch settings moves it; the API keeps no
history (only the current score).
"""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.conftest import DEMO_SUBS
from tests.contract.http import refused

SUB = DEMO_SUBS[0]
SEC = "azure.mgmt.security"


@pytest.fixture
def security(sdk):
    """SecurityCenter for the production subscription (secure scores at their only api-version, 2020-01-01)."""
    return sdk(SEC, "SecurityCenter", SUB, retry_total=0)


def _enable_servers(raw) -> None:
    put = raw(
        "PUT",
        f"/subscriptions/{SUB}/providers/Microsoft.Security/pricings/VirtualMachines?api-version=2024-01-01",
        {"properties": {"pricingTier": "Standard", "subPlan": "P2"}},
    )
    assert put.status_code == 200, put.text


def test_the_score_answers_in_the_examples_shape(security):
    """ListSecureScores_example.json: one score, ascScore, "ASC score", score {max, current, percentage}, weight; the
    single GET answers the same."""
    scores = list(security.secure_scores.list())
    assert [s.name for s in scores] == ["ascScore"]
    score = scores[0]
    assert score.type == "Microsoft.Security/secureScores" and score.display_name == "ASC score"
    assert score.id == f"/subscriptions/{SUB}/providers/Microsoft.Security/secureScores/ascScore"
    assert 0 < score.current < score.max and score.percentage == round(score.current / score.max, 4)
    assert score.weight > 0
    assert security.secure_scores.get("ascScore").as_dict() == score.as_dict()


def test_controls_add_up_to_the_score_and_expand_to_their_definitions(security):
    """ListSecureScoreControlsForNameWithExpand_builtin_example.json: each control has healthy / unhealthy / not
    applicable counts, score {max, current, percentage} and weight; `$expand=definition` adds the built-in definition
    (source BuiltIn, maxScore, assessmentDefinitions); a control without assessed resources counts max 0 (the example's
    DDoS control). The controls' current scores sum to the score's."""
    controls = list(security.secure_score_controls.list_by_secure_score("ascScore", expand="definition"))
    by_name = {c.display_name: c for c in controls}
    assert {
        "Enable MFA",
        "Apply system updates",
        "Remediate vulnerabilities",
        "Enable enhanced security features",
    } <= set(by_name)
    mfa = by_name["Enable MFA"]
    assert mfa.name == "34a42fb3-e6db-409c-b56b-7b1db6b8aee0" and mfa.max == 10 and mfa.current == 10
    assert mfa.definition.source.source_type == "BuiltIn" and mfa.definition.max_score == 10
    assert mfa.definition.assessment_definitions
    for c in controls:
        assessed = c.healthy_resource_count + c.unhealthy_resource_count
        assert c.weight == assessed
        assert c.max == (c.definition.max_score if assessed else 0)
    score = security.secure_scores.get("ascScore")
    assert score.max == sum(c.max for c in controls)
    assert score.current == pytest.approx(sum(c.current for c in controls), abs=0.01)
    plain = list(security.secure_score_controls.list())
    assert [c.name for c in plain] == [c.name for c in controls] and all(c.definition is None for c in plain)


def test_enabling_defender_for_servers_raises_the_score(security, raw):
    """The VM controls (vulnerabilities, endpoint protection, management ports) turn healthy with the
    VirtualMachines plan at Standard, and the enhanced security features control counts the covered VMs."""
    before = security.secure_scores.get("ascScore")
    controls = {c.display_name: c for c in security.secure_score_controls.list()}
    assert controls["Remediate vulnerabilities"].healthy_resource_count == 0
    _enable_servers(raw)
    after = security.secure_scores.get("ascScore")
    assert after.current > before.current and after.max == before.max
    controls = {c.display_name: c for c in security.secure_score_controls.list()}
    vulns = controls["Remediate vulnerabilities"]
    assert vulns.unhealthy_resource_count == 0 and vulns.healthy_resource_count == 5 and vulns.percentage == 1
    assert controls["Enable enhanced security features"].healthy_resource_count == 5


def test_periodic_patch_assessment_makes_system_updates_healthy(security, raw):
    """Apply system updates counts a VM healthy once its patch assessment mode is AutomaticByPlatform (periodic
    assessment), as the patching stage sets it."""
    vm = (
        f"/subscriptions/{SUB}/resourceGroups/rg-prod-vms/providers/Microsoft.Compute/virtualMachines/vm-contoso-app-01"
    )
    before = {c.display_name: c for c in security.secure_score_controls.list()}["Apply system updates"]
    patch = {
        "properties": {
            "osProfile": {
                "windowsConfiguration": {
                    "patchSettings": {"patchMode": "AutomaticByOS", "assessmentMode": "AutomaticByPlatform"}
                }
            }
        }
    }
    assert raw("PATCH", f"{vm}?api-version=2024-07-01", patch).status_code == 200
    after = {c.display_name: c for c in security.secure_score_controls.list()}["Apply system updates"]
    assert after.healthy_resource_count == before.healthy_resource_count + 1
    assert after.current > before.current


def test_definitions_are_listed_at_tenant_and_subscription_scope(security):
    """SecureScoreControlDefinitions_List (/providers/...) and _ListBySubscription answer the built-ins."""
    tenant = list(security.secure_score_control_definitions.list())
    by_sub = list(security.secure_score_control_definitions.list_by_subscription())
    assert [d.name for d in tenant] == [d.name for d in by_sub]
    assert {d.display_name for d in tenant} >= {"Enable MFA", "Enable auditing and logging"}


def test_an_unknown_score_name_is_not_found(security):
    """secureScoreName: the subscription's score is ascScore; another name 404 NotFound (code inferred)."""
    with pytest.raises(ResourceNotFoundError):
        security.secure_scores.get("myScore")
    with pytest.raises(ResourceNotFoundError):
        list(security.secure_score_controls.list_by_secure_score("myScore"))


def test_an_expand_other_than_definition_is_refused(raw):
    """ExpandControlsEnum: `definition` only; another value 400 BadRequest (inferred)."""
    path = f"/subscriptions/{SUB}/providers/Microsoft.Security/secureScoreControls?api-version=2020-01-01&$expand=all"
    refused(raw("GET", path), 400, "BadRequest")


def test_other_api_versions_are_refused(raw, security):
    """secureScore.json exists in stable/2020-01-01 only: another version 400 NoRegisteredProviderFound."""
    path = f"/subscriptions/{SUB}/providers/Microsoft.Security/secureScores?api-version=2024-01-01"
    refused(raw("GET", path), 400, "NoRegisteredProviderFound")


def test_a_principal_without_a_role_cannot_read_the_score(sandbox, sdk):
    """Microsoft.Security/secureScores/read at the subscription (Reader grants it): without a role 403
    AuthorizationFailed."""
    client_id, secret, _ = sandbox.add_principal("nobody")
    from azure.mgmt.security import SecurityCenter

    t = sandbox.clients().target
    client = SecurityCenter(
        sandbox.credential(client_id, secret),
        SUB,
        base_url=t.arm_url,
        credential_scopes=[t.arm_scope],
        connection_verify=t.verify,
        retry_total=0,
    )
    with pytest.raises(HttpResponseError) as exc:
        list(client.secure_scores.list())
    assert exc.value.status_code == 403 and exc.value.error.code == "AuthorizationFailed"
    client.close()
