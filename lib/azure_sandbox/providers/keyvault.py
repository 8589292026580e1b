"""Microsoft.KeyVault: key vaults (tracked; names 3-24 alphanumerics and hyphens)."""

from __future__ import annotations

from ..core.provider import Provider, TypeSpec

API = ("2024-11-01", "2023-07-01", "2023-02-01", "2022-07-01")


class KeyVault(Provider):
    """Microsoft.KeyVault: key vaults (tracked; names 3-24 alphanumerics and hyphens)."""

    namespace = "Microsoft.KeyVault"
    types = (TypeSpec("Microsoft.KeyVault/vaults", API, name_rule=(3, 24, r"[a-zA-Z][a-zA-Z0-9-]*[a-zA-Z0-9]")),)
