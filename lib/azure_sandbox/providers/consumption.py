"""Microsoft.Consumption: budgets (with an eTag and a computed current spend).

Spec: specification/consumption/resource-manager/Microsoft.Consumption/Consumption/stable/2024-08-01/consumption.json.
"""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from ..core import ids
from ..core.http import Request, Response
from ..core.provider import Provider, TypeSpec

if TYPE_CHECKING:
    from ..core.arm import Arm


class Consumption(Provider):
    """Budgets."""

    namespace = "Microsoft.Consumption"
    # Budgets_Delete declares 200 only.
    types = (
        TypeSpec("Microsoft.Consumption/budgets", ("2024-08-01", "2023-11-01", "2023-05-01", "2021-10-01", "2019-10-01"), delete_codes=(200, 200), tracked=False, patch=False, model="azure.mgmt.consumption.models:Budget", invalid_code="InvalidBudget"),
    )

    def on_budgets(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str) -> Response | None:
        """A new eTag on every write; the current spend is computed."""
        if req.method == "PUT":
            existing = arm.state.get(ap.path)
            answer = arm.put(req, ap, spec, existing, extra={"eTag": f'"{uuid.uuid4().hex[:15]}"'})
            if answer.status in (200, 201):
                stored = arm.state.get(ap.path)
                assert stored is not None
                stored["properties"]["currentSpend"] = {"amount": 0.0, "unit": "EUR"}
                answer.body = arm.view(stored)
            return answer
        return None
