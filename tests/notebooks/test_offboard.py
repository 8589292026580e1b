"""`runbook offboard` on the demo tenant after a full onboarding (issue 25): the dry run lists the MSP's artefacts per
subscription (and what stays, and what needs the customer), a lock is reported and never lifted, `--apply` removes the
reviewed plan, the customer's own resources and role assignments are all still there, a look-alike without a record
is never deleted, the evidence verifies, and `runbook drift` then reports the customer as offboarded."""

from __future__ import annotations

import json

import pytest

from runbook.cli import main
from runbook.evidence import EvidenceStore
from runbook.evidence import archive as evidence
from runbook.operate import offboard
from tests.conftest import DEMO_SUBS
from tests.notebooks.test_drift import demo  # noqa: F401 (the module's onboarded demo: every stage with --apply)

pytestmark = pytest.mark.notebooks
SUB, DEV, SHARED = DEMO_SUBS
MON = "resourceGroups/rg-intercept-monitoring"
LOOK_ALIKE_AG = (
    f"/subscriptions/{SUB}/resourceGroups/rg-prod-web/providers/Microsoft.Insights/actionGroups/ag-intercept"
)
LOOK_ALIKE_ALERT = f"/subscriptions/{SHARED}/{MON}/providers/Microsoft.Insights/actionGroups/ag-customer-oncall"
LOCKED = f"/subscriptions/{DEV}/{MON}/providers/Microsoft.Insights/actionGroups/ag-intercept"
LOCK = f"{LOCKED}/providers/Microsoft.Authorization/locks/customer-keep"
AG_BODY = {
    "location": "Global",
    "properties": {"groupShortName": "oncall", "enabled": True, "emailReceivers": []},
}
SNAPSHOT: dict = {}


def arm(demo) -> dict[str, dict]:  # noqa: F811
    return {k.lower(): v for k, v in demo.state.arm.items()}


def last_run() -> dict:
    run_dir = evidence.runs("demo")[-1]
    assert run_dir.name.split("Z-")[1].startswith("offboard-")
    return json.loads((run_dir / "results.json").read_text())


def test_the_dry_run_lists_the_msps_artefacts_and_changes_nothing(demo, capsys):  # noqa: F811
    clients = demo.clients()
    res = clients.resource(SUB).resources
    # the customer's look-alikes: the MSP's names, no record: one in their own resource group, one in the MSP's group
    res.begin_create_or_update_by_id(LOOK_ALIKE_AG, AG_BODY, api_version="2023-01-01").result()
    clients.resource(SHARED).resources.begin_create_or_update_by_id(
        LOOK_ALIKE_ALERT, AG_BODY, api_version="2023-01-01"
    ).result()
    # the customer locks one of the MSP's action groups
    clients.resource(DEV).resources.begin_create_or_update_by_id(
        LOCK, {"properties": {"level": "CanNotDelete"}}, api_version="2020-05-01"
    ).result()
    SNAPSHOT["before"] = arm(demo)
    SNAPSHOT["app_sps"] = {
        sp["id"]
        for sp in demo.state.service_principals.values()
        if sp.get("appDisplayName") == "Intercept Managed Services"
    }
    assert SNAPSHOT["app_sps"]

    assert main(["offboard", "demo"]) == 0
    out = capsys.readouterr().out
    assert "offboard demo: planned - " in out and "evidence: demo/" in out
    assert arm(demo).keys() == SNAPSHOT["before"].keys()  # a dry run: nothing removed
    results = last_run()
    assert results["kind"] == "offboard" and results["status"] == "planned" and results["apply"] is False
    items = {i["item_id"]: i for i in results["items"]}
    planned = {(i, c["action"].split(" ", 1)[1], c["target"].lower()) for i, r in items.items() for c in r["planned"]}
    kinds = {k for _, k, _ in planned}
    assert {
        "action group",
        "metric alert",
        "activity log alert",
        "budget",
        "maintenance configuration",
        "dynamic scope",
        "policy assignment",
        "policy initiative",
        "role assignment",
        "application",
        "service principal",
        "client secret",
        "tag",
        "Lighthouse assignment",
        "Lighthouse definition",
    } <= kinds
    targets = {t for _, _, t in planned}
    for sub in DEMO_SUBS:  # per subscription: the budget, the baseline's assignment and its identity's role
        assert f"/subscriptions/{sub}/providers/microsoft.consumption/budgets/msp-monthly-budget" in targets
        assert f"/subscriptions/{sub}/providers/microsoft.authorization/policyassignments/intercept-baseline" in targets
    assert LOOK_ALIKE_AG.lower() not in targets and LOOK_ALIKE_ALERT.lower() not in targets
    assert LOCKED.lower() not in targets  # locked: reported, not planned
    rows = {(r["id"].lower(), r["decision"]) for i in items.values() for r in i["observed"] if "decision" in r}
    assert (LOCKED.lower(), "locked") in rows
    # what stays, with its reason: backup (kept), Defender (handed over); what needs the customer: the delegated
    # subscription's Lighthouse assignment, the MSP's own access
    decided = {(i, r["decision"]) for i, it in items.items() for r in it["observed"] if "decision" in r}
    assert ("s3-backup-deployed", "kept") in decided and ("s3-defender-enabled", "hand over") in decided
    assert ("s3-lighthouse", "needs the customer") in decided and ("s0-msp-authorized", "needs the customer") in decided
    needs = [k for k in results["kept"] if k["item"] == "s3-lighthouse"]
    assert needs and needs[0]["subscription"] == SHARED and "Delete Role" in needs[0]["why"]
    # the resource group in which the customer put their own action group stays
    groups = {r["id"].lower(): r for i in items.values() for r in i["observed"] if r.get("kind") == "resource group"}
    assert groups[f"/subscriptions/{SHARED}/{MON}".lower()]["decision"] == "kept"
    assert "ag-customer-oncall" in groups[f"/subscriptions/{SHARED}/{MON}".lower()]["why"]
    # the offboarding lines are in the run, open until attested
    assert {"off-contract-exact", "off-final-report"} <= set(items) and items["off-final-report"]["status"] == "open"
    assert evidence.verify("demo") == []


def test_apply_removes_the_msps_artefacts_and_nothing_of_the_customers(demo, capsys):  # noqa: F811
    clients = demo.clients()
    clients.resource(DEV).resources.begin_delete_by_id(LOCK, api_version="2020-05-01").result()  # the customer lifts it
    before = arm(demo)
    assert main(["offboard", "demo", "--apply"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "offboard demo: offboarded (--apply)" in out
    after = arm(demo)
    results = last_run()
    assert results["status"] == "offboarded" and results["apply"] is True and results["refused"] == []
    removed = {r["target"].lower() for r in results["removed"]}
    gone = before.keys() - after.keys()
    # the MSP's: what was removed is exactly what the run journaled as removed (the secret and Graph objects aside)
    assert gone and gone <= removed
    made = {
        r.target.lower()
        for r in offboard.records(EvidenceStore("demo"))
        if r.action.startswith(("create ", "deploy ", "grant role"))
    }
    app_sps = SNAPSHOT["app_sps"]
    was = {
        r.target.lower(): r.detail.get("was")
        for r in offboard.records(EvidenceStore("demo"))
        if r.action == "merge tag"
    }

    def msps(rid: str) -> bool:
        """Made by the runbook (the evidence says so), a role assignment of the MSP's app, or the assignment of a
        Lighthouse definition the runbook deployed."""
        props = before[rid].get("properties") or {}
        return (
            rid in made
            or props.get("principalId") in app_sps
            or str(props.get("registrationDefinitionId", "")).lower() in made
        )

    for rid in gone:
        assert msps(rid), rid
    # gone: alerts and action groups the runbook created, the baseline's assignments, budgets, maintenance
    for sub in DEMO_SUBS:
        for rid in (
            f"/subscriptions/{sub}/{MON}/providers/microsoft.insights/actiongroups/ag-intercept",
            f"/subscriptions/{sub}/{MON}/providers/microsoft.insights/activitylogalerts/ala-service-health",
            f"/subscriptions/{sub}/providers/microsoft.consumption/budgets/msp-monthly-budget",
            f"/subscriptions/{sub}/providers/microsoft.authorization/policyassignments/intercept-baseline",
            f"/subscriptions/{sub}/{MON}/providers/microsoft.maintenance/maintenanceconfigurations/intercept-patch-default",
        ):
            assert rid.lower() not in after, rid
        assert not [k for k in after if k.startswith(f"/subscriptions/{sub}/".lower()) and "/metricalerts/" in k]
    # the app registration and its role assignments, the baseline identities' role assignments
    assert "Intercept Managed Services" not in {a["displayName"] for a in demo.state.applications.values()}
    assert not (demo.sandbox.state_dir.parent / "secrets" / "demo-app-secret").exists()
    # the MSP tag is off every resource; every other tag is as it was
    for rid, obj in after.items():
        tags = {k.lower(): v for k, v in (obj.get("tags") or {}).items()}
        assert tags.get("intercept") != "Managed", rid
    # the customer's own: every resource and role assignment without a record is still there, unchanged but the tag
    for rid, obj in before.items():
        if msps(rid):
            continue
        assert rid in after, rid
        if rid not in removed:
            want = {
                k: v for k, v in (obj.get("tags") or {}).items() if not (k.lower() == "intercept" and v == "Managed")
            }
            if was.get(rid):  # the customer's own value of the tag's key before the MSP's merge is back
                want[next(k for k in obj["tags"] if k.lower() == "intercept")] = was[rid]
            got = dict(after[rid].get("tags") or {})
            assert got == want, rid
    assert LOOK_ALIKE_AG.lower() in after and LOOK_ALIKE_ALERT.lower() in after
    kept_ras = [k for k in before if "/roleassignments/" in k and k in after]
    assert kept_ras  # the customer's own role assignments (and the MSP's access, which needs the customer)
    # the Lighthouse delegation the customer deployed stays: the runbook keeps its access there until they remove it
    assert [k for k in after if k.startswith(f"/subscriptions/{SHARED}/".lower()) and "/registrationassignments/" in k]
    # backup (offboarding.backup_data unset: retain): the protection stopped, the recovery points and the vault kept
    stopped = [r["target"].lower() for r in results["removed"] if r["action"] == "stop protection, retain data"]
    assert stopped and all(after[t]["properties"]["protectionState"] == "ProtectionStopped" for t in stopped)
    assert not any(after[t]["properties"].get("isScheduledForDeferredDelete") for t in stopped)
    assert any("/microsoft.recoveryservices/vaults/" in k and k.count("/") == 8 for k in after)
    SNAPSHOT["stopped"] = stopped
    assert main(["evidence", "verify", "demo"]) == 0


def test_backup_data_is_deleted_only_as_the_parameters_say_and_after_the_customers_agreement(demo, capsys):  # noqa: F811
    """offboarding.backup_data: delete (the customer decided, later, that their backups go too): the plan says per
    protected item that its recovery points are deleted, irreversibly; --apply without the attestation of the
    customer's written agreement is exit 2 before any run folder, naming the file, the field and the fix; with it the
    items are deleted (soft-deleted by the vault for 14 days), the vaults and policies kept."""
    path = demo.folder / "demo.yml"
    original = path.read_text()
    path.write_text(original + "offboarding: {backup_data: delete}\n")
    assert main(["offboard", "demo"]) == 0
    out = capsys.readouterr().out
    results = last_run()
    planned = [c for i in results["items"] for c in i["planned"] if i["item_id"] == "s3-backup-deployed"]
    assert {c["target"].lower() for c in planned} == set(SNAPSHOT["stopped"])
    assert {c["action"] for c in planned} == {"stop protection, delete data"}
    assert "VM protection and its recovery points" in out
    rows = [r for i in results["items"] for r in i["observed"] if r.get("decision") == "remove"]
    assert rows and all("irreversible" in r["why"] and "off-backup-data-deletion-agreed" in r["why"] for r in rows)
    agreed = next(i for i in results["items"] if i["item_id"] == "off-backup-data-deletion-agreed")
    assert agreed["status"] == "open"

    runs = len(evidence.runs("demo"))
    assert main(["offboard", "demo", "--apply"]) == 2
    err = capsys.readouterr().err
    assert (
        "demo.yml: offboarding.backup_data is delete" in err and "attestations.off-backup-data-deletion-agreed" in err
    )
    assert "Traceback" not in err and len(evidence.runs("demo")) == runs  # nothing ran
    assert all(not demo.state.arm[t]["properties"].get("isScheduledForDeferredDelete") for t in _ids(demo))

    attest = '  off-backup-data-deletion-agreed: {by: Chris CSM, at: 2027-06-30, reference: "TOPdesk I2706-0001"}\n'
    path.write_text(
        original.replace("attestations:\n", "attestations:\n" + attest, 1) + "offboarding: {backup_data: delete}\n"
    )
    assert main(["offboard", "demo", "--apply"]) == 0, capsys.readouterr()
    capsys.readouterr()
    results = last_run()
    assert results["status"] == "offboarded"
    removed = {r["target"].lower() for r in results["removed"] if r["action"] == "stop protection, delete data"}
    assert removed == set(SNAPSHOT["stopped"])
    arm_now = arm(demo)
    for t in removed:  # the vault's soft delete (on by default) keeps each item 14 days, then purges it
        assert arm_now[t]["properties"]["isScheduledForDeferredDelete"] is True
    assert any("/microsoft.recoveryservices/vaults/" in k and k.count("/") == 8 for k in arm_now)  # vaults kept
    agreed = next(i for i in results["items"] if i["item_id"] == "off-backup-data-deletion-agreed")
    assert agreed["status"] == "fulfilled"
    assert main(["offboard", "demo"]) == 0  # a re-run: nothing of it left to remove
    capsys.readouterr()
    assert not [c for i in last_run()["items"] for c in i["planned"] if i["item_id"] == "s3-backup-deployed"]
    path.write_text(original)
    assert main(["evidence", "verify", "demo"]) == 0


def _ids(demo) -> list[str]:  # noqa: F811
    """The protected items as the sandbox stores them (its own id casing), of the items the offboarding stopped."""
    return [k for k in demo.state.arm if k.lower() in SNAPSHOT["stopped"]]


def test_drift_then_reports_the_customer_as_offboarded(demo, capsys):  # noqa: F811
    assert main(["drift", "demo"]) == 0
    out = capsys.readouterr().out
    assert "drift demo: offboarded" in out and "nothing is re-verified" in out
    assert evidence.runs("demo")[-1].name.split("Z-")[1].startswith("offboard-")  # drift left no run: nothing inspected
