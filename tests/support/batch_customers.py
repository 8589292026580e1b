"""A parameters folder of N small sandbox customers for batch tests and the portfolio benchmark.

Each customer is the smallest file Stage 0 completes with on the demo sandbox: the demo tenant, one subscription
(where the runbook's principal is Owner by RBAC), CSP, the signed SLA attested. `bad` adds a customer whose file is
invalid (an unknown tier, a missing field), for the exit-2 case.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import DEMO_SUBS, copy_msp_settings

TENANT = "6f1c2a9e-4b7d-4e38-9a51-2c8d0e7b3f10"  # the demo sandbox's tenant (lib/runbook/data/sandbox-demo.yml)

SMALL = """customer: {name}
tenant_id: {tenant}
tenant_name: Contoso Demo BV
subscription_ids:
  - {sub}
tier: CSP
engineer: Eva Engineer
csm: Chris CSM
sla_project_number: SLA-2026-{number:04d}
target: sandbox
attestations:
  s0-signed-sla: {{by: Chris CSM, at: 2026-11-16, reference: "SharePoint SLA folder: {name}/SLA-2026-{number:04d}-signed.pdf"}}
"""

BAD = """customer: {name}
tenant_id: {tenant}
tenant_name: Broken BV
subscription_ids: [{sub}]
tier: Gold
engineer: Eva Engineer
sla_project_number: SLA-2026-9999
target: sandbox
"""


def names(n: int) -> list[str]:
    """The customers `write` makes: c001, c002, ..."""
    return [f"c{i:03d}" for i in range(1, n + 1)]


def write(folder: Path, n: int, bad: str | None = None, sandbox_dir: Path | None = None) -> list[str]:
    """msp.yml and N small customer files (plus the invalid `bad` one) in `folder`; the good customers' names."""
    folder.mkdir(parents=True, exist_ok=True)
    copy_msp_settings(folder, sandbox_dir)
    made = names(n)
    for i, name in enumerate(made, start=1):
        (folder / f"{name}.yml").write_text(SMALL.format(name=name, tenant=TENANT, sub=DEMO_SUBS[0], number=1000 + i))
    if bad:
        (folder / f"{bad}.yml").write_text(BAD.format(name=bad, tenant=TENANT, sub=DEMO_SUBS[0]))
    return made
