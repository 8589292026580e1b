"""The provider modules, registered in one list. A new provider is a module here and a line in PROVIDERS."""

from __future__ import annotations

from ..core.provider import Provider, Registry
from .advisor import Advisor
from .authorization import Authorization
from .compute import Compute
from .consumption import Consumption
from .insights import Insights
from .keyvault import KeyVault
from .maintenance import Maintenance
from .managedservices import ManagedServices
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
    Security,
    Advisor,
    Insights,
    Consumption,
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


def registry() -> Registry:
    """A registry of every provider (a new one per sandbox: providers may hold per-tenant state)."""
    return Registry.of(p() for p in PROVIDERS)
