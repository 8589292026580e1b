"""Evidence for tests that read it (the portfolio): runs sealed by the real archive (a small executed notebook, its
HTML, results.json, the manifest in the customer's chain, the anchored head), without a sandbox or papermill, and
parameter files for several customers cut from demo.yml."""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timezone
from pathlib import Path

from runbook import PROJECT_ROOT
from runbook.customer import catalogue
from runbook.evidence import archive
from runbook.evidence.results import ItemResult


def customer_file(folder: Path, customer: str, tier: str = "Full Stack", tenant_name: str | None = None) -> Path:
    """parameters/<customer>.yml: demo.yml with the customer's name, tier and tenant name."""
    text = (PROJECT_ROOT / "parameters" / "demo.yml").read_text()
    text = text.replace("customer: demo\n", f"customer: {customer}\n", 1).replace("tier: Full Stack", f"tier: {tier}")
    if tenant_name is not None:
        text = text.replace("tenant_name: Contoso Demo BV", f"tenant_name: {json.dumps(tenant_name)}", 1)
    path = folder / f"{customer}.yml"
    path.write_text(text)
    return path


def result(item: catalogue.Item, status: str, finished_at: str = "2026-11-20T10:00:00Z") -> dict:
    return ItemResult(
        item.id,
        item.stage,
        item.role,
        item.kind,
        item.title,
        status,
        summary=f"{status} in a test",
        finished_at=finished_at,
    ).to_dict()


def stage_items(stage: int, tier: str, status: str = "fulfilled", **overrides: str) -> list[dict]:
    """A result per item of a stage: `status` for the tier's items (`overrides` by id), not-required for the others."""
    return [
        result(i, overrides.get(i.id, status if i.applies_to(tier) else "not-required"))
        for i in catalogue.load().for_stage(stage)
    ]


def _notebook(path: Path, title: str) -> None:
    path.write_text(
        json.dumps(
            {
                "nbformat": 4,
                "nbformat_minor": 5,
                "metadata": {},
                "cells": [
                    {"cell_type": "markdown", "id": "title", "metadata": {}, "source": f"# {title}"},
                    {
                        "cell_type": "code",
                        "id": "out",
                        "metadata": {},
                        "execution_count": 1,
                        "source": "print('done')",
                        "outputs": [{"output_type": "stream", "name": "stdout", "text": f"{title}: done\n"}],
                    },
                ],
            }
        )
    )


def seal(
    customer: str,
    kind: str = "stage",
    stage: int | None = 0,
    items: list[dict] | None = None,
    status: str = "complete",
    notebook: str | None = "00-prerequisites.ipynb",
    **header: object,
) -> Path:
    """A run sealed as the runbook seals one (archive.archive: HTML, results.json, manifest, anchor). A kind the
    archive does not open itself (offboard) gets a folder named as `archive.new_run` names them."""
    if kind in archive.RUN_KINDS:
        _, run_dir = archive.new_run(customer, stage or 0, kind)
    else:
        now = datetime.now(timezone.utc)
        run_dir = (
            archive.customer_dir(customer) / f"{now:%Y%m%dT%H%M%S}.{now.microsecond:06d}Z-{kind}-{secrets.token_hex(2)}"
        )
        run_dir.mkdir(parents=True)
    if notebook:
        _notebook(run_dir / notebook, f"{kind} {stage} of {customer}")
    head = {"customer": customer, "run_id": run_dir.name, "stage": stage if kind == "stage" else None}
    head |= {"kind": kind if kind != "stage" else "", "status": status, "forced": False, **header}
    archive.archive(run_dir, head, items or [])
    return run_dir


def onboard(customer: str, tier: str = "Full Stack") -> list[Path]:
    """Every stage sealed complete, every item of the tier fulfilled."""
    return [
        seal(customer, stage=s.number, items=stage_items(s.number, tier), notebook=f"{s.number:02d}-stage.ipynb")
        for s in catalogue.load().stages
    ]
