"""The customer documentation as Word (python-docx) and as one self-contained HTML page, from the model
`documentation.build` gives; and `write`, which puts both, and the model as its record, into a run's evidence folder.

Deterministic: the same model and generation time give the same bytes (the Word file's zip entries carry a fixed
timestamp, its core properties the generation time); a document built at another time differs in that time only.
"""

from __future__ import annotations

import html
import io
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from ..adapters.secrets import known_secret_values, scan_text
from ..errors import StepInputError
from .documentation import DOCX, HTML, RECORD

ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the zip format's epoch: every entry, every time


def sections(model: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]], list[str]]]:
    """The document as (heading, paragraphs before the table, table rows with the header first, paragraphs after),
    the one structure both renderings follow."""
    c = model["customer"]
    out: list[tuple[str, list[str], list[list[str]], list[str]]] = []
    out.append(
        (
            "Customer",
            [],
            [
                ["field", "value"],
                ["Customer", f"{c['tenant_name']} ({c['customer']})"],
                ["Tenant", f"{c['tenant_name']}, tenant ID {c['tenant_id']}"],
                ["Managed services tier", c["tier"]],
                ["SLA project number", c["sla_project_number"]],
                ["Engineer", c["engineer"]],
                ["Customer success manager", c["csm"]],
                ["Managed by", f"{c['msp']} (tenant {c['managing_tenant']})"],
            ],
            [],
        )
    )
    out.append(
        (
            "Subscriptions",
            [
                f"{len(model['subscriptions'])} subscription(s) in scope, and how the MSP reaches each (Stage 0's check)."
            ],
            [["subscription", "MSP access"]] + [[s["subscription"], s["MSP access"]] for s in model["subscriptions"]],
            [],
        )
    )
    lh = model["lighthouse"]
    out.append(
        (
            "Lighthouse delegation",
            [
                f"Offer '{lh['offer']}' from the managing tenant {lh['managing_tenant']}, with these authorizations for "
                f"the {c['tier']} tier:"
            ],
            [["principal", "principal ID", "role", "may assign"]]
            + [[a["principal"], a["principal_id"], a["role"], a["may assign"] or "-"] for a in lh["authorizations"]],
            [
                "Per subscription (s3-lighthouse): "
                + "; ".join(
                    f"{s.get('subscription')}: {s.get('authorizations')} authorization(s), differences {s.get('differences')}"
                    for s in lh["subscriptions"]
                )
                + "."
                if lh["subscriptions"]
                else "Per subscription: not in the evidence yet (s3-lighthouse has not run)."
            ],
        )
    )
    for stage in model["stages"]:
        rows = [["item", "verdict", "what it did", "when", "run"]]
        notes = []
        for r in stage["items"]:
            did = "; ".join(x for x in (r["did"], f"attested by {r['attestation']}" if r["attestation"] else "") if x)
            rows.append(
                [f"{r['heading']} ({r['item']}, {r['role']}, {r['kind']})", r["verdict"], did, r["when"], r["run"]]
            )
            if r["changes"]:
                more = f" and {r['more_changes']} more (in the run's results.json)" if r["more_changes"] else ""
                notes.append(f"{r['item']}: " + "; ".join(r["changes"]) + more)
        out.append(
            (
                f"Stage {stage['number']}: {stage['title']}",
                [f"{len(stage['items'])} item(s); each verdict is the latest in the evidence."],
                rows,
                [f"Summary of {r['item']}: {r['summary']}" for r in stage["items"]] + notes,
            )
        )
    sch = model["schedules"]
    rows = [list(sch["rows"][0])] + [list(r.values()) for r in sch["rows"]] if sch["rows"] else []
    out.append(
        ("Schedules", [*sch["sentences"], sch["monitoring"], *([sch["budget"]] if sch["budget"] else [])], rows, [])
    )
    out.append(
        (
            "Contacts",
            ["The customer's contacts, by name and role."],
            [["name", "role"]] + [[x["name"], x["role"] or "-"] for x in model["contacts"]],
            [],
        )
    )
    creds = model["credentials"]
    out.append(
        (
            "Credentials",
            ["Where the credentials needed to maintain the environment are kept (names and stores; never a value)."],
            [["credential", "store"]] + [[x["credential"], x["store"]] for x in creds] if creds else [],
            [] if creds else ["Not in the evidence yet (s3-credentials-stored has not run)."],
        )
    )
    out.append(
        (
            "Evidence",
            [
                f"Built from {len(model['sources'])} run(s) of the customer's evidence; fingerprint {model['fingerprint']}. "
                "Links are relative to this run's folder."
            ],
            [["run", "how", "items", "manifest SHA-256", "records SHA-256", "link"]]
            + [
                [
                    s["run_id"],
                    s["how"],
                    str(len(s["items"])),
                    s["manifest_sha256"] or "(this run, sealed with this document)",
                    s["records_sha256"],
                    s["link"],
                ]
                for s in model["sources"]
            ],
            [],
        )
    )
    return out


def _heading_line(model: dict[str, Any], generated_at: str, run_id: str) -> str:
    return (
        f"Generated {generated_at} by the onboarding runbook {model['runbook_version']} in run {run_id}, from the "
        "evidence listed at the end (not from a fresh read of the tenant)."
    )


def render_docx(model: dict[str, Any], generated_at: str, run_id: str) -> bytes:
    """The Word document: a title, the generation line, then each section as a heading, paragraphs and a table."""
    import docx

    doc = docx.Document()
    props = doc.core_properties
    when = datetime.fromisoformat(generated_at.replace("Z", "+00:00")).replace(tzinfo=None)
    props.title, props.subject, props.author = model["title"], "managed services documentation", "onboarding runbook"
    props.comments, props.keywords, props.last_modified_by = (
        f"fingerprint {model['fingerprint']}",
        "",
        "onboarding runbook",
    )
    props.created, props.modified, props.revision = when, when, 1
    doc.add_heading(model["title"], 0)
    doc.add_paragraph(_heading_line(model, generated_at, run_id))
    for heading, before, rows, after in sections(model):
        doc.add_heading(heading, 1)
        for text in before:
            doc.add_paragraph(text)
        if rows:
            table = doc.add_table(rows=len(rows), cols=len(rows[0]))
            table.style = "Table Grid"
            for r, row in enumerate(rows):
                for col, value in enumerate(row):
                    cell = table.cell(r, col)
                    cell.text = str(value)
                    if r == 0:
                        for run in cell.paragraphs[0].runs:
                            run.bold = True
        for text in after:
            doc.add_paragraph(text)
    raw = io.BytesIO()
    doc.save(raw)
    return _fixed_zip(raw.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    """The same zip with every entry dated ZIP_TIME, in its order: no time of writing in the file."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, ZIP_TIME)
            fixed.compress_type, fixed.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


_STYLE = (
    "body{font-family:Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em;"
    "color:#1f2328;line-height:1.45}h1{border-bottom:2px solid #0969da;padding-bottom:.2em}"
    "h2{margin-top:1.6em;border-bottom:1px solid #d0d7de}table{border-collapse:collapse;margin:.6em 0;width:100%}"
    "th,td{border:1px solid #d0d7de;padding:3px 7px;vertical-align:top;text-align:left}th{background:#f6f8fa}"
    "p.meta{color:#57606a}td.fulfilled{color:#1a7f37}td.open,td.not-verified{color:#9a6700}td.failed{color:#cf222e}"
)


def render_html(model: dict[str, Any], generated_at: str, run_id: str) -> str:
    """The same document as one HTML page with its style inline (no script, no external file)."""
    e = html.escape
    parts = [f"<h1>{e(model['title'])}</h1>", f"<p class='meta'>{e(_heading_line(model, generated_at, run_id))}</p>"]
    for heading, before, rows, after in sections(model):
        parts.append(f"<h2>{e(heading)}</h2>")
        parts += [f"<p>{e(t)}</p>" for t in before]
        if rows:
            head = "".join(f"<th>{e(str(v))}</th>" for v in rows[0])
            body = ""
            for row in rows[1:]:
                cells = []
                for v in row:
                    text = str(v)
                    if heading == "Evidence" and text == row[-1] and text.startswith("../"):
                        cells.append(f"<td><a href='{e(text)}'>{e(text)}</a></td>")
                    elif text in ("fulfilled", "open", "failed", "not-verified", "not-required"):
                        cells.append(f"<td class='{text}'>{e(text)}</td>")
                    else:
                        cells.append(f"<td>{e(text)}</td>")
                body += "<tr>" + "".join(cells) + "</tr>"
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        parts += [f"<p>{e(t)}</p>" for t in after]
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{e(model['title'])}</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>\n"
    )


def plain_text(model: dict[str, Any], generated_at: str = "", run_id: str = "") -> str:
    """Everything the document says, as text: what the secret scan reads (the Word file is compressed)."""
    lines = [model["title"], _heading_line(model, generated_at, run_id)]
    for heading, before, rows, after in sections(model):
        lines += [heading, *before, *("\t".join(map(str, r)) for r in rows), *after]
    return "\n".join(lines)


def write(model: dict[str, Any], run_dir: Path, generated_at: str, known_secrets: tuple[str, ...] = ()) -> dict:
    """Write the Word file, the HTML page and the record (the model, the files' hashes, when) into a run's evidence
    folder; refused, naming file, line and kind (never the value), when the secret detector finds anything."""
    from .archive import sha256

    run_id = run_dir.name
    known = known_secret_values() + known_secrets
    findings = scan_text(plain_text(model, generated_at, run_id), "customer documentation", known)
    if findings:
        raise StepInputError(
            "the customer documentation was not written: the secret scan found "
            + "; ".join(str(f) for f in findings)
            + ". Fix: remove the secret from the evidence or parameters it comes from (references, never values)."
        )
    (run_dir / DOCX).write_bytes(render_docx(model, generated_at, run_id))
    (run_dir / HTML).write_text(render_html(model, generated_at, run_id))
    record = {
        **model,
        "generated_at": generated_at,
        "run_id": run_id,
        "files": {name: sha256(run_dir / name) for name in (DOCX, HTML)},
    }
    (run_dir / RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record
