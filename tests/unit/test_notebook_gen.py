"""The stage notebooks are generated from the catalogue, and every item tells a person how to check it by hand."""

import re

import nbformat

from runbook.authoring import notebooks as notebook_gen
from runbook.customer import catalogue
from runbook.steps import REGISTRY


def test_committed_notebooks_match_the_catalogue():
    stale = notebook_gen.check()
    assert not stale, f"regenerate with `python -m runbook.authoring.notebooks`: {[p.name for p in stale]}"


def test_check_reports_a_changed_or_missing_notebook(tmp_path):
    assert notebook_gen.write(tmp_path) == [tmp_path / s.notebook for s in catalogue.load().stages] + [
        tmp_path / notebook_gen.DRIFT_NOTEBOOK,
        tmp_path / notebook_gen.REPORT_NOTEBOOK,
        tmp_path / notebook_gen.OFFBOARD_NOTEBOOK,
    ]
    assert notebook_gen.check(tmp_path) == [] and notebook_gen.write(tmp_path) == []
    first, second = (tmp_path / s.notebook for s in catalogue.load().stages[:2])
    first.write_text(first.read_text().replace("Check by hand", "Check"))
    second.unlink()
    assert notebook_gen.check(tmp_path) == [first, second]
    assert notebook_gen.main(["--check", "--dir", str(tmp_path)]) == 1
    assert notebook_gen.main(["--dir", str(tmp_path)]) == 0
    assert notebook_gen.main(["--check", "--dir", str(tmp_path)]) == 0


def test_generation_is_deterministic_with_stable_ids():
    assert notebook_gen.expected() == notebook_gen.expected()
    for stage in catalogue.load().stages:
        nb = nbformat.reads(notebook_gen.expected()[stage.notebook], as_version=4)
        ids = [c.id for c in nb.cells]
        assert len(set(ids)) == len(ids)
        for item in catalogue.load().for_stage(stage.number):
            assert item.id in ids and f"{item.id}-md" in ids
        assert all(c.execution_count is None and c.outputs == [] for c in nb.cells if c.cell_type == "code")


def test_every_item_has_its_own_how_to_check():
    items = catalogue.load().items
    for item in items:
        assert item.heading.strip() and item.how_to_check.strip(), item.id
        assert len(item.how_to_check.split()) >= 12, f"{item.id}: say what to open and what to look for"
    texts = [" ".join(i.how_to_check.lower().split()) for i in items]
    assert len(set(texts)) == len(texts), "two items share a how_to_check"


def test_headings_are_clean():
    for item in catalogue.load().items:
        assert ">>" not in item.heading and not re.search(r"\[\^\d+\]", item.heading), item.id
        assert not item.heading.startswith(("CSM ", "Engineer ")), item.id


def test_automated_steps_describe_their_automation():
    cat = catalogue.load()
    for item_id in REGISTRY:
        item = cat.item(item_id)
        assert item.kind in ("automated", "both"), item_id
        assert re.search(r"\bReads\b", item.automation) and re.search(r"\b[Ww]rites?\b|\bcreates?\b", item.automation)
    described = {i.id for i in cat.items if i.automation}
    assert described == set(REGISTRY), "only items with an automated step describe automation"


def test_item_cells_carry_the_narrative():
    cat = catalogue.load()
    for item in cat.items:
        md = notebook_gen.item_markdown(item)
        assert md.startswith(f"## {item.heading}\n*{item.role} · {item.kind} · `{item.id}`*")
        assert f"**Check by hand:** {item.how_to_check}" in md
        if item.id in REGISTRY:
            assert f"**Automation:** {item.automation}" in md
        elif item.kind in ("automated", "both"):
            assert "**Automation:** not built yet" in md and f"attestations.{item.id}" in md
        else:
            assert f"attestations.{item.id}" in md
