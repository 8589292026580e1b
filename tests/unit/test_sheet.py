"""The Manageable Resource Sheet: written the way the MSP's script did, read back strictly."""

import pytest
from openpyxl import load_workbook

from runbook.adapters.inventory import Resource
from runbook.customer import sheet

SUB = "1a2b3c4d-0001-4e5f-8a9b-0c1d2e3f4a01"


def res(name, tags=None, rtype="Microsoft.Compute/virtualMachines"):
    rid = f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/{rtype}/{name}"
    return Resource(rid, name, rtype, "westeurope", SUB, "rg-a", "Standard_B2s", tags or {})


@pytest.fixture
def resources():
    return [
        res("vm1", {"env": "prod"}),
        res("vm2", {"intercept": "Managed"}),
        res("st1", rtype="Microsoft.Storage/storageAccounts"),
    ]


def known(resources):
    return {r.key for r in resources}


def test_written_workbook_has_dropdown_filter_and_frozen_header(tmp_path, resources):
    path = sheet.write(tmp_path / "s.xlsx", resources, {SUB: "Prod"}, managed_tag=("Intercept", "Managed"))
    ws = load_workbook(path)["Resources"]
    assert tuple(c.value for c in ws[1]) == sheet.COLUMNS
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:J4"
    (dv,) = ws.data_validations.dataValidation
    assert dv.formula1 == '"Yes,No"' and "J2:J4" in str(dv.sqref)
    rows = {r[3]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    assert rows["vm1"][7] == "env=prod" and rows["vm1"][0] == "Prod" and rows["vm1"][6] == "Standard_B2s"
    assert rows["vm2"][9] == "Yes" and rows["vm1"][9] in (None, "")  # already tagged rows start as Yes


def test_round_trip_reads_marks(tmp_path, resources):
    path = sheet.write(tmp_path / "s.xlsx", resources, {}, prefill="No")
    wb = load_workbook(path)
    ws = wb["Resources"]
    ws["J2"] = "yes"
    wb.save(path)
    marking = sheet.read(path, known(resources))
    assert len(marking.managed) == 1 and len(marking.unmanaged) == 2 and not marking.unmarked


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda ws: ws.__setitem__("J2", "Maybe"), "row 2: Managed is 'Maybe'; use Yes or No"),
        (
            lambda ws: ws.__setitem__("I3", "/subscriptions/x/resourceGroups/y/providers/A.B/c/gone"),
            "row 3: resource /subscriptions/x/resourceGroups/y/providers/A.B/c/gone does not exist",
        ),
        (lambda ws: ws.__setitem__("A1", "Sub"), "the header row must be"),
        (lambda ws: ws.__setitem__("I4", ws["I2"].value), "row 4: resource"),
    ],
)
def test_bad_workbook_names_the_row_and_fix(tmp_path, resources, edit, message):
    path = sheet.write(tmp_path / "s.xlsx", resources, {})
    wb = load_workbook(path)
    edit(wb["Resources"])
    wb.save(path)
    with pytest.raises(sheet.SheetError) as exc:
        sheet.read(path, known(resources))
    assert message in str(exc.value) and "Fix:" in str(exc.value)


def test_not_a_workbook(tmp_path, resources):
    bad = tmp_path / "s.xlsx"
    bad.write_text("not excel")
    with pytest.raises(sheet.SheetError, match="not a readable Excel workbook"):
        sheet.read(bad, known(resources))


def test_new_resources_are_reported(tmp_path, resources):
    path = sheet.write(tmp_path / "s.xlsx", resources[:2], {})
    assert sheet.read(path, known(resources)).not_in_sheet == {resources[2].key}
