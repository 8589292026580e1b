"""The Manageable Resource Sheet: an Excel inventory the customer and MSP mark, read back as the managed set."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import PROJECT_ROOT
from ..adapters.inventory import Resource
from ..errors import SheetError

SHEET = "Resources"
COLUMNS = (
    "Subscription",
    "Subscription ID",
    "Resource group",
    "Name",
    "Type",
    "Location",
    "SKU",
    "Tags",
    "Resource ID",
    "Managed",
)
MANAGED_VALUES = ("Yes", "No")


@dataclass(frozen=True)
class Marking:
    """The sheet read back: which resource IDs are marked managed, and which are marked not."""

    managed: frozenset[str]  # lower-cased resource IDs
    unmanaged: frozenset[str]
    unmarked: frozenset[str]
    path: Path
    not_in_sheet: frozenset[str] = frozenset()  # resources created after the sheet was generated


def sheet_path(customer: str, configured: str | None = None) -> Path:
    """Where a customer's sheet lives: the parameter's path, or parameters/<customer>.resources.xlsx."""
    from .params import parameters_dir

    if configured:
        p = Path(configured)
        return p if p.is_absolute() else PROJECT_ROOT / p
    return parameters_dir() / f"{customer}.resources.xlsx"


def _tags_text(tags: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in sorted(tags.items()))


def write(
    path: Path,
    resources: list[Resource],
    subscription_names: dict[str, str],
    prefill: str = "",
    managed_tag: tuple[str, str] | None = None,
) -> Path:
    """Write the workbook: one row per resource, a Yes/No drop-down, autofilter and a frozen header."""
    from openpyxl import Workbook  # loaded when a sheet is written or read, not with every step (issue 14)
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws.append(COLUMNS)
    for cell in ws[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="1F4E79")
    for r in sorted(
        resources, key=lambda r: (r.subscription_id, r.resource_group.lower(), r.type.lower(), r.name.lower())
    ):
        already = managed_tag is not None and r.tag_value(managed_tag[0]) == managed_tag[1]
        ws.append(
            [
                subscription_names.get(r.subscription_id, r.subscription_id),
                r.subscription_id,
                r.resource_group,
                r.name,
                r.type,
                r.location,
                r.sku or "",
                _tags_text(r.tags),
                r.id,
                "Yes" if already else prefill,
            ]
        )
    last = ws.max_row
    choice = DataValidation(
        type="list",
        formula1='"Yes,No"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Managed",
        error="Choose Yes or No",
    )
    ws.add_data_validation(choice)
    managed_col = get_column_letter(len(COLUMNS))
    choice.add(f"{managed_col}2:{managed_col}{max(last, 2)}")
    ws.auto_filter.ref = f"A1:{managed_col}{last}"
    ws.freeze_panes = "A2"
    for i, title in enumerate(COLUMNS, 1):
        width = max([len(title)] + [len(str(c.value or "")) for c in ws[get_column_letter(i)][1:200]])
        ws.column_dimensions[get_column_letter(i)].width = min(60, width + 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def read(path: Path, known_ids: set[str] | None, unreadable_scopes: tuple[str, ...] = ()) -> Marking:
    """Read a marked workbook, checking its header, each Managed value, and that every ID exists (IDs under a scope
    that could not be read this time, lower-cased prefixes in `unreadable_scopes`, are taken as they are)."""
    if not path.exists():
        raise SheetError(
            f"{path.name}: no such workbook. Fix: generate it with the Stage 1 notebook or `runbook sheet <customer>`."
        )
    try:
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for a damaged or non-Excel file
        raise SheetError(
            f"{path.name}: not a readable Excel workbook ({type(exc).__name__}). Fix: save it as .xlsx."
        ) from None
    if SHEET not in wb.sheetnames:
        raise SheetError(f"{path.name}: no sheet named '{SHEET}'. Fix: keep the generated sheet name.")
    rows = list(wb[SHEET].iter_rows(values_only=True))
    wb.close()
    if not rows or tuple(str(c or "").strip() for c in rows[0][: len(COLUMNS)]) != COLUMNS:
        raise SheetError(
            f"{path.name}: the header row must be {', '.join(COLUMNS)}. Fix: regenerate the sheet and mark it again."
        )
    id_col, managed_col = COLUMNS.index("Resource ID"), COLUMNS.index("Managed")
    problems: list[str] = []
    managed, unmanaged, unmarked, seen = set(), set(), set(), set()
    for n, row in enumerate(rows[1:], start=2):
        if not any(row):
            continue
        rid = str(row[id_col] or "").strip()
        value = str(row[managed_col] or "").strip()
        key = rid.lower()
        if not rid:
            problems.append(f"row {n}: Resource ID is empty")
            continue
        if known_ids is not None and key not in known_ids and not key.startswith(unreadable_scopes):
            problems.append(f"row {n}: resource {rid} does not exist in the customer's subscriptions")
        if key in seen:
            problems.append(f"row {n}: resource {rid} is listed twice")
        seen.add(key)
        normalised = {"yes": "Yes", "no": "No", "": ""}.get(value.lower())
        if normalised is None:
            problems.append(f"row {n}: Managed is '{value}'; use Yes or No")
        elif normalised == "Yes":
            managed.add(key)
        elif normalised == "No":
            unmanaged.add(key)
        else:
            unmarked.add(key)
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise SheetError(
            f"{path.name}: {len(problems)} problem(s):\n  "
            + "\n  ".join(shown)
            + "\nFix: correct those rows, or regenerate the sheet if resources changed."
        )
    return Marking(
        frozenset(managed), frozenset(unmanaged), frozenset(unmarked), path, frozenset((known_ids or set()) - seen)
    )
