"""Status of a customer's onboarding from the evidence: a table and the re-rendered seed checklist."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import PROJECT_ROOT, catalogue, evidence
from .params import Parameters
from .results import ItemResult


@dataclass
class Latest:
    """The newest recorded result of an item and the run that recorded it."""

    result: ItemResult
    run_id: str
    run_dir: Path
    how: str = "batch"  # batch | interactive | in progress: a run not sealed yet, read from its journal


def latest(customer: str) -> dict[str, Latest]:
    """Newest result per item across the customer's runs: sealed ones from results.json, and a run still open (an
    engineer's JupyterLab session, or a run whose process died) from its journal."""
    from . import journal

    out: dict[str, Latest] = {}
    for run_dir in evidence.runs(customer):
        path = run_dir / evidence.RESULTS
        if path.exists():
            data = json.loads(path.read_text())
            how = "interactive" if data.get("interactive") else "batch"
            for rec in data.get("items", []):
                out[rec["item_id"]] = Latest(ItemResult.from_dict(rec), run_dir.name, run_dir, how)
            continue
        entries, _ = journal.read(run_dir / journal.JOURNAL)
        for e in entries:
            if e.get("kind") == "item":
                r = ItemResult.from_dict(e["result"])
                out[r.item_id] = Latest(r, run_dir.name, run_dir, "in progress")
    return out


def link(run_dir: Path) -> str:
    try:
        return str(run_dir.relative_to(PROJECT_ROOT))
    except ValueError:
        return f"{run_dir.parent.name}/{run_dir.name}"


def table(customer: str) -> pd.DataFrame:
    """Every checklist item with its stage, role, status, when, and evidence folder."""
    rec = latest(customer)
    rows = []
    for item in catalogue.load().items:
        r = rec.get(item.id)
        rows.append(
            {
                "stage": item.stage,
                "item": item.id,
                "role": item.role,
                "status": r.result.status if r else "not-verified",
                "when": r.result.finished_at if r else "",
                "evidence": link(r.run_dir) if r else "",
                "run": r.how if r else "",
                "title": item.title,
            }
        )
    return pd.DataFrame(rows)


def checklist(params: Parameters) -> str:
    """The seed checklist in markdown with header fields filled and [x] on fulfilled items."""
    rec = latest(params.customer)
    lines = [
        "### Description",
        "",
        f"- TenantID: `{params.tenant_id}`",
        f"- Tenant Name: `{params.tenant_name}`",
        f"- Subscription ID's: `{', '.join(params.subscription_ids)}`",
        f"- Managed Services: CSP, Premium or Full Stack: `{params.tier}`",
        f"- Name of the person who did the work: `{params.engineer}`",
        f"- SLA Project number: `{params.sla_project_number}`",
        "",
        "---",
    ]
    for st in catalogue.load().stages:
        lines.append(f"### Stage {st.number}")
        for item in catalogue.load().for_stage(st.number):
            r = rec.get(item.id)
            state = r.result.status if r else "not-verified"
            mark = "x" if state in catalogue.DONE_STATUSES else " "
            note = ""
            if state == "not-required" and r is not None:
                note = f" _(not required: {r.result.attestation.get('reason') if r.result.attestation else r.result.summary})_"
            elif state in ("open", "failed"):
                note = f" _({state})_"
            lines.append(f"   - [{mark}] {item.text.rstrip()}{note}")
        lines.append("")
    lines += ["---", *FOOTNOTES]
    return "\n".join(lines) + "\n"


FOOTNOTES = [
    "[^2]: [TOPdesk](https://intercept.topdesk.net)",
    "[^4]: [Manageable Resource Sheet](https://github.com/InterceptBV/ms-generic-scripts/blob/main/Script-GenerateManagebleResourcesList/GenerateResourceListExcel.ps1)",
    "[^5]: [Intercept | Portal](https://management.intercept.cloud/)",
    "[^7]: [Intercept | PasswordState](https://pws.intercept.nl)",
]
