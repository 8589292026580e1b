"""Item results: what one checklist item's step found, planned, applied, and the status it reached."""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from .. import __version__

if TYPE_CHECKING:
    import nbformat

MIMETYPE = "application/vnd.runbook.item+json"
HTML_ROWS = 500  # tables longer than this are cut in the HTML; results.json keeps every row


@dataclass
class Change:
    """One planned or applied change to the tenant."""

    target: str  # resource ID or object the change touches
    action: str  # e.g. "merge tags", "create action group"
    detail: dict = field(default_factory=dict)
    # what apply writes (a REST body); carried from plan to apply, never in the evidence (it may hold secrets)
    payload: dict | None = field(default=None, repr=False, compare=False)
    # an applied change: its target's state before (as the inspect read it; None for a creation) and after (as the
    # verification read it); see steps/states.py
    before: dict | None = field(default=None, compare=False)
    after: dict | None = field(default=None, compare=False)

    @property
    def headline(self) -> str:
        """The action with what it is about (a role, a tag, a principal), then the target: one line for people."""
        d = self.detail
        about = next(
            (str(d[k]) for k in ("role", "role_name", "principal_name") if d.get(k)),
            f"{d['key']}={d['value']}" if "key" in d and "value" in d and d["key"] not in self.action else "",
        )
        return f"{self.action}{' ' + about if about and about not in self.action else ''}: {self.target}"

    def value_lines(self) -> list[str]:
        """What the change sets, one line per value: `path: value`, or `path: old -> new` for an update."""
        out = []
        for path, v in (self.detail.get("values") or {}).items():
            if isinstance(v, dict) and set(v) == {"old", "new"}:
                out.append(f"{path}: {_short(v['old'])} -> {_short(v['new'])}")
            else:
                out.append(f"{path}: {_short(v)}")
        if "was" in self.detail and "value" in self.detail:  # a tag merge names the value it replaces
            out.append(f"{self.detail.get('key')}: {_short(self.detail['was'])} -> {_short(self.detail['value'])}")
        return out


@dataclass
class ItemResult:
    """The machine-readable record of one checklist item in one run."""

    item_id: str
    stage: int
    role: str
    kind: str
    title: str
    status: str = "not-verified"
    summary: str = ""
    observed: list[dict] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    planned: list[Change] = field(default_factory=list)
    applied: list[Change] = field(default_factory=list)
    attestation: dict | None = None
    started_at: str = ""
    finished_at: str = ""
    ran_by: str = ""
    apply: bool = False
    error: str = ""
    runbook_version: str = __version__

    def to_dict(self) -> dict:
        """Plain dict for JSON (change payloads left out)."""
        d = asdict(self)
        for key in ("planned", "applied"):
            for c in d[key]:
                c.pop("payload", None)
                if key == "planned" or (c.get("before") is None and c.get("after") is None):
                    c.pop("before", None)  # a plan's values say what it will change; states are an apply's
                    c.pop("after", None)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> ItemResult:
        """Rebuild from its dict form."""
        d = dict(data)
        d["planned"] = [Change(**c) for c in d.get("planned", [])]
        d["applied"] = [Change(**c) for c in d.get("applied", [])]
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    # --- notebook display ------------------------------------------------------------------
    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict:
        """Readable HTML and text for people, plus the JSON record the runner collects."""
        return {"text/plain": self.as_text(), "text/html": self.as_html(), MIMETYPE: self.to_dict()}

    def as_text(self) -> str:
        """Plain-text rendering."""
        mode = "APPLY" if self.apply else "DRY RUN"
        lines = [f"[{self.status}] {self.item_id}: {self.title} ({mode})", f"  {self.summary}"]
        lines += [f"  missing: {m}" for m in self.missing]
        lines += [f"  planned: {c.headline}" for c in self.planned[:20]]
        if len(self.planned) > 20:
            lines.append(f"  ... and {len(self.planned) - 20} more planned changes")
        lines += [f"  applied: {c.headline}" for c in self.applied[:20]]
        return "\n".join(lines)

    def as_html(self) -> str:
        """HTML rendering: status and mode, summary, what is missing, the attestation, then each change once: grouped
        by action, resource type and subscription, with the full list (short names, full ID on hover) and the
        observations folded away."""
        colour = {"fulfilled": "#1a7f37", "not-required": "#57606a", "open": "#9a6700", "failed": "#cf222e"}.get(
            self.status, "#57606a"
        )
        mode = "APPLY" if self.apply else "DRY RUN"
        mode_style = "background:#cf222e;color:#fff" if self.apply else "background:#ddf4ff;color:#0969da"
        parts = [
            f'<div class="runbook-item" data-item="{html.escape(self.item_id)}" data-status="{html.escape(self.status)}">',
            f'<div><span class="runbook-status" style="background:{colour};color:#fff;padding:2px 8px;border-radius:4px">{html.escape(self.status)}</span> '
            f"<b>{html.escape(self.item_id)}</b> ({html.escape(self.role)}) {html.escape(self.title)} "
            f'<span class="runbook-mode" style="{mode_style};padding:0 6px;border-radius:4px">{mode}</span></div>',
            f"<p>{html.escape(self.summary)}</p>",
        ]
        as_changes = {x for c in self.planned + self.applied for x in (f"{c.action}: {c.target}", c.headline)}
        missing = [m for m in self.missing if m not in as_changes]  # a pending change is shown once, as a change
        if missing:
            parts.append("<p><b>Missing:</b></p>" + _list(missing, 10))
        if self.attestation and "by" in self.attestation and str(self.attestation["by"]) not in self.summary:
            a = self.attestation  # the summary names the attestation already in most cases: shown once
            parts.append(
                f"<p>Attested by {html.escape(str(a.get('by')))} on {html.escape(str(a.get('at')))}: {html.escape(str(a.get('reference')))}</p>"
            )
        applied_keys = {(c.action, c.target.lower()) for c in self.applied}
        not_applied = [c for c in self.planned if (c.action, c.target.lower()) not in applied_keys]
        if self.applied:
            parts.append(_changes("Applied", self.applied))
            if not_applied:
                parts.append(_changes("Planned, not applied", not_applied))
        elif self.planned:
            parts.append(_changes("Planned" if not self.apply else "Planned, not applied", self.planned))
        if self.observed:
            more = (
                f"<p>... and {len(self.observed) - HTML_ROWS} more rows in results.json</p>"
                if len(self.observed) > HTML_ROWS
                else ""
            )
            parts.append(
                f"<details><summary>Observed ({len(self.observed)} row{'s' if len(self.observed) != 1 else ''})</summary>"
                + _table(self.observed[:HTML_ROWS])
                + more
                + "</details>"
            )
        parts.append("</div>")
        return "\n".join(parts)


def _short(value: object, limit: int = 300) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short_name(target: str) -> str:
    """The readable end of a resource ID (its last name segment), or the target itself."""
    parts = [p for p in target.split("/") if p]
    return parts[-1] if len(parts) > 1 and target.startswith("/") else target


def resource_type(target: str) -> str:
    """provider/type[/child] of a resource ID; 'resourceGroups' or 'subscriptions' for those scopes; '' otherwise."""
    low = target.split("/")
    if not target.startswith("/"):
        return ""
    try:
        i = [p.lower() for p in low].index("providers")
    except ValueError:
        return "resourceGroups" if "resourcegroups" in target.lower() else "subscriptions"
    segs = low[i + 1 :]
    return "/".join([segs[0], *segs[1::2]]) if segs else ""


def subscription_of(target: str) -> str:
    """The subscription ID in a resource ID, or ''."""
    low = target.split("/")
    for n, p in enumerate(low[:-1]):
        if p.lower() == "subscriptions":
            return low[n + 1]
    return ""


def _changes(label: str, changes: list[Change]) -> str:
    """A summary of changes by action, type and subscription, then every change (once) in a folded table."""
    groups: dict[tuple[str, str, str], int] = {}
    for c in changes:
        key = (c.action, resource_type(c.target), subscription_of(c.target))
        groups[key] = groups.get(key, 0) + 1
    summary = _table(
        [
            {"action": a, "resource type": t or "-", "subscription": s or "-", "changes": n}
            for (a, t, s), n in sorted(groups.items())
        ]
    )
    states = any(c.before is not None or c.after is not None for c in changes)  # an apply's before and after
    if states:
        from .diff import as_html
    rows = "".join(
        "<tr>"
        f"<td>{html.escape(c.action)}</td>"
        f'<td title="{html.escape(c.target)}">{html.escape(short_name(c.target))}</td>'
        f"<td>{html.escape(resource_type(c.target))}</td>"
        f"<td>{_detail_html(c)}</td>" + (f"<td>{as_html(c.before, c.after)}</td>" if states else "") + "</tr>"
        for c in changes[:HTML_ROWS]
    )
    more = f"<p>... and {len(changes) - HTML_ROWS} more in results.json</p>" if len(changes) > HTML_ROWS else ""
    extra = "<th>before &rarr; after</th>" if states else ""
    full = (
        f"<details><summary>All {len(changes)} change{'s' if len(changes) != 1 else ''}</summary>"
        f"<table><thead><tr><th>action</th><th>resource</th><th>type</th><th>detail</th>{extra}</tr></thead><tbody>{rows}</tbody></table>{more}</details>"
    )
    return f'<div class="runbook-changes"><p><b>{html.escape(label)} ({len(changes)})</b></p>{summary}{full}</div>'


def _detail_html(c: Change) -> str:
    """A change's detail: its scalar facts inline, the values it writes folded (old -> new for an update)."""
    plain = ", ".join(
        f"{k}={json.dumps(v) if isinstance(v, (dict, list)) else v}" for k, v in c.detail.items() if k != "values"
    )
    values = c.value_lines()
    if not values:
        return html.escape(plain)
    body = "".join(f"<li><code>{html.escape(v)}</code></li>" for v in values)
    return (
        f"{html.escape(plain)}<details class='runbook-values'><summary>values ({len(values)})</summary>"
        f"<ul>{body}</ul></details>"
    )


def _list(items: list[str], shown: int) -> str:
    head = "<ul>" + "".join(f"<li>{html.escape(m)}</li>" for m in items[:shown]) + "</ul>"
    if len(items) <= shown:
        return head
    rest = "<ul>" + "".join(f"<li>{html.escape(m)}</li>" for m in items[shown:]) + "</ul>"
    return head + f"<details><summary>{len(items) - shown} more</summary>{rest}</details>"


def stamp() -> str:
    """Current UTC time in ISO 8601 (results and evidence use this)."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _table(rows: list[dict]) -> str:
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def collect(nb: nbformat.NotebookNode) -> list[ItemResult]:
    """Every item record displayed in an executed notebook, in order (a later record of an item wins)."""
    found: dict[str, ItemResult] = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if MIMETYPE in data:
                rec = data[MIMETYPE]
                rec = json.loads(rec) if isinstance(rec, str) else rec
                found[rec["item_id"]] = ItemResult.from_dict(rec)
    return list(found.values())
