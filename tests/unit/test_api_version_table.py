"""The api-version table (providers/data/api_versions.yml) is generated from the REST specs' folder names and covers
every type and route the sandbox emulates."""

from __future__ import annotations

from azure_sandbox.providers import API_VERSIONS, api_version_table, registry
from azure_sandbox.tools import api_versions as tool


def test_the_committed_table_is_what_the_pinned_spec_paths_generate(tmp_path) -> None:
    out = tmp_path / "api_versions.yml"
    assert tool.main(["--out", str(out)]) == 0
    assert out.read_text() == API_VERSIONS.read_text(), "re-run python -m azure_sandbox.tools.api_versions"


def test_every_emulated_type_and_route_has_its_versions_in_the_table() -> None:
    table = {k.lower() for k in api_version_table()}
    reg = registry()
    missing = [s.type for s in reg.types.values() if s.key not in table]
    missing += [r.what for _, r, _ in reg.routes if not r.type or r.type.lower() not in table]
    assert missing == []
    for spec in reg.types.values():  # nothing the sandbox served before is refused now
        assert set(spec.api_versions) <= set(reg.versions(spec.type)), spec.type


def test_versions_come_from_the_folder_that_holds_the_types_spec_file() -> None:
    paths = [
        "specification/monitor/resource-manager/Microsoft.Insights/stable/2017-04-01/actionGroups_API.json",
        "specification/monitor/resource-manager/Microsoft.Insights/preview/2024-10-01-preview/actionGroups_API.json",
        "specification/monitor/resource-manager/Microsoft.Insights/stable/2018-03-01/metricAlert_API.json",
        "specification/compute/resource-manager/Microsoft.Compute/ComputeRP/stable/2024-07-01/virtualMachine.json",
        "specification/advisor/resource-manager/Microsoft.Advisor/stable/2017-03-31/advisor.json",
        "specification/advisor/resource-manager/Microsoft.Advisor/stable/2020-01-01/advisor.json",
        "specification/monitor/resource-manager/Microsoft.Insights/stable/2017-04-01/examples/x.json",
    ]
    tab = tool.table(paths)
    assert tab["Microsoft.Insights/actionGroups"]["versions"] == ["2024-10-01-preview", "2017-04-01"]
    assert tab["Microsoft.Insights/metricAlerts"]["versions"] == ["2018-03-01"]
    assert tab["Microsoft.Compute/virtualMachines"]["versions"] == ["2024-07-01"]  # one sub-folder level
    assert tab["Microsoft.Advisor/configurations"]["versions"] == ["2020-01-01"]  # since 2017-04-19
    assert tab["Microsoft.Advisor/recommendations"]["versions"] == ["2020-01-01", "2017-03-31"]
    assert tab["Microsoft.Storage/storageAccounts"]["versions"] == []


def test_a_checkout_is_read_by_its_folders(tmp_path) -> None:
    spec = tmp_path / "specification/storage/resource-manager/Microsoft.Storage/stable/2019-06-01"
    spec.mkdir(parents=True)
    (spec / "storage.json").write_text("{}")
    paths = tool.checkout_paths(tmp_path)
    assert tool.versions(paths, tool.SOURCES["Microsoft.Storage/storageAccounts"]) == ["2019-06-01"]
