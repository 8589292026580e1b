"""Item results display for people and carry a JSON record the runner reads back from the notebook."""

import nbformat

from runbook.results import MIMETYPE, Change, ItemResult, collect


def test_bundle_round_trips_through_a_notebook():
    r = ItemResult(
        "s0-signed-sla",
        0,
        "CSM",
        "attested",
        "Sales received a signed SLA",
        "fulfilled",
        "ok",
        planned=[Change("/x", "merge tags", {"tags": {"a": "b"}})],
    )
    bundle = r._repr_mimebundle_()
    assert "fulfilled" in bundle["text/html"] and "merge tags" in bundle["text/plain"]
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("display_data", data={MIMETYPE: bundle[MIMETYPE], "text/plain": "x"})]
    nb.cells = [cell]
    (back,) = collect(nbformat.reads(nbformat.writes(nb), as_version=4))
    assert back == r


def test_later_record_of_an_item_wins():
    nb = nbformat.v4.new_notebook()
    for status in ("open", "fulfilled"):
        cell = nbformat.v4.new_code_cell("x")
        cell.outputs = [
            nbformat.v4.new_output(
                "execute_result", data={MIMETYPE: ItemResult("a", 0, "CSM", "attested", "t", status).to_dict()}
            )
        ]
        nb.cells.append(cell)
    assert [r.status for r in collect(nb)] == ["fulfilled"]
