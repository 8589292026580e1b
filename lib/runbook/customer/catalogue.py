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
CONNECTOR_NAMES = (
    "hubspot",
    "topdesk",
    "exact",
    "partner_center",
)  # adapters.connectors.CONNECTORS (named here: the catalogue loads light)


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

    def item(self, item_id: str) -> Item:
        """An item by id; KeyError names the known ids."""
        for it in self.items:
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


@lru_cache(maxsize=1)
def load() -> Catalogue:
    """Read and check the catalogue data file."""
    raw = yaml.load(DATA.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: 20x
    stages = tuple(Stage(int(n), s["title"], s["notebook"]) for n, s in raw["stages"].items())
    items = []
    for r in raw["items"]:
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
        items.append(
            Item(
                r["id"],
                int(r["stage"]),
                r["role"],
                r["kind"],
                tiers,
                r["text"],
                r["heading"],
                r["how_to_check"],
                r.get("automation") or "",
                bool(r.get("configures", False)),
                str(r.get("connector") or ""),
            )
        )
    if len({i.id for i in items}) != len(items):
        raise ValueError("catalogue item ids must be unique")
    return Catalogue(raw["template_version"], stages, tuple(items))
