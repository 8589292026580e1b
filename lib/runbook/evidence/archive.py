"""The evidence archive: per run a notebook, its HTML, results.json and a hash-chained manifest."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets as _random
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from .. import PROJECT_ROOT, __version__
from ..adapters.secrets import SECRET_PATTERNS, Finding, known_secret_values, scan_text
from ..errors import EvidenceError
from . import anchor

# re-exported: older callers read the secret detector here (it lives in adapters.secrets)
__all__ = ["SECRET_PATTERNS", "Finding", "known_secret_values", "scan_text"]

MANIFEST = "manifest.json"
RESULTS = "results.json"
EVIDENCE_ENV = "RUNBOOK_EVIDENCE_DIR"


def root() -> Path:
    """Where evidence lives ($RUNBOOK_EVIDENCE_DIR or <project>/evidence)."""
    return Path(os.environ.get(EVIDENCE_ENV) or PROJECT_ROOT / "evidence")


def customer_dir(customer: str) -> Path:
    """The evidence folder of one customer."""
    return root() / customer


RUN_KINDS = ("stage", "drift", "decision", "report", "approval", "offboard")  # a stage run; a drift
# re-verification; an engineer's decision on a finding; a monthly report; a second person's approval of a reviewed
# plan (four eyes); an offboarding or a tier change's removals (`runbook offboard`, `runbook tier`)


def new_run(customer: str, stage: int, kind: str = "stage") -> tuple[str, Path]:
    """A fresh run id (sortable by time) and its folder: `<time>-stage<N>-<hex>`, or `<time>-drift-<hex>` and
    `<time>-decision-<hex>` for the runs of `runbook drift`, `<time>-report-<hex>` for a monthly report (in the same
    chain)."""
    now = datetime.now(timezone.utc)
    label = f"stage{stage}" if kind == "stage" else kind
    if kind not in RUN_KINDS:
        raise ValueError(f"unknown run kind {kind!r}")
    # microseconds keep ids in time order even for runs started within one second
    run_id = f"{now:%Y%m%dT%H%M%S}.{now.microsecond:06d}Z-{label}-{_random.token_hex(2)}"
    path = customer_dir(customer) / run_id
    path.mkdir(parents=True)
    return run_id, path


def run_kind(run_id: str) -> str:
    """stage, drift or decision, from a run's id (its folder name)."""
    return next((k for k in RUN_KINDS[1:] if f"Z-{k}-" in run_id), "stage")


def runs(customer: str) -> list[Path]:
    """The customer's run folders, oldest first."""
    d = customer_dir(customer)
    return sorted(p for p in d.iterdir() if p.is_dir()) if d.exists() else []


def sha256(path: Path) -> str:
    """SHA-256 of a file."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def _scrub(value: object, replacements: list[tuple[str, str]]) -> object:
    """Replace machine-specific path prefixes inside output text, lists and dicts."""
    if isinstance(value, str):
        for old, new in replacements:
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_scrub(v, replacements) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, replacements) for k, v in value.items()}
    return value


def sanitise_notebook(path: Path) -> None:
    """Make outputs machine-neutral: project and home paths in tracebacks and papermill metadata."""
    import nbformat  # loaded when needed: its schema validation costs about a second to import

    nb = nbformat.read(path, as_version=4)
    replacements = [(str(PROJECT_ROOT), "<project>"), (str(Path.home()), "~")]
    for cell in nb.cells:
        if cell.get("outputs"):
            cell["outputs"] = [nbformat.from_dict(_scrub(dict(o), replacements)) for o in cell["outputs"]]
    pm = nb.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):
        if pm.get(key):
            p = Path(pm[key])
            try:
                pm[key] = str(p.resolve().relative_to(PROJECT_ROOT))
            except ValueError:
                pm[key] = p.name
    nbformat.write(nb, path)


def scan_files(paths: list[Path], relative_to: Path, extra_known: tuple[str, ...] = ()) -> list[Finding]:
    """Secret findings across files to be archived (plus exact matches of secrets this machine holds)."""
    known = known_secret_values() + extra_known
    out: list[Finding] = []
    for p in paths:
        out += scan_text(p.read_text(errors="replace"), str(p.relative_to(relative_to)), known)
    return out


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_STYLE = (
    "body{font-family:sans-serif;max-width:1200px;margin:1em auto;padding:0 1em;color:#1f2328}"
    "table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #d0d7de;padding:2px 6px;vertical-align:top}"
    "pre{background:#f6f8fa;padding:6px;overflow-x:auto;white-space:pre-wrap}pre.error{background:#ffebe9}"
    ".cell{margin:.6em 0}"
)


def _text(value: object) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _output_html(out: dict) -> str:
    """One cell output as the reader sees it: its HTML, an image, or its text; an error as its name and message."""
    import html as _html

    kind = out.get("output_type")
    if kind == "stream":
        return f"<pre>{_html.escape(_ANSI.sub('', _text(out.get('text'))))}</pre>"
    if kind == "error":
        lines = [_ANSI.sub("", line) for line in out.get("traceback") or []] or [
            f"{out.get('ename')}: {out.get('evalue')}"
        ]
        return f"<pre class='error'>{_html.escape(chr(10).join(lines))}</pre>"
    data = out.get("data") or {}
    if "text/html" in data:
        return f"<div>{_text(data['text/html'])}</div>"
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            return f"<img src='data:{mime};base64,{_text(data[mime]).strip()}'/>"
    if "text/markdown" in data:
        import mistune

        return str(mistune.html(_text(data["text/markdown"])))
    if "text/plain" in data:
        return f"<pre>{_html.escape(_ANSI.sub('', _text(data['text/plain'])))}</pre>"
    return ""


def render_html(notebook: Path, target: Path, header: dict | None = None) -> None:
    """HTML of an executed notebook for auditors: the narrative (markdown) and every output, without code and
    without the injected-parameters cell, headed by the run's facts (run id, start and end, who, machine, runbook
    version, parameters hash, status). Rendered here, linear in the notebook's size (nbconvert's exporter took most
    of a second per run; issue 14)."""
    import html as _html

    import mistune

    nb = json.loads(notebook.read_text())
    parts = []
    for cell in nb.get("cells", []):
        if "injected-parameters" in (cell.get("metadata") or {}).get("tags", []):
            continue
        if cell.get("cell_type") == "markdown":
            parts.append(f"<div class='cell md'>{mistune.html(_text(cell.get('source')))}</div>")
        elif cell.get("cell_type") == "code" and cell.get("outputs"):
            parts.append("<div class='cell out'>" + "".join(_output_html(o) for o in cell["outputs"]) + "</div>")
    box = ""
    if header:
        rows = "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{_html.escape(k)}</th><td>{_html.escape(str(v))}</td></tr>"
            for k, v in header.items()
        )
        box = f"<div style='border:1px solid #999;padding:8px;margin:8px 0'><b>Runbook evidence</b><table>{rows}</table></div>"
    title = _html.escape(str((header or {}).get("run_id") or notebook.stem))
    target.write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title><style>{_STYLE}</style></head>"
        f"<body>{box}{''.join(parts)}</body></html>\n"
    )


def archive(
    run_dir: Path,
    header: dict,
    items: list[dict],
    known_secrets: tuple[str, ...] = (),
    after_html: Callable[[Path], None] | None = None,
) -> None:
    """Seal a run: sanitise its notebooks, render HTML (`after_html` then gets each HTML page: the monthly report prints
    its PDF from it, sealed with the rest), write results.json, scan every file for secrets, write the anchored
    manifest. A secret found refuses the archive: the notebook and HTML are removed, results.json says
    'refused' (without the items if they leak too), and EvidenceError names file, line and kind (never the value)."""
    import getpass
    import socket

    from .results import stamp

    customer = header["customer"]
    results = {
        **header,
        "finished_at": stamp(),
        "ran_by": getpass.getuser(),
        "machine": socket.gethostname(),
        "runbook_version": __version__,
        "items": items,
    }
    keys = (
        "customer",
        "run_id",
        "stage",
        "status",
        "started_at",
        "finished_at",
        "ran_by",
        "machine",
        "runbook_version",
        "parameters_sha256",
        "apply",
        "forced",
        "planned_by",  # four eyes (evidence/approval.py): who planned, who approved, who applied
        "approved_by",
        "applied_by",
    )
    facts = {k: v for k in ("kind", *keys) if (v := results.get(k, "")) is not None and (k != "kind" or v)}
    for nb in run_dir.glob("*.ipynb"):
        sanitise_notebook(nb)
        render_html(nb, nb.with_suffix(".html"), facts)
        if after_html is not None:
            after_html(nb.with_suffix(".html"))
    (run_dir / RESULTS).write_text(json.dumps(results, indent=2, default=str))
    # a PDF is printed from the HTML, which is scanned; its compressed bytes are not text to scan
    scanned = sorted(p for p in run_dir.iterdir() if p.is_file() and p.suffix != ".pdf")
    findings = scan_files(scanned, run_dir, known_secrets)
    error = ""
    if findings:
        for p in run_dir.iterdir():
            if p.suffix in (".ipynb", ".html", ".pdf"):
                p.unlink()  # the leaking files must not stay in the archive
        error = "secret scan: " + "; ".join(str(f) for f in findings)
        results.update(status="refused", error=error)
        (run_dir / RESULTS).write_text(json.dumps(results, indent=2, default=str))
        if scan_files([run_dir / RESULTS], run_dir, known_secrets):
            (run_dir / RESULTS).write_text(
                json.dumps({k: v for k, v in results.items() if k != "items"} | {"items": []}, indent=2)
            )
    write_manifest(customer, run_dir, {"stage": header.get("stage"), "status": results["status"]})
    if error:
        raise EvidenceError(
            f"refused to archive run {header['run_id']}: {error}. Remove the secret from the notebook outputs (print references, never values) and run again."
        )


def previous_manifest(customer: str, run_dir: Path) -> dict | None:
    """The link to the latest earlier run's manifest (run id and hash), or None for the first run."""
    earlier = [p for p in runs(customer) if p.name < run_dir.name and (p / MANIFEST).exists()]
    if not earlier:
        return None
    prev = earlier[-1]
    return {"run_id": prev.name, "sha256": sha256(prev / MANIFEST)}


def write_manifest(customer: str, run_dir: Path, meta: dict) -> Path:
    """manifest.json: SHA-256 of every file in the run plus the previous run's manifest hash."""
    files = {p.name: sha256(p) for p in sorted(run_dir.iterdir()) if p.is_file() and p.name != MANIFEST}
    manifest = {
        "customer": customer,
        "run_id": run_dir.name,
        **meta,
        "files": files,
        "previous_manifest": previous_manifest(customer, run_dir),
        "runbook_version": __version__,
    }
    path = run_dir / MANIFEST
    path.write_text(json.dumps(manifest, indent=2))
    anchor.record(root(), customer, run_dir.name, sha256(path))  # the new head, kept outside the evidence folder
    return path


def read_manifest(path: Path) -> dict:
    """A run's manifest, or EvidenceError naming the file when it is not a manifest."""
    try:
        manifest = json.loads(path.read_text())
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
            raise ValueError("no 'files' table")
        return manifest
    except (OSError, ValueError) as exc:
        raise EvidenceError(f"{path.parent.name}/{path.name} is not a readable manifest ({exc})") from None


def verify(customer: str) -> list[str]:
    """Problems in a customer's evidence: edited, missing or extra files, and breaks in the hash chain."""
    problems: list[str] = []
    previous: Path | None = None
    all_runs = runs(customer)
    if not all_runs:
        return [f"no evidence for customer '{customer}' (looked in evidence/{customer})"]
    for run_dir in all_runs:
        mpath = run_dir / MANIFEST
        if not mpath.exists():
            problems.append(f"{run_dir.name}: manifest.json is missing")
            previous = None
            continue
        try:
            manifest = read_manifest(mpath)
        except EvidenceError as exc:
            problems.append(str(exc))
            previous = run_dir
            continue
        for name, digest in manifest["files"].items():
            f = run_dir / name
            if not f.exists():
                problems.append(f"{run_dir.name}: {name} is missing")
            elif sha256(f) != digest:
                problems.append(f"{run_dir.name}: {name} was changed after archiving (SHA-256 differs)")
        for f in run_dir.iterdir():
            if f.name != MANIFEST and f.name not in manifest["files"]:
                problems.append(f"{run_dir.name}: {f.name} is not in the manifest")
        link = manifest.get("previous_manifest")
        if previous is None and link is not None and not (run_dir.parent / link["run_id"]).exists():
            problems.append(f"{run_dir.name}: the previous run {link['run_id']} is missing")
        elif previous is not None:
            if link is None:
                problems.append(f"{run_dir.name}: the chain is broken (no link to {previous.name})")
            elif link["run_id"] != previous.name:
                problems.append(
                    f"{run_dir.name}: links to {link['run_id']} but the previous run is {previous.name} (a run is missing)"
                )
            elif (previous / MANIFEST).exists() and sha256(previous / MANIFEST) != link["sha256"]:
                problems.append(f"{previous.name}: manifest.json was changed after the next run archived it")
        previous = run_dir
    sealed = {r.name: sha256(r / MANIFEST) for r in all_runs if (r / MANIFEST).exists()}
    problems += anchor.check(root(), customer, sealed)
    return problems
