"""Microsoft.Network: NICs, virtual networks, public IPs, NSGs, load balancers (tracked resources)."""

from __future__ import annotations

from ..core.provider import Provider, TypeSpec

API = ("2024-05-01", "2024-03-01", "2024-01-01", "2023-11-01", "2023-09-01", "2023-05-01", "2022-07-01")


class Network(Provider):
    """Microsoft.Network: NICs, virtual networks, public IPs, NSGs, load balancers (tracked resources)."""

    namespace = "Microsoft.Network"
    types = (
        TypeSpec("Microsoft.Network/networkInterfaces", API),
        TypeSpec("Microsoft.Network/virtualNetworks", API),
        TypeSpec("Microsoft.Network/publicIPAddresses", API),
        TypeSpec("Microsoft.Network/networkSecurityGroups", API),
        TypeSpec("Microsoft.Network/loadBalancers", API),
    )
