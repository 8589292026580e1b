"""`runbook portfolio`: every customer on one page. One row per customer with a parameter file (and per customer
folder in the evidence): tier, the stage reached, open items by role, failed items, the last drift run's result, the
last monthly report's month, the evidence's health (`evidence verify`, read-only) and when the customer was last
touched, linking to its latest evidence HTML.

* **Read-only**: the parameters are validated (`params.load`), the evidence is read through `EvidenceStore` (the
  stage runs' newest result per item, the sealed drift and report runs) and verified as `runbook evidence verify`
  does, without `--repair`: nothing is written but the page.
* **One customer never sinks the others**: invalid parameters are that row's error (status `invalid parameters`),
  evidence that cannot be read is that row's error (status `error`); the other rows are built as usual.
* **Run kinds are read from the run ids** (`<time>-<kind>-<hex>`, a stage run's kind is `stageN`), so a kind added
  later is seen: an applied offboarding (`offboard.ends_management`, not a tier change's removals) makes the
  customer `offboarded`.
* **The page** (`render_html`) is one self-contained file: the table is in the HTML (500 rows paint without waiting
  for a script), inline CSS and a few lines of inline script that sort by a column header (numbers and dates as such,
  one O(n log n) sort, empty cells last) and filter by text, tier and status. Every value is escaped. Links to the
  evidence are relative to the page's folder, so the page works wherever the evidence folder is copied.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

import yaml

from .. import __version__, errors
from ..customer import catalogue, params
from ..evidence import EvidenceStore, archive, journal
from ..evidence.results import stamp
from .drift import OPEN_STATES, STATES, ItemDrift, last_drift
from .offboard import ends_management

ROLES = ("CSM", "Engineer")
#: a customer's status on the page, in the order the status filter lists them
STATUSES = ("invalid parameters", "error", "not started", "onboarding", "onboarded", "offboarded")
DONE_STAGE = 5  # the stage reached once every stage is complete
PAGE = "portfolio.html"  # in the evidence root by default: its links are relative to it

_RUN_ID = re.compile(r"^(\d{8}T\d{6})(?:\.\d+)?Z-(.+)-[0-9a-f]+$")
_STAGE_LABEL = re.compile(r"^stage\d+$")
_CUSTOMER = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")  # a customer folder in the evidence (params' own rule)


@dataclass
class Row:
    """One customer on the portfolio page."""

    customer: str
    tier: str = ""
    tenant_name: str = ""
    status: str = "not started"  # one of STATUSES
    stage: int | None = None  # the first stage with an item of the tier not done; DONE_STAGE when all are done
    open_items: dict[str, int] = field(
        default_factory=dict
    )  # per role: items not done (and not failed), stages reached
    failed: list[str] = field(default_factory=list)  # ids of the items whose newest result is failed
    drift: str = ""  # the last drift run: "no drift", "drift found", or its status (failed, interrupted); "" never
    drift_detail: str = ""  # its counts per state and the items that deviate
    drift_at: str = ""
    report_month: str = ""  # the newest month a report was produced for (YYYY-MM)
    evidence: str = ""  # "ok", the first problem `evidence verify` finds, "" without evidence
    evidence_problems: int = 0
    runs: int = 0
    last_touched: str = ""  # the newest run's finish (or, unsealed, its journal's last write), ISO 8601 UTC
    evidence_html: str = ""  # the newest run's HTML, relative to the evidence root (customer/run/file.html)
    error: str = ""  # why the row is incomplete: invalid parameters, unreadable evidence

    def to_dict(self) -> dict:
        return asdict(self)


# --- collecting ----------------------------------------------------------------------------------------------
def customers() -> list[str]:
    """Every customer with a parameter file (not msp.yml, not the templates) or a folder in the evidence."""
    named = {
        p.stem for p in params.parameters_dir().glob("*.yml") if p.stem != "msp" and not p.stem.startswith("template")
    }
    root = archive.root()
    if root.is_dir():
        named |= {d.name for d in root.iterdir() if d.is_dir() and _CUSTOMER.match(d.name)}
    return sorted(named)


def run_kind(run_id: str) -> str:
    """A run's kind from its id: `stage` for `<time>-stageN-<hex>`, else the label (drift, decision, report,
    offboard, and any kind added later)."""
    m = _RUN_ID.match(run_id)
    if not m:
        return archive.run_kind(run_id)
    label = m.group(2)
    return "stage" if _STAGE_LABEL.match(label) else label


def _run_started(run_id: str) -> str:
    m = _RUN_ID.match(run_id)
    if not m:
        return ""
    return datetime.strptime(m.group(1), "%Y%m%dT%H%M%S").strftime("%Y-%m-%dT%H:%M:%SZ")


def _mtime(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _raw_tier(customer: str) -> tuple[str, str]:
    """Tier and tenant name as an invalid file still gives them (for the row), else empty."""
    try:
        data = yaml.load(params.resolve_path(customer).read_text(), Loader=params.SAFE_LOADER)
    except (OSError, yaml.YAMLError):
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    tier, name = data.get("tier"), data.get("tenant_name")
    return (tier if isinstance(tier, str) else ""), (name if isinstance(name, str) else "")


def collect(customer: str) -> Row:
    """One customer's row. Never raises for the customer's own problems: they are the row's `error`."""
    row = Row(customer)
    p = None
    try:
        p = params.load(customer)
        row.tier, row.tenant_name = p.tier, p.tenant_name
    except errors.RunbookError as exc:
        row.status, row.error = "invalid parameters", str(exc)
        row.tier, row.tenant_name = _raw_tier(customer)
    try:
        _evidence(row, EvidenceStore(customer), p.tier if p else "")
    except Exception as exc:  # unreadable evidence (a hand-edited results.json, ...) is this row's, not the page's
        row.error = "; ".join(filter(None, [row.error, f"the evidence could not be read: {errors.describe(exc)}"]))
        if row.status != "invalid parameters":
            row.status = "error"
    return row


def _evidence(row: Row, store: EvidenceStore, tier: str) -> None:
    runs = store.runs()
    row.runs = len(runs)
    if not runs:
        if row.status == "not started":
            row.stage = 0
        return
    problems = store.verify()  # what `runbook evidence verify` finds; read-only without --repair
    row.evidence, row.evidence_problems = (problems[0] if problems else "ok"), len(problems)
    offboarded = False
    touched = []
    for run_dir in runs:
        results = run_dir / archive.RESULTS
        data: dict = {}
        if results.exists():
            data = json.loads(results.read_text())
            touched.append(str(data.get("finished_at") or "") or _mtime(results))
        elif (run_dir / journal.JOURNAL).exists():
            touched.append(_mtime(run_dir / journal.JOURNAL))
        else:
            touched.append(_run_started(run_dir.name))
        if ends_management(run_kind(run_dir.name), data):
            offboarded = True
        html_files = sorted(run_dir.glob("*.html"))
        if html_files:
            row.evidence_html = f"{store.customer}/{run_dir.name}/{html_files[0].name}"
    row.last_touched = max(touched)
    if tier:
        _items(row, store, tier)
    _drift(row, store)
    months = [r.month for r in store.reports() if r.produced and r.month]
    row.report_month = max(months, default="")
    if offboarded:
        row.status = "offboarded"
    elif row.status == "not started":
        row.status = "onboarded" if row.stage == DONE_STAGE else "onboarding"


def _items(row: Row, store: EvidenceStore, tier: str) -> None:
    """The stage reached, the open items per role up to it, and the failed items, from the newest result per item
    (stage runs only, as `runbook status`); an item outside the tier counts only when a run recorded it."""
    latest = store.latest()
    items = [i for i in catalogue.load().items if i.applies_to(tier) or i.id in latest]

    def status(item: catalogue.Item) -> str:
        rec = latest.get(item.id)
        return rec.result.status if rec else "not-verified"

    stages = [s.number for s in catalogue.load().stages]
    row.stage = next(
        (s for s in stages if any(status(i) not in catalogue.DONE_STATUSES for i in items if i.stage == s)),
        DONE_STAGE,
    )
    row.open_items = {role: 0 for role in ROLES}
    for item in items:
        state = status(item)
        if state == "failed":
            row.failed.append(item.id)
        elif state not in catalogue.DONE_STATUSES and (item.stage <= row.stage or item.id in latest):
            row.open_items[item.role] = row.open_items.get(item.role, 0) + 1


def _drift(row: Row, store: EvidenceStore) -> None:
    last = last_drift(store)
    if last is None:
        return
    _, data = last
    items = [ItemDrift.from_dict(d) for d in data.get("drift", [])]
    deviating = [i.item_id for i in items if i.state in OPEN_STATES]
    status = str(data.get("status") or "")
    row.drift = status if status != "complete" else "drift found" if deviating else "no drift"
    counts = ", ".join(f"{n} {s}" for s in STATES if (n := sum(i.state == s for i in items)))
    row.drift_detail = (counts or "no item in scope") + (f"; open: {', '.join(deviating)}" if deviating else "")
    row.drift_at = str(data.get("finished_at") or "")


def collect_all(names: list[str] | None = None) -> list[Row]:
    """A row per customer (`customers()` unless named), sorted by name."""
    return [collect(c) for c in (names if names is not None else customers())]


# --- JSON --------------------------------------------------------------------------------------------------------
def to_json(rows: list[Row]) -> str:
    return json.dumps(
        {
            "generated_at": stamp(),
            "runbook_version": __version__,
            "customers": [r.to_dict() for r in rows],
        },
        indent=2,
    )


# --- HTML --------------------------------------------------------------------------------------------------------
#: the columns: key, header, type for sorting (text, number, date), what it means (the header's tooltip)
COLUMNS = (
    ("customer", "Customer", "text", "the parameter file's name; links to the customer's latest evidence HTML"),
    ("tier", "Tier", "text", "CSP, Premium or Full Stack"),
    ("status", "Status", "number", ", ".join(STATUSES) + " (sorted in this order)"),
    ("stage", "Stage", "number", "the first stage with an item not fulfilled or not-required (done: all stages)"),
    ("csm", "Open CSM", "number", "the CSM's items not done in the stages reached (not counting failed ones)"),
    ("engineer", "Open Engineer", "number", "the Engineer's items not done in the stages reached (not failed)"),
    ("failed", "Failed", "number", "items whose newest result is failed"),
    ("drift", "Last drift", "text", "the last drift run: no drift, drift found, or its status"),
    ("report", "Last report", "date", "the newest month a monthly report was produced for"),
    ("evidence", "Evidence", "text", "runbook evidence verify: ok, or the first problem"),
    ("touched", "Last touched", "date", "when the newest run finished (UTC)"),
)

_STYLE = (
    "body{font-family:sans-serif;margin:1em;color:#1f2328}"
    "table{border-collapse:collapse;width:100%}th,td{border:1px solid #d0d7de;padding:3px 6px;text-align:left;"
    "vertical-align:top}thead th{background:#f6f8fa;position:sticky;top:0}"
    "th button{all:inherit;border:0;cursor:pointer;padding:0}th button:focus-visible{outline:2px solid #0969da}"
    "th[aria-sort=ascending] button::after{content:' \\25B2'/''}th[aria-sort=descending] button::after{content:' \\25BC'/''}"
    "td.n{text-align:right}td.d{white-space:nowrap}.bad{color:#cf222e}.ok{color:#1a7f37}.muted{color:#59636e}"
    "form{display:flex;gap:1em;align-items:center;margin:.5em 0}small{color:#59636e}"
)

# The table is in the page; the script only reorders and hides its rows: one sort per click (keys read once, ties in
# the page's order, empty cells last). The filter controls are useless without it, so it puts them in place (from
# their template) once the page has loaded: form controls in the initial document cost chromium a quarter of a
# second before the load event (benchmarks/portfolio_page.py), the table paints without waiting for them.
_SCRIPT = """
(function () {
  var table = document.getElementById("portfolio"), body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows), heads = table.tHead.rows[0].cells, text = null;
  function sortBy(col) {
    var th = heads[col], type = th.dataset.type;
    var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending", sign = dir === "ascending" ? 1 : -1;
    for (var h = 0; h < heads.length; h++) heads[h].setAttribute("aria-sort", "none");
    th.setAttribute("aria-sort", dir);
    var keyed = rows.map(function (r, i) {
      var c = r.cells[col], v = c.hasAttribute("data-sort") ? c.getAttribute("data-sort") : c.textContent.trim();
      return {k: v === "" ? null : type === "number" ? parseFloat(v) : v.toLowerCase(), i: i, r: r};
    });
    keyed.sort(function (a, b) {
      if (a.k === null || b.k === null) return a.k === b.k ? a.i - b.i : a.k === null ? 1 : -1;
      return a.k < b.k ? -sign : a.k > b.k ? sign : a.i - b.i;
    });
    var frag = document.createDocumentFragment();
    for (var j = 0; j < keyed.length; j++) frag.appendChild(keyed[j].r);
    body.appendChild(frag);
  }
  for (var c = 0; c < heads.length; c++) {
    (function (col) {
      heads[col].querySelector("button").addEventListener("click", function () { sortBy(col); });
    })(c);
  }
  function controls() {
    var tpl = document.getElementById("controls");
    tpl.parentNode.replaceChild(tpl.content.cloneNode(true), tpl);
    var q = document.getElementById("filter"), tier = document.getElementById("filter-tier");
    var status = document.getElementById("filter-status"), shown = document.getElementById("shown");
    function filter() {
      var s = q.value.trim().toLowerCase(), t = tier.value, u = status.value, n = 0;
      if (text === null) text = rows.map(function (r) { return r.textContent.toLowerCase(); });
      for (var i = 0; i < rows.length; i++) {
        var r = rows[i], ok = (!s || text[i].indexOf(s) >= 0) && (!t || r.dataset.tier === t) &&
          (!u || r.dataset.status === u);
        if (r.hidden === ok) r.hidden = !ok;
        if (ok) n++;
      }
      shown.textContent = n + " of " + rows.length + " customers";
    }
    q.addEventListener("input", filter);
    tier.addEventListener("change", filter);
    status.addEventListener("change", filter);
    document.documentElement.setAttribute("data-ready", "true");
    performance.mark("portfolio-ready");
  }
  if (document.readyState === "complete") setTimeout(controls, 0);
  else window.addEventListener("load", function () { setTimeout(controls, 0); });
})();
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _href(row: Row, page_dir: Path) -> str:
    """The row's evidence HTML relative to the page's folder, URL-quoted per segment."""
    target = archive.root().resolve() / row.evidence_html
    rel = os.path.relpath(target, page_dir)
    return "/".join(quote(part) for part in Path(rel).as_posix().split("/"))


def _td(text: object, sort: object | None = None, cls: str = "", title: str = "") -> str:
    attrs = "" if sort is None else f' data-sort="{_e(sort)}"'
    attrs += f' class="{cls}"' if cls else ""
    attrs += f' title="{_e(title)}"' if title else ""
    return f"<td{attrs}>{_e(text)}</td>"


def _row_html(row: Row, page_dir: Path) -> str:
    name = _e(row.customer)
    if row.evidence_html:
        run = row.evidence_html.split("/")[1] if "/" in row.evidence_html else ""
        first = f'<a href="{_e(_href(row, page_dir))}" title="latest evidence: {_e(run)}">{name}</a>'
    else:
        first = name
    if row.tenant_name:
        first += f"<br><small>{_e(row.tenant_name)}</small>"
    if row.error:
        head, _, rest = row.error.partition("\n")
        more = f" (+{rest.count(chr(10)) + 1} more)" if rest else ""
        first += f'<br><small class="bad" title="{_e(row.error)}">{_e(head)}{_e(more)}</small>'
    stage_text = "" if row.stage is None else "done" if row.stage == DONE_STAGE else row.stage
    counted = bool(row.open_items)  # the items were read: a valid customer with evidence
    csm = row.open_items.get("CSM", 0) if counted else ""
    eng = row.open_items.get("Engineer", 0) if counted else ""
    failed = len(row.failed) if counted else ""
    drift_cls = "ok" if row.drift == "no drift" else "bad" if row.drift else ""
    drift = row.drift or "never run"
    evidence = row.evidence or "no evidence"
    if row.evidence_problems > 1:
        evidence += f" (+{row.evidence_problems - 1} more)"
    ev_cls = "ok" if row.evidence == "ok" else "bad" if row.evidence else "muted"
    cells = [
        f'<td data-sort="{name}">{first}</td>',
        _td(row.tier),
        _td(
            row.status,
            sort=STATUSES.index(row.status) if row.status in STATUSES else len(STATUSES),
            cls="bad" if row.status in ("invalid parameters", "error") else "",
        ),
        _td(stage_text, sort="" if row.stage is None else row.stage, cls="n"),
        _td(csm, cls="n"),
        _td(eng, cls="n"),
        _td(failed, cls="n bad" if row.failed else "n", title=", ".join(row.failed)),
        _td(drift, sort=row.drift, cls=drift_cls, title=f"{row.drift_detail} ({row.drift_at})" if row.drift else ""),
        _td(row.report_month, cls="d"),
        _td(evidence, sort="" if not row.evidence else "0" if row.evidence == "ok" else "1", cls=ev_cls),
        _td(row.last_touched.replace("T", " ").removesuffix("Z"), sort=row.last_touched, cls="d"),
    ]
    return f'<tr data-customer="{name}" data-tier="{_e(row.tier)}" data-status="{_e(row.status)}">{"".join(cells)}</tr>'


def _options(values: list[str]) -> str:
    return '<option value="">all</option>' + "".join(f'<option value="{_e(v)}">{_e(v)}</option>' for v in values)


def render_html(rows: list[Row], page_dir: Path, script: bool = True) -> str:
    """The portfolio page (links relative to `page_dir`, the folder it is written to). `script=False` leaves the
    script out: the page as a reader without script sees it (the table, sorted by name; no controls)."""
    heads = "".join(
        f'<th scope="col" data-key="{key}" data-type="{kind}" aria-sort="{"ascending" if key == "customer" else "none"}"'
        f' title="{_e(meaning)}">'
        f'<button type="button">{_e(label)}</button></th>'
        for key, label, kind, meaning in COLUMNS  # the rows are written in the customers' order
    )
    tiers = [t for t in catalogue.TIERS if any(r.tier == t for r in rows)]
    tiers += sorted({r.tier for r in rows if r.tier and r.tier not in catalogue.TIERS})
    statuses = [s for s in STATUSES if any(r.status == s for r in rows)]
    body = "\n".join(_row_html(r, page_dir) for r in rows)
    generated = stamp()
    controls = (  # put in place by the script (see _SCRIPT)
        '<template id="controls"><form role="search" onsubmit="return false">'
        '<label for="filter">Filter</label><input id="filter" type="search" placeholder="customer, item, problem...">'
        f'<label for="filter-tier">Tier</label><select id="filter-tier">{_options(tiers)}</select>'
        f'<label for="filter-status">Status</label><select id="filter-status">{_options(statuses)}</select>'
        f'<span id="shown" aria-live="polite">{len(rows)} of {len(rows)} customers</span></form></template>'
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Portfolio: {len(rows)} customers</title><style>{_STYLE}</style></head><body>"
        f"<h1>Portfolio</h1><p><small>{len(rows)} customers; generated {_e(generated)} by runbook {_e(__version__)}"
        " from the parameters and the evidence. Click a column header to sort.</small></p>"
        f"{controls}"
        f'<table id="portfolio"><caption class="muted">Every customer: tier, stage reached, open and failed items, '
        f"drift, reports, evidence health</caption><thead><tr>{heads}</tr></thead>"
        f"<tbody>\n{body}\n</tbody></table>" + (f"<script>{_SCRIPT}</script>" if script else "") + "</body></html>\n"
    )


def default_path() -> Path:
    """evidence/portfolio.html (the evidence root): the page travels with the evidence it links to."""
    return archive.root() / PAGE


def write(rows: list[Row], out: Path, fmt: str = "html") -> Path:
    """Write the page (or the JSON) to `out` atomically; returns the path. InputError (exit 2) when it cannot be
    written there."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        text = render_html(rows, out.parent.resolve()) if fmt == "html" else to_json(rows) + "\n"
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(text)
        tmp.replace(out)
    except OSError as exc:
        raise errors.InputError(
            f"--out {out}: cannot write the portfolio there ({exc.strerror or exc}). Fix: give a file in a folder you can write."
        ) from None
    return out
