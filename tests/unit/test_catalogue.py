"""The catalogue holds every line of the seed checklist, in order, with stage, role, tiers and kind."""

import re

from runbook.customer import catalogue
from tests.conftest import SEED


def seed_lines() -> list[tuple[int, str]]:
    """(stage, text) of every checkbox line in the seed file."""
    stage, out = None, []
    for line in SEED.read_text().splitlines():
        m = re.match(r"### Stage (\d)", line)
        if m:
            stage = int(m.group(1))
        m = re.match(r"\s*- \[ \] (.*)$", line)
        if m:
            out.append((stage, m.group(1).rstrip()))
    return out


#: the seed's typos the catalogue corrects (issue 28: "Ligthouse" in the item text)
CORRECTED = {"Ligthouse": "Lighthouse"}


def corrected(text: str) -> str:
    for wrong, right in CORRECTED.items():
        text = text.replace(wrong, right)
    return text


def test_every_seed_line_is_an_item_in_order():
    items = catalogue.load().items
    assert [(i.stage, i.text.rstrip()) for i in items] == [(n, corrected(t)) for n, t in seed_lines()]
    assert not any("Ligthouse" in i.text for i in items)


def test_stage_sizes_match_the_seed():
    cat = catalogue.load()
    assert [len(cat.for_stage(n)) for n in range(5)] == [2, 5, 11, 15, 7]


def test_roles_match_the_seed_prefix():
    for item in catalogue.load().items:
        assert item.text.startswith(item.role), item.id


def test_tier_rules():
    cat = catalogue.load()
    assert cat.item("s3-backup-deployed").tiers == ("Full Stack",)
    assert cat.item("s3-patching-deployed").tiers == ("Full Stack",)
    assert set(cat.item("s3-defender-enabled").tiers) == {"Premium", "Full Stack"}
    assert cat.item("s0-signed-sla").tiers == catalogue.TIERS


def test_kinds_and_ids():
    cat = catalogue.load()
    assert cat.item("s0-signed-sla").kind == "attested"
    assert cat.item("s0-msp-authorized").kind == "automated"
    assert all(re.fullmatch(r"s\d-[a-z0-9-]+", i.id) and i.id.startswith(f"s{i.stage}-") for i in cat.items)
    assert {i.kind for i in cat.items} <= set(catalogue.KINDS)


def test_configuring_items_are_exactly_the_steps_that_apply():
    """The notebooks give an apply cell to the items marked `configures`; they must be the steps that change things."""
    from runbook.steps import REGISTRY
    from runbook.steps.base import Step

    applying = {item_id for item_id, step in REGISTRY.items() if step.apply is not Step.apply}
    assert applying == {i.id for i in catalogue.load().items if i.configures}


def test_every_configuring_item_declares_its_undo():
    """Issue 25: the reverse runbook lives in the catalogue: each configuring item says how it is undone (remove, hand
    over, keep) with a reason and how the MSP's artefacts are recognised; attested items carry none."""
    cat = catalogue.load()
    for item in cat.items:
        if item.configures:
            assert item.undo is not None, item.id
        if item.undo is not None:
            assert item.kind != "attested" and item.undo.action in catalogue.UNDO_ACTIONS, item.id
            assert item.undo.reason and item.undo.artefacts, item.id
    undo = {i.id: i.undo.action for i in cat.items if i.undo is not None}
    assert undo["s1-app-registration"] == undo["s1-monitoring-alerting"] == undo["s3-azure-policy"] == "remove"
    assert undo["s3-defender-enabled"] == "hand_over" and undo["s3-backup-deployed"] == "keep"
    assert "Delete Role" in cat.item("s3-lighthouse").undo.reason


def test_the_offboarding_lines_are_in_the_catalogue_not_in_the_stages():
    cat = catalogue.load()
    ids = [i.id for i in cat.offboarding]
    assert ids == [
        "off-contract-exact",
        "off-contract-partner-center",
        "off-topdesk-sla",
        "off-portal-access",
        "off-customer-informed",
        "off-backup-data-deletion-agreed",
        "off-credentials-removed",
        "off-final-report",
    ]
    assert {i.role for i in cat.offboarding} == {"CSM", "Engineer"}
    for item in cat.offboarding:
        assert item.text.startswith(item.role) and item.heading and item.how_to_check and item.undo is None
        assert item.stage == catalogue.OFFBOARDING_STAGE and cat.item(item.id) is item
    assert catalogue.OFFBOARDING_STAGE not in {s.number for s in cat.stages}
    assert cat.offboarding_stage is not None and cat.offboarding_stage.notebook == "offboard.ipynb"


def test_a_configuring_item_without_undo_is_refused(tmp_path, monkeypatch):
    import yaml

    raw = yaml.safe_load(catalogue.DATA.read_text())
    raw["items"][2].pop("undo")  # s1-app-registration
    path = tmp_path / "catalogue.yml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setattr(catalogue, "DATA", path)
    catalogue.load.cache_clear()
    try:
        import pytest

        with pytest.raises(ValueError, match="s1-app-registration: a configuring item needs an undo"):
            catalogue.load()
    finally:
        monkeypatch.undo()
        catalogue.load.cache_clear()
