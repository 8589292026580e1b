"""The catalogue of checklist items: every line of the seed checklist, with stage, role, tiers, kind and narrative."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parents[1] / "data" / "catalogue.yml"
TIERS = ("CSP", "Premium", "Full Stack")
KINDS = ("automated", "attested", "both")
STATUSES = ("not-verified", "open", "fulfilled", "not-required", "failed")
DONE_STATUSES = ("fulfilled", "not-required")
UNDO_ACTIONS = ("remove", "hand_over", "keep")  # how `runbook offboard` undoes an automated item
OFFBOARDING_STAGE = 5  # the stage number of the offboarding lines (not a stage of the onboarding: no gate, no notebook)
CONNECTOR_NAMES = (
    "hubspot",
    "topdesk",
    "exact",
    "partner_center",
)  # adapters.connectors.CONNECTORS (named here: the catalogue loads light)


@dataclass(frozen=True)
class Undo:
    """How an automated item is undone when the customer leaves (`runbook offboard`): remove what the MSP made, hand
    it over to the customer, or keep it; the reason, and how the MSP's artefacts are recognised."""

    action: str  # remove | hand_over | keep
    reason: str
    artefacts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Item:
    """One checklist line."""

    id: str
    stage: int
    role: str
    kind: str
    tiers: tuple[str, ...]
    text: str
    heading: str = ""  # a clean heading for the notebook: typos fixed, no footnote or role prefix
    how_to_check: str = ""  # how a person checks the item by hand: what to open, what to look for
    automation: str = ""  # what the automated step reads and writes; empty until the item has one
    configures: bool = False  # its step changes the tenant (plan, then apply the reviewed plan); else it only checks
    # the MSP system its check reads (adapters.connectors: hubspot, topdesk, exact, partner_center): a `both` item whose
    # check decides when the connector is configured for the customer, and whose attestation is used when it is not
    connector: str = ""
    undo: Undo | None = None  # how `runbook offboard` undoes it (every configuring item declares one)

    @property
    def title(self) -> str:
        """The seed wording without its role prefix."""
        return self.text.split(">>", 1)[1].strip() if ">>" in self.text else self.text.strip()

    def applies_to(self, tier: str) -> bool:
        """Whether the item is part of a tier's onboarding."""
        return tier in self.tiers


@dataclass(frozen=True)
class Stage:
    """One stage of the checklist and its notebook."""

    number: int
    title: str
    notebook: str


@dataclass(frozen=True)
class Catalogue:
    """All items and stages, in checklist order."""

    version: str
    stages: tuple[Stage, ...]
    items: tuple[Item, ...]
    # the offboarding checklist (the CSM's and the Engineer's lines of `runbook offboard`), outside the stages
    offboarding: tuple[Item, ...] = ()
    offboarding_stage: Stage | None = None
    tier_change: tuple[Item, ...] = ()  # the lines a tier change needs attested (`runbook tier`)

    def item(self, item_id: str) -> Item:
        """An item by id (a stage line or an offboarding line); KeyError names the known ids."""
        for it in self.items + self.offboarding + self.tier_change:
            if it.id == item_id:
                return it
        raise KeyError(f"unknown checklist item '{item_id}'")

    def stage(self, number: int) -> Stage:
        """A stage by number."""
        for st in self.stages:
            if st.number == number:
                return st
        raise KeyError(f"unknown stage {number}: stages are {', '.join(str(s.number) for s in self.stages)}")

    def for_stage(self, number: int) -> list[Item]:
        """Items of one stage, in checklist order."""
        return [it for it in self.items if it.stage == number]


def _undo(r: dict) -> Undo | None:
    """An item's `undo:` block, checked: a known action, a reason, the artefacts as lines."""
    raw = r.get("undo")
    if raw is None:
        if r.get("configures"):
            raise ValueError(
                f"catalogue item {r['id']}: a configuring item needs an undo: block (remove, hand_over or keep)"
            )
        return None
    if r["kind"] == "attested":
        raise ValueError(f"catalogue item {r['id']}: an attested item has no undo")
    if raw.get("action") not in UNDO_ACTIONS or not str(raw.get("reason") or "").strip():
        raise ValueError(f"catalogue item {r['id']}: undo needs action ({', '.join(UNDO_ACTIONS)}) and a reason")
    return Undo(
        str(raw["action"]), " ".join(str(raw["reason"]).split()), tuple(str(a) for a in raw.get("artefacts") or ())
    )


def _item(r: dict, stage: int) -> Item:
    tiers = TIERS if r["tiers"] == "all" else tuple(r["tiers"])
    if r["kind"] not in KINDS or not set(tiers) <= set(TIERS):
        raise ValueError(f"catalogue item {r['id']}: bad kind or tiers")
    if not (isinstance(r.get("heading"), str) and r["heading"].strip()):
        raise ValueError(f"catalogue item {r['id']}: needs a heading")
    if not (isinstance(r.get("how_to_check"), str) and r["how_to_check"].strip()):
        raise ValueError(f"catalogue item {r['id']}: needs how_to_check")
    if r.get("automation") and r["kind"] == "attested":
        raise ValueError(f"catalogue item {r['id']}: an attested item has no automation")
    if r.get("connector") and (r["kind"] != "both" or r["connector"] not in CONNECTOR_NAMES):
        raise ValueError(
            f"catalogue item {r['id']}: connector must be one of {', '.join(CONNECTOR_NAMES)}, on a `both` item"
        )
    return Item(
        r["id"],
        stage,
        r["role"],
        r["kind"],
        tiers,
        r["text"],
        r["heading"],
        r["how_to_check"],
        r.get("automation") or "",
        bool(r.get("configures", False)),
        str(r.get("connector") or ""),
        _undo(r),
    )


@lru_cache(maxsize=1)
def load() -> Catalogue:
    """Read and check the catalogue data file."""
    raw = yaml.load(DATA.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: 20x
    stages = tuple(Stage(int(n), s["title"], s["notebook"]) for n, s in raw["stages"].items())
    items = [_item(r, int(r["stage"])) for r in raw["items"]]
    off = raw.get("offboarding") or {}
    offboarding = [_item(r, OFFBOARDING_STAGE) for r in off.get("items") or []]
    for it in offboarding:
        if not it.id.startswith("off-") or it.undo is not None:
            raise ValueError(f"catalogue offboarding line {it.id}: ids start with off- and carry no undo")
    tier_change = [_item(r, OFFBOARDING_STAGE) for r in (raw.get("tier_change") or {}).get("items") or []]
    ids = [i.id for i in items + offboarding + tier_change]
    if len(set(ids)) != len(ids):
        raise ValueError("catalogue item ids must be unique")
    stage = Stage(OFFBOARDING_STAGE, off["title"], off["notebook"]) if off else None
    return Catalogue(raw["template_version"], stages, tuple(items), tuple(offboarding), stage, tuple(tier_change))
