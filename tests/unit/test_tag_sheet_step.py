"""s3-tag-sheet-resources: the sheet as the customer returned it, through Stage 1's tagging; a resource marked No
that still carries the tag is reported, and untagged only when the parameters say so."""

from openpyxl import load_workbook

from runbook.customer import params as P
from runbook.customer import sheet
from runbook.steps.base import Context, execute
from runbook.steps.tagging import TagManagedResources, TagSheetResources, prepare_sheet
from tests.conftest import DEMO_SUBS

VM = f"/subscriptions/{DEMO_SUBS[0]}/resourceGroups/rg-prod-vms/providers/Microsoft.Compute/virtualMachines/vm-contoso-app-01"


def mark(ctx, resource_id: str, value: str) -> None:
    path = sheet.sheet_path(ctx.params.customer, ctx.params.resource_sheet.path)
    wb = load_workbook(path)
    ws = wb.active
    id_col, managed_col = sheet.COLUMNS.index("Resource ID") + 1, sheet.COLUMNS.index("Managed") + 1
    hits = [r for r in range(2, ws.max_row + 1) if str(ws.cell(r, id_col).value).lower() == resource_id.lower()]
    assert hits, resource_id
    ws.cell(hits[0], managed_col).value = value
    wb.save(path)


def test_a_resource_marked_no_now_is_reported_and_untagged_only_when_asked(clients, params_dir):
    ctx = Context(P.load("demo"), lambda: clients, apply=True, ran_by="test")
    prepare_sheet(ctx)
    assert execute(TagManagedResources(), ctx).status == "fulfilled"
    assert execute(TagSheetResources(), ctx).status == "fulfilled"  # the same sheet: nothing more to do

    mark(ctx, VM, "No")  # the customer returned the sheet with this VM unmarked
    reported = execute(TagSheetResources(), ctx)
    assert reported.status == "open" and reported.applied == []
    assert any(VM in m and "marked No" in m for m in reported.missing)
    assert clients.resource(DEMO_SUBS[0]).tags.get_at_scope(VM).properties.tags.get("Intercept") == "Managed"

    (params_dir / "demo.yml").write_text((params_dir / "demo.yml").read_text() + "\ntagging: {untag_unmarked: true}\n")
    ctx = Context(P.load("demo"), lambda: clients, apply=True, ran_by="test")
    untagged = execute(TagSheetResources(), ctx)
    assert untagged.status == "fulfilled", untagged.summary
    assert [(c.action, c.target) for c in untagged.applied] == [("remove tag", VM)]
    tags = clients.resource(DEMO_SUBS[0]).tags.get_at_scope(VM).properties.tags
    assert "Intercept" not in tags and tags.get("env") == "prod"  # only that tag went
    assert execute(TagSheetResources(), ctx).planned == []
