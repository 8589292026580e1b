"""`runbook portfolio`: one row per customer from its parameters and its evidence (sealed by the real archive), the
page's links relative to it, everything escaped, one bad customer a row of its own."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from runbook.cli import main
from runbook.customer import catalogue
from runbook.evidence import archive
from runbook.operate import portfolio
from tests.support.evidence_runs import customer_file, onboard, seal, stage_items


@pytest.fixture
def folders(params_dir, evidence_dir) -> tuple[Path, Path]:
    """demo.yml (Full Stack) and msp.yml in a parameters folder of the test; an empty evidence root."""
    return params_dir, evidence_dir


def drift_item(item_id: str, state: str) -> dict:
    return {"item_id": item_id, "stage": 1, "title": item_id, "state": state, "summary": state, "findings": []}


def rows_by_name(names=None) -> dict[str, portfolio.Row]:
    return {r.customer: r for r in portfolio.collect_all(names)}


def test_a_customer_without_evidence_is_not_started(folders):
    row = rows_by_name()["demo"]
    assert (row.status, row.tier, row.tenant_name, row.stage) == ("not started", "Full Stack", "Contoso Demo BV", 0)
    assert (row.evidence, row.runs, row.last_touched, row.evidence_html, row.error) == ("", 0, "", "", "")


def test_an_onboarding_customer_shows_its_stage_open_items_by_role_and_failed_items(folders):
    seal("demo", stage=0, items=stage_items(0, "Full Stack"))
    # Stage 1: the CSM's invoice run open, the Engineer's tagging failed, the monitoring not verified yet
    items = stage_items(
        1,
        "Full Stack",
        **{"s1-invoice-run": "open", "s1-tag-managed-resources": "failed", "s1-monitoring-alerting": "not-verified"},
    )
    last = seal("demo", stage=1, items=items, notebook="01-technical-onboarding.ipynb")
    row = rows_by_name()["demo"]
    assert row.status == "onboarding" and row.stage == 1
    assert row.open_items == {"CSM": 1, "Engineer": 1}
    assert row.failed == ["s1-tag-managed-resources"]
    assert row.evidence == "ok" and row.evidence_problems == 0 and row.runs == 2
    assert row.evidence_html == f"demo/{last.name}/01-technical-onboarding.html"
    assert row.last_touched == json.loads((last / "results.json").read_text())["finished_at"]


def test_items_outside_the_tier_do_not_count_and_an_onboarded_customer_has_drift_and_report(folders):
    customer_file(folders[0], "acme", tier="CSP")
    onboard("acme", tier="CSP")
    seal("acme", kind="report", stage=None, notebook="monthly-report.ipynb", month="2026-10")
    seal("acme", kind="report", stage=None, notebook="monthly-report.ipynb", month="2026-11")
    seal("acme", kind="report", stage=None, notebook="monthly-report.ipynb", month="2026-12", status="failed")
    drift = [drift_item("s1-tag-managed-resources", "unchanged"), drift_item("s1-monitoring-alerting", "unchanged")]
    seal("acme", kind="drift", stage=None, notebook="drift.ipynb", drift=drift)
    row = rows_by_name()["acme"]
    assert row.status == "onboarded" and row.stage == portfolio.DONE_STAGE
    assert row.open_items == {"CSM": 0, "Engineer": 0} and row.failed == []
    assert row.report_month == "2026-11"  # the failed December report produced nothing
    assert row.drift == "no drift" and row.drift_detail == "2 unchanged"
    assert row.evidence_html.endswith("/drift.html")


def test_the_last_drift_run_decides_and_names_what_deviates(folders):
    onboard("demo")
    seal(
        "demo",
        kind="drift",
        stage=None,
        notebook="drift.ipynb",
        drift=[drift_item("s1-tag-managed-resources", "drifted")],
    )
    seal(
        "demo",
        kind="drift",
        stage=None,
        notebook="drift.ipynb",
        drift=[drift_item("s1-tag-managed-resources", "drifted"), drift_item("s3-defender-enabled", "unchanged")],
    )
    row = rows_by_name()["demo"]
    assert row.drift == "drift found"
    assert row.drift_detail == "1 drifted, 1 unchanged; open: s1-tag-managed-resources"
    seal("demo", kind="drift", stage=None, notebook="drift.ipynb", status="failed", drift=[])
    assert rows_by_name()["demo"].drift == "failed"


def test_evidence_health_is_what_evidence_verify_finds(folders):
    runs = onboard("demo")
    (runs[1] / "results.json").write_text("{}")  # edited after archiving
    row = rows_by_name()["demo"]
    assert row.evidence == f"{runs[1].name}: results.json was changed after archiving (SHA-256 differs)"
    assert row.evidence_problems == len(archive.verify("demo")) == 1
    # still read: the stage runs' results are what they are now (verify is what says they were changed)
    assert row.status in ("onboarding", "onboarded")


def test_an_applied_offboarding_marks_the_customer_offboarded(folders):
    """`runbook offboard --apply` seals a run of kind `offboard` (`<time>-offboard-<hex>`) whose results say
    `apply: true` and status `offboarded` (or `incomplete`: something refused, the management still ended). A dry
    run, a failed run and a tier change's removals (`tier_to`) do not make the customer offboarded."""
    onboard("demo")
    seal("demo", kind="offboard", stage=None, notebook="offboard.ipynb", status="planned", apply=False)
    seal("demo", kind="offboard", stage=None, notebook="offboard.ipynb", status="failed", apply=True)
    seal("demo", kind="offboard", stage=None, notebook="offboard.ipynb", status="offboarded", apply=True, tier_to="CSP")
    assert rows_by_name()["demo"].status == "onboarded"
    run = seal("demo", kind="offboard", stage=None, notebook="offboard.ipynb", status="offboarded", apply=True)
    row = rows_by_name()["demo"]
    assert row.status == "offboarded" and row.evidence == "ok"
    assert portfolio.run_kind(run.name) == "offboard"
    assert row.evidence_html == f"demo/{run.name}/offboard.html"


def test_invalid_parameters_and_unreadable_evidence_are_rows_of_their_own(folders):
    params = folders[0]
    customer_file(params, "broken", tier="Gold")  # not a tier
    (params / "notyaml.yml").write_text("customer: [unclosed\n")
    (params / "template-premium.yml").write_text("customer: template-premium\n")  # a template: not a customer
    customer_file(params, "acme")
    seal("acme", stage=0, items=stage_items(0, "Full Stack"))
    (archive.runs("acme")[0] / "results.json").write_text("{not json")
    seal("broken", stage=0, items=stage_items(0, "Full Stack"))
    rows = rows_by_name()
    assert list(rows) == ["acme", "broken", "demo", "notyaml"]
    broken = rows["broken"]
    assert broken.status == "invalid parameters" and broken.tier == "Gold"
    assert "broken.yml: field 'tier'" in broken.error and "Fix:" in broken.error
    assert broken.evidence == "ok" and broken.runs == 1  # the evidence is still read
    assert rows["notyaml"].status == "invalid parameters" and "not valid YAML" in rows["notyaml"].error
    assert rows["acme"].status == "error" and "the evidence could not be read" in rows["acme"].error
    assert rows["demo"].status == "not started"


def test_a_customer_with_evidence_but_no_parameter_file_is_listed(folders):
    onboard("gone")
    row = rows_by_name()["gone"]
    assert row.status == "invalid parameters" and "no such parameter file" in row.error and row.runs == 5


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.append(dict(attrs)["href"])
        self.scripts += tag == "script"


def test_the_page_links_relative_to_itself_and_works_where_the_evidence_is_copied(folders, tmp_path):
    onboard("demo")
    out = portfolio.write(portfolio.collect_all(), portfolio.default_path())
    assert out == folders[1] / "portfolio.html"
    links = _Links()
    links.feed(out.read_text())
    assert len(links.hrefs) == 1 and not links.hrefs[0].startswith(("/", "file:", "http"))
    assert (out.parent / links.hrefs[0]).is_file()
    copy = tmp_path / "elsewhere" / "evidence"
    shutil.copytree(folders[1], copy)
    assert (copy / links.hrefs[0]).read_text().startswith("<!DOCTYPE html>")
    # a page written to another folder links up to the evidence from there
    other = portfolio.write(portfolio.collect_all(), tmp_path / "site" / "index.html")
    links = _Links()
    links.feed(other.read_text())
    assert links.hrefs[0].startswith("../") and (other.parent / links.hrefs[0]).is_file()
    assert links.scripts == 1


def test_everything_from_the_parameter_files_is_escaped(folders):
    customer_file(folders[0], "acme", tenant_name="<script>alert('x')</script> & <b>Co</b>")
    page = portfolio.render_html(portfolio.collect_all(), folders[1])
    assert "<script>alert" not in page and "<b>Co" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;Co&lt;/b&gt;" in page
    assert page.count("<script>") == 1  # the page's own


def test_the_page_has_a_header_per_column_sortable_and_labelled_controls(folders):
    page = portfolio.render_html(portfolio.collect_all(), folders[1])
    assert page.count('aria-sort="none"') == len(portfolio.COLUMNS) - 1
    assert '<th scope="col" data-key="customer" data-type="text" aria-sort="ascending"' in page  # as written
    for control in ("filter", "filter-tier", "filter-status"):
        assert f'<label for="{control}">' in page and f'id="{control}"' in page
    assert '<tbody>\n<tr data-customer="demo" data-tier="Full Stack" data-status="not started">' in page
    assert "http://" not in page and "https://" not in page  # nothing fetched: no CDN


def test_the_command_writes_the_page_and_prints_json(folders, capsys):
    seal("demo", stage=0, items=stage_items(0, "Full Stack"))
    assert main(["portfolio"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("portfolio of 1 customer(s): ") and out.strip().endswith("portfolio.html")
    assert (folders[1] / "portfolio.html").exists()
    assert main(["portfolio", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (row,) = data["customers"]
    assert row["customer"] == "demo" and row["status"] == "onboarding" and row["stage"] == 1
    stage1 = [i for i in catalogue.load().for_stage(1) if i.applies_to("Full Stack")]
    # Stage 0 done: Stage 1 is reached and every item of it is open
    assert row["open_items"] == {role: sum(i.role == role for i in stage1) for role in ("CSM", "Engineer")}
    assert row["evidence"] == "ok"
    target = folders[1].parent / "portfolio.json"
    assert main(["portfolio", "--format", "json", "--out", str(target)]) == 0
    assert json.loads(target.read_text())["customers"][0]["customer"] == "demo"


def test_a_page_that_cannot_be_written_is_one_line_and_exit_2(folders, capsys):
    (folders[1].parent / "a-file").write_text("")
    assert main(["portfolio", "--out", str(folders[1].parent / "a-file" / "portfolio.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --out ") and "Fix: give a file in a folder you can write." in err
    assert len(err.splitlines()) == 1


def test_no_customer_is_an_empty_page(tmp_path, monkeypatch, evidence_dir):
    monkeypatch.setenv("RUNBOOK_PARAMETERS_DIR", str(tmp_path / "none"))
    assert portfolio.collect_all() == []
    page = portfolio.render_html([], evidence_dir)
    assert "<title>Portfolio: 0 customers</title>" in page and "<tbody>\n\n</tbody>" in page
