"""The parameters' contacts against the people an MSP system holds for the customer (HubSpot's associated contacts,
TOPdesk's persons of the branch): matched by e-mail address, else by name. E-mail addresses are compared here and
never leave: the rows say only whether one is present and whether it matches."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..customer.params import Contact


@dataclass(frozen=True)
class Held:
    """One person as the system holds them: its id, name, e-mail (in memory only) and what may name their role."""

    id: str
    name: str
    email: str = ""
    roles: tuple[str, ...] = ()  # association labels, job title


@dataclass(frozen=True)
class Pair:
    """A parameter contact and the person the system holds for them (None: not there)."""

    contact: Contact
    held: Held | None

    @property
    def email_state(self) -> str:
        """'matches', 'differs', 'missing' (the system has none) or '' (no person)."""
        if self.held is None:
            return ""
        if not self.held.email:
            return "missing"
        return "matches" if _same(self.held.email, self.contact.email) else "differs"

    @property
    def role_found(self) -> bool:
        """Whether the contact's role is one the system records for the person (no role asked: True)."""
        if self.held is None or not self.contact.role:
            return True
        return any(_same(r, self.contact.role) for r in self.held.roles)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _same(a: str, b: str) -> bool:
    return _norm(a) == _norm(b)


def match(contacts: Sequence[Contact], held: Sequence[Held]) -> tuple[list[Pair], list[Held]]:
    """Each contact with its person (by e-mail address first, then by name; each person used once), and the persons
    no contact matched."""
    free = list(held)
    pairs = []
    for c in contacts:
        found = next((h for h in free if h.email and _same(h.email, c.email)), None)
        found = found or next((h for h in free if _same(h.name, c.name)), None)
        if found is not None:
            free.remove(found)
        pairs.append(Pair(c, found))
    return pairs, free


def row(pair_or_held: Pair | Held, system: str) -> dict:
    """One row of the evidence: who, whether the system holds them, its id, e-mail present / matching, roles."""
    if isinstance(pair_or_held, Held):
        h = pair_or_held
        return {
            "contact": h.name,
            "in parameters": "no",
            f"in {system}": "yes",
            "id": h.id,
            "e-mail": "present" if h.email else "missing",
            "role (parameters)": "",
            f"role ({system})": ", ".join(h.roles),
        }
    p = pair_or_held
    state = {"matches": "present, matches", "differs": "present, differs", "missing": "missing", "": ""}
    return {
        "contact": p.contact.name,
        "in parameters": "yes",
        f"in {system}": "yes" if p.held else "no",
        "id": p.held.id if p.held else "",
        "e-mail": state[p.email_state],
        "role (parameters)": p.contact.role,
        f"role ({system})": ", ".join(p.held.roles) if p.held else "",
    }


def names(items: Sequence[Pair | Held]) -> str:
    """Names for a sentence."""
    return ", ".join(i.contact.name if isinstance(i, Pair) else i.name for i in items)
