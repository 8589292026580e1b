"""Status of a customer's onboarding from the evidence: a table and the re-rendered seed checklist."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .. import PROJECT_ROOT
from ..customer import catalogue
from ..customer.params import Parameters
from .store import EvidenceStore, Latest

if TYPE_CHECKING:
    import pandas as pd  # loads in `table`, not for `link` (every run's closing line)


def latest(customer: str) -> dict[str, Latest]:
    """Newest result per item across the customer's runs (`EvidenceStore.latest`)."""
    return EvidenceStore(customer).latest()


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
    import pandas as pd

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
