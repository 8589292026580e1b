"""The provider modules, registered in one list. A new provider is a module here and a line in PROVIDERS."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from ..core.provider import Provider, Registry
from .advisor import Advisor
from .authorization import Authorization
from .compute import Compute
from .consumption import Consumption
from .costmanagement import CostManagement
from .insights import Insights
from .keyvault import KeyVault
from .maintenance import Maintenance
from .managedservices import ManagedServices
from .management import Management
from .network import Network
from .operationalinsights import OperationalInsights
from .policy import Policy
from .policyinsights import PolicyInsights
from .recoveryservices import RecoveryServices
from .resourcegraph import ResourceGraph
from .resources import Resources
from .security import Security
from .sql import Sql
from .storage import Storage
from .web import Web

PROVIDERS: tuple[type[Provider], ...] = (
    Resources,
    ResourceGraph,
    PolicyInsights,
    Authorization,
    Policy,
    ManagedServices,
    Management,
    Security,
    Advisor,
    Insights,
    Consumption,
    CostManagement,
    RecoveryServices,
    Maintenance,
    Compute,
    Network,
    Storage,
    Sql,
    Web,
    KeyVault,
    OperationalInsights,
)


#: the api-version table generated from azure-rest-api-specs (azure_sandbox.tools.api_versions)
API_VERSIONS = Path(__file__).resolve().parent / "data" / "api_versions.yml"


@cache
def api_version_table() -> dict[str, tuple[str, ...]]:
    """Emulated type -> the api-versions the REST specs publish for it (newest first)."""
    data = yaml.load(API_VERSIONS.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: 20x
    return {key: tuple(str(v) for v in entry["versions"]) for key, entry in data.items()}


def registry() -> Registry:
    """A registry of every provider (a new one per sandbox: providers may hold per-tenant state) and the api-version
    table."""
    return Registry.of((p() for p in PROVIDERS), api_versions=api_version_table())
