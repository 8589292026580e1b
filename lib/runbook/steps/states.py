"""Before and after per change: the state of each applied change's target as the inspect read it before the apply,
and as the verification read it after, on the change (results.json, the item card, the evidence HTML) and in the
run's journal (`before` with the change the moment Azure accepts it; an `after` entry once verified).

A step tells the state of a target from its observation (`Step.state`: the relevant properties only, never a whole
resource; None where the target does not exist). A step that cannot tell returns `UNREAD`, and the change's own
values stand in: what an update replaces and writes (`values: {path: {old, new}}`, a tag's `was` and `value`), or
for a creation nothing before and its values after. Such an `after` is stated only when the verification found the
change no longer pending (the tenant holds the values it compares); otherwise it says so. Secrets and URL query
strings are masked, as in the plan.
"""

from __future__ import annotations

import re
from typing import Any

from ..adapters.secrets import SECRET_PATTERNS
from ..evidence.results import Change

UNREAD: Any = object()  # the step cannot read this target's state from its observation
STILL_PENDING = {"verified": "the verification still plans this change"}
_SECRET_KEY = re.compile(r"secret|password|token|sas|key$|signature|connectionstring", re.IGNORECASE)
_BOOKKEEPING = {"api_version", "name", "kind", "values"}


def clean(value: Any, key: str = "") -> Any:
    """A state fit for the evidence: secrets (by key name or shape) and URL query strings masked as '***'."""
    if isinstance(value, dict):
        return {str(k): clean(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v, key) for v in value]
    if isinstance(value, str):
        if key and _SECRET_KEY.search(key) and not key.lower().endswith(("id", "name")):
            return "***"
        if any(p.search(value) for p in SECRET_PATTERNS.values()):
            return "***"
        if "://" in value and "?" in value:
            return value.split("?", 1)[0] + "?***"
    return value


def from_values(change: Change, when: str) -> dict | None:
    """The state before or after a change as its own values give it."""
    d = change.detail
    values = d.get("values")
    if isinstance(values, dict) and values:
        pairs = [isinstance(v, dict) and set(v) == {"old", "new"} for v in values.values()]
        if all(pairs):
            return {p: v["old" if when == "before" else "new"] for p, v in values.items()}
        return None if when == "before" else dict(values)
    if "key" in d and "value" in d:
        key = f"tags.{d['key']}"
        if change.action == "remove tag":
            return {key: d["value"]} if when == "before" else {key: None}
        return {key: d.get("was")} if when == "before" else {key: d["value"]}
    if when == "before":
        return None  # a creation (an app, a role assignment, a secret): nothing was there
    return {k: v for k, v in d.items() if k not in _BOOKKEEPING and isinstance(v, (str, int, float, bool))}


def _state(step: Any, ctx: Any, obs: Any, change: Change, when: str) -> Any:
    try:
        return step.state(ctx, obs, change)
    except (KeyError, TypeError, AttributeError, ValueError):  # an observation without the target: not readable
        return UNREAD


def before(step: Any, ctx: Any, obs: Any, changes: list[Change]) -> None:
    """Put on each planned change its target's state as the inspect read it (before the apply asks Azure)."""
    for c in changes:
        got = _state(step, ctx, obs, c, "before")
        c.before = clean(from_values(c, "before") if got is UNREAD else got)


def after(step: Any, ctx: Any, obs: Any, applied: list[Change], pending: list[Change]) -> None:
    """Put on each applied change its target's state as the verification read it, and journal it."""
    open_ = {(c.action, c.target.lower()) for c in pending}
    for c in applied:
        got = _state(step, ctx, obs, c, "after")
        if got is UNREAD:
            got = STILL_PENDING if (c.action, c.target.lower()) in open_ else from_values(c, "after")
        c.after = clean(got)
        if ctx.journal is not None:
            ctx.journal.record("after", item=ctx.item_id, target=c.target, action=c.action, after=c.after)
