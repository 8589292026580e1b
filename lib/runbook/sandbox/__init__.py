"""The sandbox tenant: a local, stateful HTTPS emulator of Azure Resource Manager and Graph."""
from .faults import Faults
from .server import Connection, Sandbox

__all__ = ["Connection", "Faults", "Sandbox"]
