"""Microsoft.OperationalInsights: Log Analytics workspaces (tracked)."""

from __future__ import annotations

from ..core.provider import Provider, TypeSpec

API = ("2025-02-01", "2023-09-01", "2022-10-01", "2021-06-01", "2020-08-01")


class OperationalInsights(Provider):
    """Microsoft.OperationalInsights: Log Analytics workspaces (tracked)."""

    namespace = "Microsoft.OperationalInsights"
    types = (
        TypeSpec(
            "Microsoft.OperationalInsights/workspaces", API, name_rule=(4, 63, r"[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]")
        ),
    )
