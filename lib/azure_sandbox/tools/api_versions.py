"""Generate the api-version table (providers/data/api_versions.yml) from the folder names of azure-rest-api-specs.

An api-version Azure serves for a type is a version folder of the REST specs holding the spec file that defines the
type: `specification/<service>/resource-manager/<Namespace>/{stable,preview}/<api-version>/<file>.json` (some
services add one folder level, e.g. `Microsoft.Compute/ComputeRP/stable/...`; TypeSpec projects keep
`<project>/<api-version>/main.tsp`). `SOURCES` names, per emulated type, the spec files that define it.

    python -m azure_sandbox.tools.api_versions --specs ~/src/azure-rest-api-specs   # read a checkout
    python -m azure_sandbox.tools.api_versions                                       # read the pinned list

The pinned list (`spec_paths.txt` beside this module) is the same set of paths written down, so the table can be
regenerated (and checked by the unit tests) without a checkout and without the network. Nothing here runs at
test or serve time: the sandbox reads the generated YAML.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
PINNED = HERE / "spec_paths.txt"
TABLE = HERE.parent / "providers" / "data" / "api_versions.yml"
_VERSION = r"(?P<v>\d{4}-\d{2}-\d{2}(?:-preview)?)"


@dataclass(frozen=True)
class Source:
    """Spec files defining a type: `folder` (under specification/) and the file name; versions before `since`
    do not define it (the file existed before the type was added to it)."""

    folder: str
    file: str
    since: str = ""

    def pattern(self) -> re.Pattern[str]:
        """Path regex: the folder, at most one sub-folder, stable|preview (absent for TypeSpec), version, file."""
        return re.compile(
            "^specification/"
            + re.escape(self.folder)
            + r"/(?:[^/]+/)?(?:(?:stable|preview)/)?"
            + _VERSION
            + "/"
            + re.escape(self.file)
            + "$",
            re.IGNORECASE,
        )

    def glob(self) -> str:
        """The paths this source reads, as shown in the table."""
        return f"specification/{self.folder}/[*/]{{stable,preview}}/*/{self.file}"


_RES = "resources/resource-manager/Microsoft.Resources"
_AUTH = "resources/resource-manager/Microsoft.Authorization"
_RBAC = "authorization/resource-manager/Microsoft.Authorization"
_MON = "monitor/resource-manager/Microsoft.Insights"
_BMS = "recoveryservicesbackup/resource-manager/Microsoft.RecoveryServices"
_NET = "network/resource-manager/Microsoft.Network"
_CM = "cost-management/resource-manager/Microsoft.CostManagement"
_SEC = "security/resource-manager/Microsoft.Security"
_COMPUTE = "compute/resource-manager/Microsoft.Compute"

#: emulated type (or route type) -> the spec files that define it
SOURCES: dict[str, tuple[Source, ...]] = {
    "Microsoft.Resources/subscriptions": (Source(_RES, "subscriptions.json"),),
    "Microsoft.Resources/tenants": (Source(_RES, "subscriptions.json"),),
    "Microsoft.Resources/locations": (Source(_RES, "subscriptions.json"),),
    "Microsoft.Resources/resourceGroups": (Source(_RES, "resources.json"),),
    "Microsoft.Resources/resources": (Source(_RES, "resources.json"),),
    "Microsoft.Resources/providers": (Source(_RES, "resources.json"),),
    "Microsoft.Resources/tagNames": (Source(_RES, "resources.json"),),
    # Tags_CreateOrUpdateAtScope (Microsoft.Resources/tags/default) first appears in resources.json 2019-10-01
    "Microsoft.Resources/tags": (Source(_RES, "resources.json", since="2019-10-01"),),
    "Microsoft.Authorization/locks": (Source(_AUTH, "locks.json"),),
    "Microsoft.Authorization/policyAssignments": (Source(_AUTH, "policyAssignments.json"),),
    "Microsoft.Authorization/policyDefinitions": (Source(_AUTH, "policyDefinitions.json"),),
    "Microsoft.Authorization/policySetDefinitions": (Source(_AUTH, "policySetDefinitions.json"),),
    "Microsoft.Authorization/policyExemptions": (Source(_AUTH, "policyExemptions.json"),),
    "Microsoft.Authorization/roleAssignments": (Source(_RBAC, "authorization-RoleAssignmentsCalls.json"),),
    "Microsoft.Authorization/roleDefinitions": (Source(_RBAC, "authorization-RoleDefinitionsCalls.json"),),
    "Microsoft.Management/managementGroups": (
        Source("managementgroups/resource-manager/Microsoft.Management", "management.json"),
    ),
    "Microsoft.ManagedServices/registrationDefinitions": (
        Source("managedservices/resource-manager/Microsoft.ManagedServices", "managedservices.json"),
    ),
    "Microsoft.ManagedServices/registrationAssignments": (
        Source("managedservices/resource-manager/Microsoft.ManagedServices", "managedservices.json"),
    ),
    "Microsoft.Security/pricings": (Source(_SEC, "pricings.json"),),
    "Microsoft.Security/secureScores": (Source(_SEC, "secureScore.json"),),
    "Microsoft.Security/secureScoreControls": (Source(_SEC, "secureScore.json"),),
    "Microsoft.Security/secureScoreControlDefinitions": (Source(_SEC, "secureScore.json"),),
    "Microsoft.CostManagement/query": (Source(_CM, "costmanagement.json"),),
    # Forecast_Usage first appears in costmanagement.json 2019-11-01 (examples/SubscriptionForecast.json)
    "Microsoft.CostManagement/forecast": (Source(_CM, "costmanagement.json", since="2019-11-01"),),
    # Configurations_* first appear in advisor.json 2017-04-19 (2017-03-31 has recommendations and suppressions)
    "Microsoft.Advisor/configurations": (
        Source("advisor/resource-manager/Microsoft.Advisor", "advisor.json", since="2017-04-19"),
    ),
    "Microsoft.Advisor/recommendations": (Source("advisor/resource-manager/Microsoft.Advisor", "advisor.json"),),
    "Microsoft.Insights/actionGroups": (Source(_MON, "actionGroups_API.json"),),
    "Microsoft.Insights/metricAlerts": (
        Source(_MON, "metricAlert_API.json"),
        Source("monitor/resource-manager/Microsoft.Insights.Management", "main.tsp"),
    ),
    "Microsoft.Insights/activityLogAlerts": (Source(_MON, "activityLogAlerts_API.json"),),
    "Microsoft.Insights/diagnosticSettings": (Source(_MON, "diagnosticsSettings_API.json"),),
    "Microsoft.Insights/metricDefinitions": (Source(_MON, "metricDefinitions_API.json"),),
    "Microsoft.Consumption/budgets": (
        Source("consumption/resource-manager/Microsoft.Consumption", "consumption.json", since="2018-01-31"),
    ),
    "Microsoft.RecoveryServices/vaults": (
        Source("recoveryservices/resource-manager/Microsoft.RecoveryServices", "vaults.json"),
    ),
    "Microsoft.RecoveryServices/vaults/backupPolicies": (Source(_BMS, "bms.json"),),
    "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems": (Source(_BMS, "bms.json"),),
    "Microsoft.RecoveryServices/vaults/backupFabrics/refreshContainers": (Source(_BMS, "bms.json"),),
    "Microsoft.RecoveryServices/vaults/backupProtectableItems": (Source(_BMS, "bms.json"),),
    "Microsoft.RecoveryServices/vaults/backupProtectedItems": (Source(_BMS, "bms.json"),),
    "Microsoft.RecoveryServices/vaults/backupJobs": (Source(_BMS, "bms.json"),),
    "Microsoft.RecoveryServices/locations/backupStatus": (Source(_BMS, "bms.json"),),
    "Microsoft.Maintenance/maintenanceConfigurations": (
        Source("maintenance/resource-manager/Microsoft.Maintenance", "Maintenance.json"),
    ),
    "Microsoft.Maintenance/configurationAssignments": (
        Source("maintenance/resource-manager/Microsoft.Maintenance", "Maintenance.json", since="2020-04-01"),
    ),
    # ComputeRP.json: the Compute/stable/<version>/ folders (2025-04-01 onwards) holding the whole Compute RP
    "Microsoft.Compute/virtualMachines": (
        Source("compute/resource-manager/Microsoft.Compute", "compute.json"),
        Source("compute/resource-manager/Microsoft.Compute", "virtualMachine.json"),
        Source(_COMPUTE, "ComputeRP.json"),
    ),
    # VirtualMachines_AssessPatches first appears in compute.json 2020-06-01
    "Microsoft.Compute/virtualMachines/assessPatches": (
        Source(_COMPUTE, "compute.json", since="2020-06-01"),
        Source(_COMPUTE, "virtualMachine.json"),
        Source(_COMPUTE, "ComputeRP.json"),
    ),
    "Microsoft.Compute/availabilitySets": (
        Source("compute/resource-manager/Microsoft.Compute", "compute.json"),
        Source("compute/resource-manager/Microsoft.Compute", "availabilitySet.json"),
        Source(_COMPUTE, "ComputeRP.json"),
    ),
    "Microsoft.Compute/disks": (Source("compute/resource-manager/Microsoft.Compute", "disk.json"),),
    # 2016-03-30 and 2016-06-01 define every Network type in one network.json (later versions split it per type)
    "Microsoft.Network/networkInterfaces": (Source(_NET, "networkInterface.json"), Source(_NET, "network.json")),
    "Microsoft.Network/virtualNetworks": (Source(_NET, "virtualNetwork.json"), Source(_NET, "network.json")),
    "Microsoft.Network/publicIPAddresses": (Source(_NET, "publicIpAddress.json"), Source(_NET, "network.json")),
    "Microsoft.Network/networkSecurityGroups": (
        Source(_NET, "networkSecurityGroup.json"),
        Source(_NET, "network.json"),
    ),
    "Microsoft.Network/loadBalancers": (Source(_NET, "loadBalancer.json"), Source(_NET, "network.json")),
    "Microsoft.Storage/storageAccounts": (Source("storage/resource-manager/Microsoft.Storage", "storage.json"),),
    # the evidence archive's containers and their immutability policy (blob.json; the versions pinned are those checked)
    "Microsoft.Storage/storageAccounts/blobServices": (
        Source("storage/resource-manager/Microsoft.Storage", "blob.json"),
    ),
    "Microsoft.Storage/storageAccounts/blobServices/containers": (
        Source("storage/resource-manager/Microsoft.Storage", "blob.json"),
    ),
    "Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies": (
        Source("storage/resource-manager/Microsoft.Storage", "blob.json"),
    ),
    "Microsoft.Sql/servers": (Source("sql/resource-manager/Microsoft.Sql", "servers.json"),),
    "Microsoft.Sql/servers/databases": (Source("sql/resource-manager/Microsoft.Sql", "databases.json"),),
    "Microsoft.Web/sites": (Source("web/resource-manager/Microsoft.Web", "WebApps.json"),),
    "Microsoft.Web/serverfarms": (Source("web/resource-manager/Microsoft.Web", "AppServicePlans.json"),),
    "Microsoft.KeyVault/vaults": (Source("keyvault/resource-manager/Microsoft.KeyVault", "keyvault.json"),),
    "Microsoft.OperationalInsights/workspaces": (
        Source("operationalinsights/resource-manager/Microsoft.OperationalInsights", "Workspaces.json"),
    ),
    "Microsoft.PolicyInsights/policyStates": (
        Source("policyinsights/resource-manager/Microsoft.PolicyInsights", "policyStates.json"),
    ),
    "Microsoft.PolicyInsights/remediations": (
        Source("policyinsights/resource-manager/Microsoft.PolicyInsights", "remediations.json"),
    ),
    "Microsoft.ResourceGraph/resources": (
        Source("resourcegraph/resource-manager/Microsoft.ResourceGraph", "resourcegraph.json"),
    ),
}


def checkout_paths(root: Path) -> list[str]:
    """Every file under <root>/specification, relative to root, with forward slashes."""
    out = []
    for dirpath, _dirs, files in os.walk(root / "specification"):
        rel = Path(dirpath).relative_to(root).as_posix()
        out += [f"{rel}/{f}" for f in files]
    return out


def pinned_paths(path: Path = PINNED) -> list[str]:
    """The pinned spec paths (comments and blank lines skipped)."""
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def versions(paths: Iterable[str], sources: tuple[Source, ...]) -> list[str]:
    """The api-versions (newest first) whose folders hold one of the sources' files."""
    found: set[str] = set()
    listed = list(paths)
    for src in sources:
        rx = src.pattern()
        for p in listed:
            m = rx.match(p)
            if m and m.group("v") >= src.since:
                found.add(m.group("v"))
    return sorted(found, reverse=True)


def table(paths: Iterable[str]) -> dict[str, dict[str, object]]:
    """type -> {spec: the spec files read, versions: newest first}."""
    listed = list(paths)
    out: dict[str, dict[str, object]] = {}
    for key, sources in SOURCES.items():
        out[key] = {
            "spec": [s.glob() + (f" (from {s.since})" if s.since else "") for s in sources],
            "versions": versions(listed, sources),
        }
    return out


def render(tab: dict[str, dict[str, object]], origin: str) -> str:
    """The YAML text of the table (stable order, one version per line for readable diffs)."""
    lines = [
        "# api-versions per emulated type: the version folders of azure-rest-api-specs holding the spec file that",
        "# defines the type. GENERATED by `python -m azure_sandbox.tools.api_versions` (do not edit by hand);",
        f"# read from: {origin}",
    ]
    for key in sorted(tab):
        entry = tab[key]
        lines.append(f"{key}:")
        lines.append("  spec:")
        lines += [f"    - {s}" for s in entry["spec"]]  # type: ignore[attr-defined]
        lines.append("  versions:")
        lines += [f"    - '{v}'" for v in entry["versions"]]  # type: ignore[attr-defined]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", type=Path, help="a checkout of Azure/azure-rest-api-specs (else the pinned list)")
    parser.add_argument("--out", type=Path, default=TABLE, help="where to write the table")
    args = parser.parse_args(argv)
    if args.specs:
        paths, origin = checkout_paths(args.specs), "a checkout of Azure/azure-rest-api-specs"
    else:
        paths, origin = pinned_paths(), "lib/azure_sandbox/tools/spec_paths.txt (pinned spec paths)"
    tab = table(paths)
    empty = [k for k, e in tab.items() if not e["versions"]]
    if empty:
        print(f"no spec folder found for: {', '.join(empty)}", file=sys.stderr)
        return 1
    args.out.write_text(render(tab, origin))
    count = sum(len(e["versions"]) for e in tab.values())  # type: ignore[arg-type,misc]
    print(f"{len(tab)} types, {count} (type, api-version) pairs -> {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
