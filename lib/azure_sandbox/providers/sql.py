"""Microsoft.Sql: logical servers and databases (tracked)."""

from __future__ import annotations

from ..core.provider import Provider, TypeSpec

API = ("2023-08-01", "2023-05-01-preview", "2021-11-01", "2021-02-01-preview")


class Sql(Provider):
    """Microsoft.Sql: logical servers and databases (tracked)."""

    namespace = "Microsoft.Sql"
    types = (
        TypeSpec("Microsoft.Sql/servers", API),
        TypeSpec("Microsoft.Sql/servers/databases", API),
    )
