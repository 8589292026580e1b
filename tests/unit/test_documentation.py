"""Issue 22: s3-documentation, the customer documentation the runbook generates from the evidence (Word and HTML in
the run's evidence folder, sealed with it): the decision table (missing, current, stale), what the document holds
(read back with python-docx), determinism, and that no secret and no e-mail address reaches it."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import docx
import pytest
import yaml

from runbook import runner
from runbook.adapters.secrets import known_secret_values, scan_text
from runbook.customer import catalogue, params
from runbook.errors import StepInputError
from runbook.evidence import EvidenceStore
from runbook.evidence import documentation as doc
from runbook.evidence.documentation_render import ZIP_TIME, render_docx, render_html, write
from runbook.evidence.journal import Journal
from runbook.evidence.results import Change, ItemResult, stamp
from runbook.evidence.seal import RunOutcome
from runbook.steps import REGISTRY
from runbook.steps.base import Context, Step, execute
from runbook.steps.documentation import CustomerDocumentation
from tests.conftest import DEMO_SUBS

MONITORING = "s1-monitoring-alerting"
T1, T2 = "2026-12-07T09:00:00Z", "2026-12-08T17:30:00Z"


def _result(item: catalogue.Item, p: params.Parameters, status: str = "fulfilled", applied=()) -> ItemResult:
    r = ItemResult(item.id, item.stage, item.role, item.kind, item.title, status, f"{item.id} is {status}.")
    att = p.attestations.get(item.id)
    if item.kind != "automated" and att is not None:
        r.attestation = att.model_dump(mode="json")
    if item.id == "s0-msp-authorized":
        r.observed = [
            {"subscription": s, "principal": p.msp.principal_id, "role": "Owner", "source": "RBAC", "msp": True}
            for s in p.subscription_ids
        ]
    if item.id == "s3-credentials-stored":
        r.observed = [{"credential": "Contoso firewall admin", "store": "keyvault:demo-firewall-admin", "state": "ok"}]
    r.applied, r.finished_at = list(applied), stamp()
    return r


def seal(stage: int, p: params.Parameters, **override: ItemResult) -> str:
    """A sealed run of one stage (every item in scope fulfilled unless overridden), through the real archive."""
    store = EvidenceStore(p.customer)
    run = store.new_run(stage)
    items = [override.get(i.id) or _result(i, p) for i in catalogue.load().for_stage(stage) if i.id != doc.ITEM_ID]
    store.seal(RunOutcome(p.customer, stage, run.run_id, run.path, "complete", items), {"started_at": stamp()})
    return run.run_id


def monitoring(p: params.Parameters, n: int, status: str = "fulfilled") -> ItemResult:
    item = catalogue.load().item(MONITORING)
    made = [
        Change(f"/subscriptions/{DEMO_SUBS[0]}/resourceGroups/rg-intercept-monitoring/x{k}", "create metric alert")
        for k in range(n)
    ]
    return _result(item, p, status, made)


def stage3(p: params.Parameters, apply: bool) -> tuple[ItemResult, Path]:
    """s3-documentation in a Stage 3 run of its own (its journal gives the run folder), sealed afterwards."""
    store = EvidenceStore(p.customer)
    run = store.new_run(3)
    ctx = Context(p, None, apply, journal=Journal(run.journal_path))
    result = execute(CustomerDocumentation(), ctx)
    store.seal(RunOutcome(p.customer, 3, run.run_id, run.path, "complete", [result]), {"started_at": stamp()})
    return result, run.path


@pytest.fixture
def demo(params_dir, evidence_dir) -> params.Parameters:
    p = params.load("demo")
    for stage in (0, 1, 2, 3):
        seal(stage, p, **({MONITORING: monitoring(p, 3)} if stage == 1 else {}))
    return p


def text_of(path: Path) -> str:
    d = docx.Document(str(path))
    cells = [c.text for t in d.tables for row in t.rows for c in row.cells]
    return "\n".join([p.text for p in d.paragraphs] + cells)


# --- the catalogue and the registry ----------------------------------------------------------------------------------
def test_the_item_is_automated_and_configures_with_its_step():
    item = catalogue.load().item(doc.ITEM_ID)
    assert (item.kind, item.configures, item.connector) == ("automated", True, "")
    assert REGISTRY[doc.ITEM_ID] is CustomerDocumentation and CustomerDocumentation.apply is not Step.apply
    scope = [i.id for i in doc.in_scope()]
    assert scope[0] == "s0-signed-sla" and scope[-1] == "s3-parc-report" and doc.ITEM_ID not in scope
    assert not {"s3-iac-pushed", "s3-policy-dashboard"} & set(scope) and all(i.stage < 4 for i in doc.in_scope())


# --- the decision table ----------------------------------------------------------------------------------------------
def test_missing_a_dry_run_plans_it_from_the_runs_and_writes_nothing(demo):
    runs = [r.name for r in EvidenceStore("demo").runs()]
    result, run_dir = stage3(demo, apply=False)
    assert result.status == "open", result.summary
    assert result.summary.startswith("No customer documentation yet; it will be generated from the evidence of runs")
    assert all(r in result.summary for r in runs)
    [change] = result.planned
    assert change.action == "generate customer documentation" and change.detail["from_runs"] == runs
    assert change.target == f"evidence/demo/{run_dir.name}/{doc.DOCX}" and not result.applied
    assert not list(run_dir.glob("customer-documentation.*"))


def test_apply_generates_it_sealed_with_the_run_and_a_re_run_changes_nothing(demo):
    result, run_dir = stage3(demo, apply=True)
    assert result.status == "fulfilled", result.summary
    assert result.summary.startswith("Generated now: the customer documentation") and len(result.applied) == 1
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert {doc.DOCX, doc.HTML, doc.RECORD} <= set(manifest["files"])
    assert EvidenceStore("demo").verify() == []
    record = json.loads((run_dir / doc.RECORD).read_text())
    assert record["run_id"] == run_dir.name and len(record["sources"]) == 4  # the runs of stages 0-3

    # a later run that only confirms the state (same verdicts, nothing applied) keeps it current
    seal(1, demo)
    again, later = stage3(demo, apply=True)
    assert again.status == "fulfilled" and again.planned == [] and again.applied == [], again.summary
    assert again.summary.startswith(
        f"Current: the customer documentation ({doc.DOCX}, {doc.HTML}) in evidence/demo/{run_dir.name}"
    )
    assert not list(later.glob("customer-documentation.*"))


def test_newer_evidence_that_changes_something_makes_it_stale_naming_the_runs(demo):
    _, first = stage3(demo, apply=True)
    newer = seal(1, demo, **{MONITORING: monitoring(demo, 1)})
    result, run_dir = stage3(demo, apply=False)
    assert result.status == "open"
    assert result.summary.startswith("Documentation is stale: built from ")
    assert f"(run {first.name}), newer evidence {newer}" in result.summary
    assert f"{MONITORING} (1 change(s) applied in {newer})" in result.summary
    assert not list(run_dir.glob("customer-documentation.*"))  # a dry run writes nothing

    regenerated, where = stage3(demo, apply=True)
    assert regenerated.status == "fulfilled" and (where / doc.DOCX).exists()
    assert json.loads((where / doc.RECORD).read_text())["substance"]["items"][MONITORING]["changes_run"] == newer


@pytest.mark.parametrize(
    ("change", "names"),
    [
        ("verdict", f"{MONITORING} (open, was fulfilled)"),
        ("contacts", "the parameters (contacts)"),
        ("edited", f"was changed after it was generated ({doc.DOCX} changed or missing)"),
    ],
)
def test_stale_when_a_verdict_the_parameters_or_the_file_changed(demo, params_dir, change, names):
    _, first = stage3(demo, apply=True)
    p = demo
    if change == "verdict":
        seal(1, demo, **{MONITORING: _result(catalogue.load().item(MONITORING), demo, "open")})
    elif change == "contacts":
        data = yaml.safe_load((params_dir / "demo.yml").read_text())
        data["contacts"].append({"name": "Nina New", "email": "nina@contoso-demo.example", "role": "Finance"})
        (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
        p = params.load("demo")
    else:
        (first / doc.DOCX).write_bytes(b"not the generated document")
    result, _ = stage3(p, apply=False)
    assert result.status == "open" and names in result.summary, result.summary


def test_outside_a_run_the_apply_fails_with_the_fix(demo):
    result = execute(CustomerDocumentation(), Context(demo, None, True, journal=None))
    assert result.status == "failed" and "this context has no run. Fix: run it with `runbook run" in result.summary


# --- what it says ----------------------------------------------------------------------------------------------------
def test_the_word_document_has_the_sections_the_subscriptions_and_every_item(demo):
    _, run_dir = stage3(demo, apply=True)
    d = docx.Document(str(run_dir / doc.DOCX))
    headings = [(p.style.name, p.text) for p in d.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    assert headings[0] == ("Title", "Contoso Demo BV: managed services documentation")
    assert [t for s, t in headings if s == "Heading 1"] == [
        "Customer",
        "Subscriptions",
        "Lighthouse delegation",
        "Stage 0: Prerequisites",
        "Stage 1: Technical onboarding",
        "Stage 2: Customer relationship",
        "Stage 3: Managed services configuration",
        "Schedules",
        "Contacts",
        "Credentials",
        "Evidence",
    ]
    tables = {t.rows[0].cells[0].text: [[c.text for c in r.cells] for r in t.rows] for t in d.tables}
    assert [r[0] for r in tables["subscription"][1:]] == DEMO_SUBS
    assert all(r[1] == "Owner (RBAC)" for r in tables["subscription"][1:])
    items = [r for t in d.tables if t.rows[0].cells[0].text == "item" for r in t.rows[1:]]
    assert [re.search(r"\((s\d-[a-z0-9-]+),", r.cells[0].text).group(1) for r in items] == [
        i.id for i in doc.in_scope()
    ]
    mon = next(r for r in items if f"({MONITORING}," in r.cells[0].text)
    stage1 = next(s for s in EvidenceStore("demo").runs() if "-stage1-" in s.name).name
    assert mon.cells[1].text == "fulfilled" and mon.cells[4].text == stage1
    assert mon.cells[2].text.startswith(f"3 change(s) applied in run {stage1}")
    assert tables["name"][1:] == [["Dana Director", "IT manager"], ["Olaf Operator", "Operations"]]
    assert tables["what"][1][0] == "backup" and tables["what"][2][0].startswith("patch window")
    evidence = tables["run"][1:]
    assert [r[0] for r in evidence] == [p.name for p in EvidenceStore("demo").runs()][:4]
    assert evidence[1][5] == f"../{stage1}/01-technical-onboarding.html"
    assert all(len(r[3]) == 64 and len(r[4]) == 64 for r in evidence)
    page = (run_dir / doc.HTML).read_text()
    assert f"<a href='../{stage1}/01-technical-onboarding.html'>" in page and "<script" not in page
    assert "<link" not in page and "src=" not in page  # self-contained: nothing loaded from elsewhere


def test_no_e_mail_address_and_no_secret_reaches_the_document(demo):
    _, run_dir = stage3(demo, apply=True)
    text = text_of(run_dir / doc.DOCX) + (run_dir / doc.HTML).read_text()
    assert "Portal invitation to (e-mail address)" in text  # s2-portal-invite's reference names an address
    assert "@" not in text and "contoso-demo.example" not in text and "alerts@intercept" not in text
    assert scan_text(text, doc.DOCX, known_secret_values()) == []  # the archive's own secret detector
    assert doc.clean("Dana (dana@contoso-demo.example, +31 20 123 4567) on 2026-11-20, SLA-2026-0042, 4500 EUR") == (
        "Dana ((e-mail address), (phone number)) on 2026-11-20, SLA-2026-0042, 4500 EUR"
    )
    leaking = doc.build(demo)
    leaking["stages"][1]["items"][0]["summary"] = "created with client_secret=Abc8Q~0123456789abcdefghijklmnopqrstuvwx"
    out = run_dir.parent / "elsewhere"
    out.mkdir()
    with pytest.raises(StepInputError, match=r"secret scan found customer documentation: line \d+: "):
        write(leaking, out, T1)
    assert list(out.iterdir()) == []


# --- determinism -----------------------------------------------------------------------------------------------------
def test_same_evidence_gives_the_same_document_apart_from_the_generation_time(demo):
    model = doc.build(demo)
    assert doc.build(demo) == model  # the evidence read twice
    first, again, later = render_docx(model, T1, "run"), render_docx(model, T1, "run"), render_docx(model, T2, "run")
    assert first == again and render_html(model, T1, "run") == render_html(model, T1, "run")
    assert {i.date_time for i in zipfile.ZipFile(io.BytesIO(first)).infolist()} == {ZIP_TIME}

    def body(data: bytes) -> list[str]:
        d = docx.Document(io.BytesIO(data))
        return [p.text for p in d.paragraphs] + [c.text for t in d.tables for r in t.rows for c in r.cells]

    differ = [(a, b) for a, b in zip(body(first), body(later), strict=True) if a != b]
    assert len(differ) == 1 and T1 in differ[0][0] and T2 in differ[0][1]
    assert render_html(model, T1, "run").replace(T1, T2) == render_html(model, T2, "run")
    props = docx.Document(io.BytesIO(later)).core_properties
    assert props.created.isoformat() == T2.replace("Z", "+00:00") and props.revision == 1


# --- through the runner, on the sandbox --------------------------------------------------------------------------------
def test_stage3_with_apply_generates_it_and_a_second_run_plans_nothing(sandbox, evidence_dir, params_dir):
    for stage in (0, 1, 2):
        runner.run_stage("demo", stage, apply=True, force=True)
    first = runner.run_stage("demo", 3, apply=True, force=True)
    made = {r.item_id: r for r in first.items}[doc.ITEM_ID]
    assert made.status == "fulfilled" and len(made.applied) == 1, made.summary
    assert (first.run_dir / doc.DOCX).exists() and EvidenceStore("demo").verify() == []
    second = runner.run_stage("demo", 3, apply=True)
    again = {r.item_id: r for r in second.items}[doc.ITEM_ID]
    assert again.status == "fulfilled" and not again.planned and not again.applied, again.summary
    assert again.summary.startswith(
        f"Current: the customer documentation ({doc.DOCX}, {doc.HTML}) in evidence/demo/{first.run_id}"
    )
    assert not (second.run_dir / doc.DOCX).exists()


# --- by hand, in the Stage 3 notebook ---------------------------------------------------------------------------------
class Shell:
    """The notebook's namespace as the session reads it (the parameters cell sets `apply`)."""

    def __init__(self, apply: bool) -> None:
        self.user_ns = {"apply": apply}


def test_by_hand_the_cell_plans_the_next_applies_and_the_session_seals_it(demo, monkeypatch):
    from runbook.notebook import Session

    shell = Shell(True)
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    session = Session(demo, 3)
    session.begin_record(None)
    shown = session.run(doc.ITEM_ID)
    assert shown.status == "open" and len(shown.planned) == 1 and not shown.applied
    assert f'session.apply_reviewed("{doc.ITEM_ID}")' in shown.summary
    run_dir = session.record.run_dir
    assert not (run_dir / doc.DOCX).exists()  # showing the plan writes nothing
    done = session.apply_reviewed(doc.ITEM_ID)
    assert done.status == "fulfilled" and (run_dir / doc.DOCX).exists(), done.summary
    session.finish()
    assert doc.DOCX in json.loads((run_dir / "manifest.json").read_text())["files"]
    assert EvidenceStore("demo").verify() == []
