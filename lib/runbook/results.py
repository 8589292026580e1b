"""Item results: what one checklist item's step found, planned, applied, and the status it reached."""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import nbformat

from . import __version__

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
        lines += [f"  planned: {c.action} {c.target}" for c in self.planned[:20]]
        if len(self.planned) > 20:
            lines.append(f"  ... and {len(self.planned) - 20} more planned changes")
        lines += [f"  applied: {c.action} {c.target}" for c in self.applied[:20]]
        return "\n".join(lines)

    def as_html(self) -> str:
        """HTML rendering: status badge, summary, what is missing, observations and changes."""
        colour = {"fulfilled": "#1a7f37", "not-required": "#57606a", "open": "#9a6700", "failed": "#cf222e"}.get(
            self.status, "#57606a"
        )
        parts = [
            f'<div><span style="background:{colour};color:#fff;padding:2px 8px;border-radius:4px">{html.escape(self.status)}</span> '
            f"<b>{html.escape(self.item_id)}</b> ({html.escape(self.role)}) {html.escape(self.title)} "
            f"<span style='border:1px solid #999;padding:0 4px'>{'APPLY' if self.apply else 'DRY RUN'}</span></div>",
            f"<p>{html.escape(self.summary)}</p>",
        ]
        if self.missing:
            parts.append(
                "<p><b>Missing:</b></p><ul>" + "".join(f"<li>{html.escape(m)}</li>" for m in self.missing) + "</ul>"
            )
        if self.attestation:
            a = self.attestation
            parts.append(
                f"<p>Attested by {html.escape(str(a.get('by')))} on {html.escape(str(a.get('at')))}: {html.escape(str(a.get('reference')))}</p>"
            )
        if self.observed:
            parts.append(_table(self.observed[:HTML_ROWS]))
            if len(self.observed) > HTML_ROWS:
                parts.append(f"<p>... and {len(self.observed) - HTML_ROWS} more rows in results.json</p>")
        for label, changes in (("Planned changes", self.planned), ("Applied changes", self.applied)):
            if changes:
                rows = [
                    {
                        "action": c.action,
                        "target": c.target,
                        **{k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in c.detail.items()},
                    }
                    for c in changes[:HTML_ROWS]
                ]
                more = (
                    f"<p>... and {len(changes) - HTML_ROWS} more in results.json</p>"
                    if len(changes) > HTML_ROWS
                    else ""
                )
                parts.append(f"<p><b>{label} ({len(changes)})</b></p>" + _table(rows) + more)
        return "\n".join(parts)


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
