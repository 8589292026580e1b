"""`runbook tier <customer> --to <tier>`: a customer moves between CSP, Premium and Full Stack.

* **Down** (e.g. Full Stack -> Premium): the items the lower tier does not include are undone as the offboarding undoes
  them (their catalogue `undo:`; `operate/offboard.py`, an offboard run with `tier_to` in its results), after the
  customer's agreement is attested (`attestations.tier-change-agreed`), then every stage runs again under the new tier
  through the normal stage steps (what stays is reconciled: a budget no longer notifies the removed action group).
* **Up** (e.g. CSP -> Premium): every stage runs again under the new tier, so the stages' items the higher tier needs
  are added by their own steps (plan, apply, verify).
* A dry run (the default) shows the undo's plan and the items that would be added, and changes nothing. With
  `--apply` the parameters' `tier` is written for the stage runs and stays only when every stage completes; otherwise
  the parameter file is put back as it was and the command says why (exit 3).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..customer import catalogue
from ..customer.params import load, parameters_dir
from ..errors import EXIT_INCOMPLETE, EXIT_OK, InputError, RunbookError
from . import offboard

AGREED = "tier-change-agreed"
_TIER_LINE = re.compile(r"^tier:[^\n]*$", re.MULTILINE)


@dataclass
class TierChange:
    """What a tier change removes, adds, and how it went."""

    customer: str
    before: str
    to: str
    apply: bool
    removes: list[str] = field(default_factory=list)  # items undone
    adds: list[str] = field(default_factory=list)  # items the stage runs add
    lines: list[str] = field(default_factory=list)
    status: str = "planned"  # planned | changed | incomplete

    @property
    def exit_code(self) -> int:
        return EXIT_INCOMPLETE if self.status == "incomplete" else EXIT_OK

    def text(self) -> str:
        head = f"tier {self.customer}: {self.before} -> {self.to}: {self.status}{' (--apply)' if self.apply else ''}"
        return "\n".join([head, *self.lines])


def plan_items(before: str, to: str) -> tuple[list[catalogue.Item], list[catalogue.Item]]:
    """(items undone, items added): with an undo, in the old tier and not the new; automated, in the new and not
    the old (`offboard.tier_items`, which an offboard run's kernel also reads)."""
    return offboard.tier_items(before, to)


def change(
    customer: str,
    to: str,
    run_offboard: Callable[..., offboard.OffboardOutcome],
    run_all: Callable[..., list],
    apply: bool = False,
    link: Callable[[Path], str] = str,
) -> TierChange:
    """Plan (dry run) or make a tier change; the runner's `run_offboard` and `run_all` (the entry layer's) execute the
    undo and the stage runs. InputError (exit 2) for an unknown tier, the tier it already has, or a down-change applied
    without the customer's agreement attested."""

    params = load(customer)
    if to not in catalogue.TIERS:
        raise InputError(f"--to {to}: not a tier. Fix: one of {', '.join(catalogue.TIERS)}.")
    if to == params.tier:
        raise InputError(
            f"{params.customer} is already on {to}. Fix: give another tier ({', '.join(catalogue.TIERS)})."
        )
    removes, adds = plan_items(params.tier, to)
    out = TierChange(params.customer, params.tier, to, apply, [i.id for i in removes], [i.id for i in adds])
    if apply and removes and AGREED not in params.attestations:
        raise InputError(
            f"parameters/{params.customer}.yml: moving from {params.tier} to {to} removes what the MSP configured for "
            f"{', '.join(out.removes)}; attestations.{AGREED} is required first (the customer's written agreement). "
            f"Fix: add attestations.{AGREED} with by, at and reference."
        )
    if removes:
        o = run_offboard(params.customer, apply=apply, only=tuple(out.removes), tier_to=to)
        out.lines.append(offboard.describe(o, link))
        if apply and o.status != "offboarded":
            out.status = "incomplete"
            out.lines.append(
                f"  the tier stays {params.tier}: the removal did not complete ({o.status}); nothing else was run"
            )
            return out
    out.lines.append(
        "  the stages run again under the new tier"
        + (f"; their steps add: {', '.join(out.adds)}" if out.adds else "")
        + (
            ""
            if apply
            else f" (dry run: nothing was changed; to change: runbook tier {params.customer} --to '{to}' --apply)"
        )
    )
    if not apply:
        return out
    path = parameters_dir() / f"{params.customer}.yml"
    original = path.read_text()
    if not _TIER_LINE.search(original):
        raise InputError(f"{path}: no top-level `tier:` line to change. Fix: give the tier as `tier: {params.tier}`.")
    path.write_text(_TIER_LINE.sub(f"tier: {to}", original, count=1))
    try:
        outcomes = run_all(params.customer, apply=True)
    except RunbookError as exc:  # a stage's gate (an item the new tier needs is open): the tier stays
        path.write_text(original)
        out.status = "incomplete"
        out.lines.append(f"  the tier stays {params.tier} in parameters/{params.customer}.yml: {exc}")
        return out
    except BaseException:
        path.write_text(original)
        raise
    for o in outcomes:
        out.lines.append(f"  stage {o.stage}: {o.status}  evidence: {link(o.run_dir)}")
    if len(outcomes) != len(catalogue.load().stages) or any(o.status != "complete" for o in outcomes):
        path.write_text(original)
        out.status = "incomplete"
        out.lines.append(
            f"  the tier stays {params.tier} in parameters/{params.customer}.yml: a stage did not complete"
        )
        return out
    out.status = "changed"
    out.lines.append(f"  parameters/{params.customer}.yml: tier: {to}")
    return out
