"""Write the five stage notebooks, the drift notebook, the offboarding notebook and the monthly report notebook (`REPORT_NOTEBOOK`, its
sections from `REPORT_SECTIONS`) from the catalogue, so their narrative cannot drift from it.

Every stage notebook has the same shape: a title cell, the papermill ``parameters`` cell, the session
bootstrap, then per checklist item a markdown cell (heading, role and kind, how to check it by hand, what
the automation does) and one ``session.run("<item id>")`` cell, and finally the stage summary. Cell ids
are derived from the item ids, cells carry no outputs, so regenerating an unchanged catalogue rewrites
the committed notebooks byte for byte.

Usage: ``python -m runbook.authoring.notebooks`` rewrites ``notebooks/``; ``--check`` only compares and exits 1
listing the notebooks that differ from what the catalogue generates.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import PROJECT_ROOT
from ..customer import catalogue

if TYPE_CHECKING:  # nbformat loads when a notebook is built, not when a session finds its stage notebook
    from nbformat.notebooknode import NotebookNode

NOTEBOOKS = PROJECT_ROOT / "notebooks"

#: Notebook-level metadata of every stage notebook: the kernel papermill and nbval start.
METADATA: dict = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}

#: The papermill parameters cell of each stage (papermill injects the run's values after it).
PARAMETERS_SOURCE = (
    'customer = "demo"  # parameters/<customer>.yml to load; "demo" runs on the sandbox tenant\n'
    "apply = False  # dry run by default; True lets configuring steps change the tenant\n"
    'run_id = ""  # set by the runner; empty when stepping through by hand\n'
    "forced = False  # True goes past an incomplete earlier stage (the evidence says it was forced)"
)
PARAMETERS: dict[int, str] = {stage: PARAMETERS_SOURCE for stage in range(5)}

SESSION_MARKDOWN = "## Session\nLoads and validates the customer's parameters and shows what this run will do."

APPLY_MARKDOWN = (
    "**Apply the reviewed plan.** Carries out exactly the changes shown above, only when `apply` is `True` "
    "(read now): the tenant is inspected again first, and if the plan it gives differs from the one shown, nothing is "
    "applied and the differences are named. Under the runner (`--apply`) the item above has already applied and "
    "verified, and this cell only says so."
)

SUMMARY_MARKDOWN = (
    "## Stage summary\n"
    "The status of every item in this stage. Under the runner (`runbook run`), the runner archives the executed\n"
    "notebook and these results. Stepping through by hand, this cell seals the session's evidence (the cells executed,\n"
    "their HTML, results.json and the manifest, marked interactive) so `runbook status` and `runbook checklist` count\n"
    "it; what was applied is already in the run's journal the moment Azure accepted it."
)
SUMMARY_CODE = "session.finish()"


@dataclass(frozen=True)
class Cell:
    """One cell to write: its stable id, type and source."""

    id: str
    cell_type: str  # "markdown" or "code"
    source: str
    tags: tuple[str, ...] = ()


#: Cells that are not checklist items, placed before the item they prepare (by item id).
EXTRA_BEFORE: dict[str, tuple[Cell, ...]] = {
    "s1-tag-managed-resources": (
        Cell(
            "resource-sheet-md",
            "markdown",
            (
                "## Manageable Resource Sheet\n"
                "An Excel workbook of every resource in the customer's subscriptions (subscription, resource group, "
                "name, type, location, SKU, current tags, and a **Managed** Yes/No column with a drop-down, autofilter "
                "and frozen header). The first run generates it as `parameters/<customer>.resources.xlsx`; the customer "
                "and the engineer mark it; every run reads it back and checks it (unknown resource IDs and bad values "
                "are named by row). It is the source of which resources are managed."
            ),
        ),
        Cell("resource-sheet", "code", "session.resource_sheet()"),
    ),
    "s3-backup-discussed": (
        Cell(
            "agreed-schedule-md",
            "markdown",
            (
                "## The agreed schedule\n"
                "What the customer and the Engineer agreed for backup (time, time zone, retention, RPO and RTO, vault "
                "redundancy) and patching (windows, time zones, which VMs by tag, reboot, classifications), as "
                "`backup` and `patching` in `parameters/<customer>.yml` hold it: in words and as a table. The "
                "discussion items below attest the agreement; the deploying items apply exactly this."
            ),
        ),
        Cell("agreed-schedule", "code", "session.schedule()"),
    ),
}


def title_markdown(stage: catalogue.Stage, count: int) -> str:
    """The notebook's first cell: what the stage is and how to run it."""
    n = stage.number
    return (
        f"# Stage {n}: {stage.title}\n"
        "\n"
        f"Onboarding runbook, stage {n} of the managed-services checklist ({count} items). Each item below is "
        "narrated, then run by one library call whose result is shown and recorded.\n"
        "\n"
        "* **Interactive:** run the cells top to bottom in JupyterLab; the defaults use the demo customer on "
        "the sandbox tenant.\n"
        f"* **Batch:** `runbook run <customer> --stage {n} [--apply]` executes this notebook with papermill and "
        "archives the evidence.\n"
        "* **Dry run** is the default: nothing in the tenant changes unless `apply` is `True`."
    )


def session_code(stage: int) -> str:
    """The bootstrap cell: opens the stage session for the parameterised customer."""
    return (
        "from runbook import notebook\n"
        "\n"
        f"session = notebook.start(customer, stage={stage}, apply=apply, run_id=run_id, forced=forced)\n"
        "session"
    )


def item_markdown(item: catalogue.Item) -> str:
    """An item's narrative: heading, role and kind, how to check it by hand, and what the runbook does."""
    parts = [
        f"## {item.heading}\n*{item.role} · {item.kind} · `{item.id}`*",
        f"**Check by hand:** {item.how_to_check.strip()}",
    ]
    record = f"`attestations.{item.id}` (by, at, reference)"
    if item.automation:
        parts.append(f"**Automation:** {item.automation.strip()}")
    elif item.kind in ("automated", "both"):
        parts.append(
            f"**Automation:** not built yet. Until it is, the {item.role} checks by hand and records "
            f"{record} in `parameters/<customer>.yml`."
        )
    else:
        parts.append(f"**Record:** the {item.role} adds {record} to `parameters/<customer>.yml`.")
    return "\n\n".join(parts)


def stage_cells(stage: catalogue.Stage, items: Sequence[catalogue.Item]) -> list[Cell]:
    """Every cell of one stage notebook, in order."""
    cells = [
        Cell("title", "markdown", title_markdown(stage, len(items))),
        Cell("parameters", "code", PARAMETERS[stage.number], ("parameters",)),
        Cell("session-md", "markdown", SESSION_MARKDOWN),
        Cell("session", "code", session_code(stage.number)),
    ]
    for item in items:
        cells += EXTRA_BEFORE.get(item.id, ())
        cells.append(Cell(f"{item.id}-md", "markdown", item_markdown(item)))
        cells.append(Cell(item.id, "code", f'session.run("{item.id}")'))
        if item.configures:
            cells.append(Cell(f"{item.id}-apply-md", "markdown", APPLY_MARKDOWN))
            cells.append(Cell(f"{item.id}-apply", "code", f'session.apply_reviewed("{item.id}")'))
    cells += [Cell("summary-md", "markdown", SUMMARY_MARKDOWN), Cell("summary", "code", SUMMARY_CODE)]
    return cells


#: The monthly PARC report (issue 26): `runbook report <customer> --month YYYY-MM` runs it.
REPORT_NOTEBOOK = "monthly-report.ipynb"
REPORT_PARAMETERS = (
    'customer = "demo"  # parameters/<customer>.yml to load; "demo" reports on the sandbox tenant\n'
    'month = ""  # YYYY-MM, or empty for last month\n'
    'run_id = ""  # set by `runbook report`; empty when stepping through by hand (nothing archived)'
)
#: Per section of the report (runbook.operate.report reads them): its title, and what the reader sees in it, read
#: from where.
REPORT_SECTIONS: dict[str, tuple[str, str]] = {
    "cost": (
        "Cost per subscription",
        "The month's actual cost of each subscription (Cost Management query, ActualCost, monthly) beside the budget "
        "agreed in the parameters and the two months before, and the current month's forecast to its end. A "
        "subscription whose offer Cost Management does not serve says so in its row.",
    ),
    "advisor": (
        "Azure Advisor recommendations",
        "Azure Advisor's open recommendations by category and impact; new ones and those resolved since the previous "
        "report.",
    ),
    "defender": (
        "Defender for Cloud: plans and secure score",
        "The Defender for Cloud plans at Standard per subscription and the secure score; Azure keeps no score history, "
        "so the trend is the previous report's score.",
    ),
    "policy": (
        "Azure Policy: compliance of the MSP baseline",
        "Resources compliant, non-compliant and exempt under the MSP's baseline assignment per subscription (Policy "
        "Insights, the latest evaluation), beside the previous report's count.",
    ),
    "backup": (
        "Backup: protected items and jobs",
        "Per Recovery Services vault: its protected items, each one's last backup job in the month, the jobs and the "
        "failed jobs of the month.",
    ),
    "patching": (
        "Patching: missing updates",
        "Per virtual machine, the updates it is missing by classification (an assessment made now).",
    ),
    "changes": (
        "What the MSP changed this month",
        "What the MSP changed in the month: every change the runbook applied in the customer's evidence runs of the "
        "month; the drift runs of the month, the drift they found and the deviations accepted.",
    ),
}


def report_cells() -> list[Cell]:
    """Every cell of the monthly report notebook: title, parameters, the report opened, one markdown + one call per
    section, the summary."""
    cells = [
        Cell(
            "title",
            "markdown",
            (
                "# Monthly PARC report\n"
                "\n"
                "What the customer's Azure tenant looked like in one month: cost, Advisor, Defender for Cloud, Azure "
                "Policy, backup, patching, and what the MSP changed. Each section is a table and a plot.\n"
                "\n"
                "* **Batch:** `runbook report <customer> --month YYYY-MM` executes this notebook with papermill into "
                "a new evidence run (notebook, HTML, results, manifest in the hash chain).\n"
                "* **Interactive:** run the cells top to bottom; the defaults report last month of the demo customer "
                "on the sandbox tenant (nothing is archived)."
            ),
        ),
        Cell("parameters", "code", REPORT_PARAMETERS, ("parameters",)),
        Cell("report-md", "markdown", "## The report\nWhose tenant, which month, which subscriptions."),
        Cell(
            "report",
            "code",
            "from runbook.operate import report\n\nr = report.open_report(customer, month, run_id)\nr.intro()",
        ),
    ]
    for key, (title, what) in REPORT_SECTIONS.items():
        cells.append(Cell(f"{key}-md", "markdown", f"## {title}\n{what}"))
        cells.append(Cell(key, "code", f'r.section("{key}").show()'))
    cells += [
        Cell(
            "summary-md",
            "markdown",
            "## Summary\nOne line per section. Under `runbook report`, the tables are kept as report.json in the run's "
            "evidence: next month's report reads its trend from them.",
        ),
        Cell("summary", "code", "r.finish()"),
    ]
    return cells


def build(stage: catalogue.Stage, items: Sequence[catalogue.Item]) -> NotebookNode:
    """The notebook of one stage, without outputs."""
    return build_cells(stage_cells(stage, items))


DRIFT_NOTEBOOK = "drift.ipynb"

#: The drift notebook's papermill parameters cell (`runbook drift` injects the run's values after it).
DRIFT_PARAMETERS = (
    'customer = "demo"  # parameters/<customer>.yml to load; "demo" runs on the sandbox tenant\n'
    "apply = False  # dry run by default; True re-applies what drifted (only under `runbook drift --apply`)\n"
    'run_id = ""  # set by the runner; empty when stepping through by hand (nothing is recorded then)'
)


def drift_cells() -> list[Cell]:
    """Every cell of the drift notebook, in order: one library call each, showing a table."""
    return [
        Cell(
            "title",
            "markdown",
            "# Drift: the month after onboarding\n"
            "\n"
            "Every automated item of every completed stage is inspected again and compared with the last verified "
            "state in the evidence (the item's newest fulfilled result and its run). Per item: **unchanged**, "
            "**drifted** (what the plan would change, where, since when), **new in scope** (changes on targets the "
            "verified state did not cover: a new resource, a new subscription) or **accepted** (a deviation an "
            "engineer accepted as customer-specific, until its date).\n"
            "\n"
            "* **Batch:** `runbook drift <customer> [--apply]` (or `--all`) executes this notebook with papermill and "
            "seals the run in the customer's evidence chain.\n"
            "* **Dry run** is the default: nothing in the tenant changes unless `apply` is `True`.\n"
            '* **Decisions:** `runbook drift <customer> --accept <finding> --reason "..." [--until YYYY-MM-DD]` '
            "(or `drift.accept(customer, finding, reason, until)` in a cell) records an acceptance as its own sealed run.",
        ),
        Cell("parameters", "code", DRIFT_PARAMETERS, ("parameters",)),
        Cell(
            "session-md",
            "markdown",
            "## Session\nLoads the customer's parameters and the evidence: the stages complete, the items in scope, "
            "the decisions on record.",
        ),
        Cell(
            "session",
            "code",
            "from runbook.operate import drift\n\nsession = drift.start(customer, apply=apply, run_id=run_id)\nsession",
        ),
        Cell(
            "inspect-md",
            "markdown",
            "## Inspect again\nEach item's step inspects the tenant and plans, as in its stage, in a dry run. The plan "
            "compares as the step does (what Azure normalises, such as casing, defaults and the order of lists, is not "
            "drift). Each finding has a stable id to accept it by.",
        ),
        Cell("inspect", "code", "session.inspect()"),
        Cell(
            "remediate-md",
            "markdown",
            "## Re-apply what drifted\nWith `apply`, each deviating item's plan shown above, less its accepted "
            "findings, is applied through the reviewed-plan path: the tenant is inspected again and a plan that changed "
            "meanwhile is refused, naming the differences; then it is verified. In a dry run this says what it would do.",
        ),
        Cell("remediate", "code", "session.remediate()"),
        Cell(
            "decisions-md",
            "markdown",
            "## Decisions\nThe acceptances on record (who, when, reason, until), each a sealed decision run; an "
            "expired one no longer hides its finding.",
        ),
        Cell("decisions", "code", "session.decisions()"),
        Cell(
            "summary-md",
            "markdown",
            "## Drift summary\nWhat this run leaves in the evidence: every item's state and finding (results.json).",
        ),
        Cell("summary", "code", "session.finish()"),
    ]


OFFBOARD_NOTEBOOK = "offboard.ipynb"

#: The offboarding notebook's papermill parameters cell (`runbook offboard` injects the run's values after it).
OFFBOARD_PARAMETERS = (
    'customer = "demo"  # parameters/<customer>.yml to load; "demo" runs on the sandbox tenant\n'
    "apply = False  # dry run by default; True removes the reviewed plan (only under `runbook offboard --apply`)\n"
    'run_id = ""  # set by the runner; empty when stepping through by hand (nothing is recorded then)\n'
    'only = ""  # set by `runbook tier`: the items the new tier does not include (empty: every item, an offboarding)'
)


def offboard_cells(cat: catalogue.Catalogue | None = None) -> list[Cell]:
    """Every cell of the offboarding notebook, in order: one library call each, showing a table. The undo of each
    item and the offboarding lines come from the catalogue."""
    cat = cat or catalogue.load()
    undone = "\n".join(
        f"* **{i.id}** ({i.undo.action.replace('_', ' ')}): {i.undo.reason}" for i in cat.items if i.undo is not None
    )
    lines = "\n".join(f"* **{i.id}** ({i.role}): {i.heading}" for i in cat.offboarding)
    return [
        Cell(
            "title",
            "markdown",
            "# Offboarding: the reverse runbook\n"
            "\n"
            "When a customer leaves, what the MSP configured in their tenant is removed or handed over deliberately, with "
            "evidence, and nothing of the customer's own is touched. An artefact is the MSP's only when the evidence "
            "records it (the ids Azure returned to the runbook), or it carries the MSP tag, or it is the MSP's app "
            "registration or Lighthouse offer by name and record. A resource under a lock is reported, not unlocked.\n"
            "\n"
            "* **Batch:** `runbook offboard <customer> [--apply]` executes this notebook with papermill and seals the run "
            "in the customer's evidence chain.\n"
            "* **Dry run** is the default: nothing in the tenant changes unless `apply` is `True`.\n"
            "* **Afterwards** `runbook drift` reports the customer as offboarded.\n"
            "\n"
            "How each automated item is undone (the catalogue's `undo:`):\n"
            "\n" + undone,
        ),
        Cell("parameters", "code", OFFBOARD_PARAMETERS, ("parameters",)),
        Cell(
            "session-md",
            "markdown",
            "## Session\nLoads the customer's parameters and the evidence: every change the runs recorded.",
        ),
        Cell(
            "session",
            "code",
            "from runbook.operate import offboard\n\nsession = offboard.start(customer, apply=apply, run_id=run_id, only=only)\nsession",
        ),
        Cell(
            "plan-md",
            "markdown",
            "## The plan\nPer item, in the reverse of the onboarding (the Lighthouse delegation last), every artefact "
            "with its decision: **remove**, **kept** or **hand over** (with the reason), **needs the customer** (and who "
            "can do it), **locked**, **gone**, or **not the MSP's** (a look-alike without a record).",
        ),
        Cell("plan", "code", "session.plan()"),
        Cell(
            "remove-md",
            "markdown",
            "## Remove\nWith `apply`, each item's reviewed plan above is removed through the reviewed-plan path (the "
            "tenant is inspected again; a plan that changed meanwhile is refused, naming the differences), each deletion "
            "journaled the moment Azure accepts it, then verified. The app's client secret is deleted from its store "
            "after the app. In a dry run this says what it would do.",
        ),
        Cell("remove", "code", "session.remove()"),
        Cell(
            "checklist-md",
            "markdown",
            "## The CSM's and the Engineer's lines\nAttested in the parameters (`attestations.<id>`):\n\n" + lines,
        ),
        Cell("checklist", "code", "session.checklist()"),
        Cell(
            "summary-md",
            "markdown",
            "## Offboarding summary\nWhat this run leaves in the evidence: removed, refused (why), kept (why), needs "
            "the customer (results.json).",
        ),
        Cell("summary", "code", "session.finish()"),
    ]


def build_cells(cells: Sequence[Cell]) -> NotebookNode:
    """A notebook of these cells, without outputs."""
    import nbformat

    nb = nbformat.v4.new_notebook(metadata=METADATA)
    nb.nbformat, nb.nbformat_minor = 4, 5
    for c in cells:
        if c.cell_type == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(c.source, id=c.id))
        else:
            meta = {"tags": list(c.tags)} if c.tags else {}
            nb.cells.append(nbformat.v4.new_code_cell(c.source, id=c.id, metadata=meta))
    nbformat.validate(nb)
    return nb


def render(nb: NotebookNode) -> str:
    """A notebook's file text, as Jupyter writes it (one-space indent, sorted keys, final newline)."""
    import nbformat

    return nbformat.writes(nb) + "\n"


def expected(cat: catalogue.Catalogue | None = None) -> dict[str, str]:
    """File text of every stage notebook, the drift notebook and the monthly report by file name, generated from the
    catalogue."""
    cat = cat or catalogue.load()
    out = {st.notebook: render(build(st, cat.for_stage(st.number))) for st in cat.stages}
    out[DRIFT_NOTEBOOK] = render(build_cells(drift_cells()))
    out[REPORT_NOTEBOOK] = render(build_cells(report_cells()))
    out[OFFBOARD_NOTEBOOK] = render(build_cells(offboard_cells(cat)))
    return out


def check(directory: Path = NOTEBOOKS) -> list[Path]:
    """The notebooks in `directory` that are missing or differ from what the catalogue generates."""
    return [
        directory / name
        for name, text in expected().items()
        if not (directory / name).exists() or (directory / name).read_text(encoding="utf-8") != text
    ]


def write(directory: Path = NOTEBOOKS) -> list[Path]:
    """Write every stage notebook into `directory`; returns those that changed."""
    changed = check(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in expected().items():
        if directory / name in changed:
            (directory / name).write_text(text, encoding="utf-8")
    return changed


def stage_notebook(name: str) -> Path:
    """The stage notebook: the project's notebooks/ (a checkout), else generated from the packaged catalogue into
    .cache/notebooks (an installed wheel carries the catalogue, not the notebooks)."""
    if (NOTEBOOKS / name).exists():
        return NOTEBOOKS / name
    cache = PROJECT_ROOT / ".cache" / "notebooks"
    write(cache)
    return cache / name


def drift_notebook() -> Path:
    """The drift notebook (notebooks/drift.ipynb, or generated into .cache/notebooks as `stage_notebook` does)."""
    return stage_notebook(DRIFT_NOTEBOOK)


def offboard_notebook() -> Path:
    """The offboarding notebook (notebooks/offboard.ipynb, or generated into .cache/notebooks as `stage_notebook`
    does)."""
    return stage_notebook(OFFBOARD_NOTEBOOK)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: rewrite the notebooks, or with --check report those out of sync (exit 1)."""
    parser = argparse.ArgumentParser(prog="python -m runbook.authoring.notebooks", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 listing the notebooks that differ")
    parser.add_argument("--dir", type=Path, default=NOTEBOOKS, help="notebook directory (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.check:
        stale = check(args.dir)
        for path in stale:
            print(f"out of date: {path} (regenerate with: python -m runbook.authoring.notebooks)")
        return 1 if stale else 0
    for path in write(args.dir):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
