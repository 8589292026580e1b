"""Desired Azure resources written as Bicep: one file per deployment scope, deterministic (a re-run with the same
configuration writes the same bytes, so git sees no change).

A resource is its REST body (as the steps' tables hold it) under `resource <symbol> '<type>@<api-version>'`; child
resources carry their full type and a `parent/child` name, extension resources at a subscription (budgets, policy
assignments, dynamic scopes) go in the subscription-scope file. Values that may hold a secret (a webhook's URI) are
never written: they become `@secure()` parameters the deployer supplies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SECRET_KEYS = ("serviceUri",)  # webhook URIs carry their token in the query string
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class BicepResource:
    """One resource to declare."""

    symbol: str
    type: str  # full resource type, e.g. Microsoft.Insights/actionGroups
    api_version: str
    name: str  # 'parent/child' for child resources
    body: dict[str, Any] = field(hash=False, compare=False)


class _Param:
    def __init__(self, name: str) -> None:
        self.name = name


def symbol(text: str) -> str:
    """A Bicep identifier from any name (stable)."""
    out = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")
    return ("r_" + out) if not out or out[0].isdigit() else out


def _scrub(value: Any, params: dict[str, str], where: str) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in SECRET_KEYS and isinstance(v, str) and v:
                name = symbol(f"{where}_{k}")
                params[name] = k
                out[k] = _Param(name)
            else:
                out[k] = _scrub(v, params, where)
        return out
    if isinstance(value, list):
        return [_scrub(v, params, where) for v in value]
    return value


def _value(v: Any, indent: int) -> str:
    pad = "  " * indent
    if isinstance(v, _Param):
        return v.name
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    if isinstance(v, str):
        return "'" + v.replace("\\", "\\\\").replace("'", "\\'").replace("${", "\\${") + "'"
    if isinstance(v, list):
        if not v:
            return "[]"
        return "[\n" + "".join(f"{pad}  {_value(x, indent + 1)}\n" for x in v) + f"{pad}]"
    if isinstance(v, dict):
        if not v:
            return "{}"
        lines = []
        for k in v:
            key = k if _IDENT.match(k) else "'" + k.replace("'", "\\'") + "'"
            lines.append(f"{pad}  {key}: {_value(v[k], indent + 1)}\n")
        return "{\n" + "".join(lines) + f"{pad}}}"
    raise TypeError(f"cannot write {type(v).__name__} as Bicep")


def render(target_scope: str, resources: Iterable[BicepResource], header: str) -> str:
    """A Bicep file declaring the resources at a scope ('subscription' or 'resourceGroup')."""
    params: dict[str, str] = {}
    blocks = []
    for r in resources:
        body = {k: v for k, v in r.body.items() if k not in ("id", "name", "type")}
        body = _scrub(body, params, r.symbol)
        decl = {"name": r.name, **body}
        blocks.append(f"resource {r.symbol} '{r.type}@{r.api_version}' = {_value(decl, 0)}\n")
    lines = ["// " + line for line in header.splitlines()]
    out = "\n".join(lines) + f"\n\ntargetScope = '{target_scope}'\n"
    for name in sorted(params):
        out += f"\n@secure()\n@description('{params[name]} (a secret: supply it at deployment)')\nparam {name} string\n"
    return out + "\n" + "\n".join(blocks)
