"""Item results display for people and carry a JSON record the runner reads back from the notebook."""

import nbformat

from runbook.evidence.results import MIMETYPE, Change, ItemResult, collect


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


def test_a_card_lists_each_change_once_summarised_and_folded():
    sub = "/subscriptions/1a2b3c4d-0001-4e5f-8a9b-0c1d2e3f4a01"
    changes = [
        Change(f"{sub}/resourceGroups/rg/providers/Microsoft.Insights/metricAlerts/ma-{n}", "create metric alert")
        for n in range(40)
    ]
    done = ItemResult(
        "s1-monitoring-alerting",
        1,
        "Engineer",
        "automated",
        "Monitoring",
        "fulfilled",
        "In place.",
        planned=changes,
        applied=changes,
        apply=True,
        missing=[f"create metric alert: {c.target}" for c in changes],  # the pending list repeats the plan
        attestation={"by": "Chris CSM", "at": "2026-11-19", "reference": "notes"},
    )
    page = done.as_html()
    assert page.count("ma-7</td>") == 1  # once: not under planned, applied and missing again
    assert f'title="{changes[7].target}"' in page  # the full ID on hover
    assert "<summary>All 40 changes</summary>" in page and "<details>" in page  # the full list is folded
    assert "<td>Microsoft.Insights/metricAlerts</td><td>1a2b3c4d-0001-4e5f-8a9b-0c1d2e3f4a01</td><td>40</td>" in page
    assert page.count("Attested by Chris CSM") == 1
