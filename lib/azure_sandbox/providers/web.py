"""Microsoft.Web: web apps and App Service plans (tracked)."""

from __future__ import annotations

from ..core.provider import Provider, TypeSpec

API = ("2024-04-01", "2023-12-01", "2023-01-01", "2022-09-01")


class Web(Provider):
    """Microsoft.Web: web apps and App Service plans (tracked)."""

    namespace = "Microsoft.Web"
    types = (
        TypeSpec("Microsoft.Web/sites", API),
        TypeSpec("Microsoft.Web/serverfarms", API),
    )
