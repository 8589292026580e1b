"""Before and after of an applied change, for people: one row per field, `field: before -> after`."""

from __future__ import annotations

import html
import json

ABSENT = "(absent)"  # the target did not exist, or had no such field


def _text(value: object, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def rows(before: dict | None, after: dict | None) -> list[tuple[str, str, str, bool]]:
    """(field, before, after, changed) for every field either side names, in their order; a side that is None (the
    target did not exist, or was deleted) shows every field absent."""
    b, a = before or {}, after or {}
    fields = list(dict.fromkeys([*b, *a]))
    out = []
    for f in fields:
        was = _text(b[f]) if b.get(f) is not None else ABSENT  # a tag not set, a property not there
        now = _text(a[f]) if a.get(f) is not None else ABSENT
        if before is None:
            was = ABSENT
        out.append((f, was, now, was != now))
    return out


def as_html(before: dict | None, after: dict | None) -> str:
    """A small table, changed fields marked; 'created' / 'not read' where a side has nothing to compare."""
    head = "created: " if before is None else ""
    body = "".join(
        f"<tr class='{'runbook-diff-changed' if changed else 'runbook-diff-same'}'><td><code>{html.escape(f)}</code></td>"
        f"<td>{html.escape(was)}</td><td>{'&rarr;' if changed else '='}</td><td>{html.escape(now)}</td></tr>"
        for f, was, now, changed in rows(before, after)
    )
    if not body:
        return f"<span class='runbook-diff'>{head or 'no state read'}</span>"
    return (
        f"<div class='runbook-diff'>{html.escape(head)}<table><thead><tr><th>field</th><th>before</th><th></th>"
        f"<th>after</th></tr></thead><tbody>{body}</tbody></table></div>"
    )


def as_text(before: dict | None, after: dict | None) -> list[str]:
    """The same, one line per changed field: `field: before -> after`."""
    return [f"{f}: {was} -> {now}" for f, was, now, changed in rows(before, after) if changed]
