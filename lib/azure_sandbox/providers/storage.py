"""Microsoft.Storage: storage accounts (tracked; names 3-24 lower-case letters and digits)."""

from __future__ import annotations

from ..core.provider import Provider, TypeSpec

API = ("2024-01-01", "2023-05-01", "2023-01-01", "2022-09-01")


class Storage(Provider):
    """Microsoft.Storage: storage accounts (tracked; names 3-24 lower-case letters and digits)."""

    namespace = "Microsoft.Storage"
    types = (TypeSpec("Microsoft.Storage/storageAccounts", API, name_rule=(3, 24, r"[a-z0-9]+")),)
