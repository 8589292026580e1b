"""Policy definitions and initiatives as the Policy API serves them: the built-ins (data/policy_builtins.yml, their
published rules where the data holds them, else reduced to their effect) and the lookups by id that the Policy
provider and the compliance engine share (below both, so neither imports the other for them)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from ..core.arm import Arm

_DATA = Path(__file__).resolve().parent / "data" / "policy_builtins.yml"
DEF_PREFIX = "/providers/Microsoft.Authorization/policyDefinitions/"
SET_PREFIX = "/providers/Microsoft.Authorization/policySetDefinitions/"
ROLE_PREFIX = "/providers/Microsoft.Authorization/roleDefinitions/"
PARAM_REF = re.compile(r"^\[\s*parameters\(\s*'([^']+)'\s*\)\s*\]$", re.IGNORECASE)


@lru_cache(maxsize=1)
def _builtins() -> dict[str, dict[str, dict]]:
    """The built-in definitions and initiatives of data/policy_builtins.yml, keyed by lower-cased GUID."""
    data = yaml.load(_DATA.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: 13x
    kinds = ("definitions", "setDefinitions")
    return {kind: {g.lower(): v for g, v in (data.get(kind) or {}).items()} for kind in kinds}


BUILTIN_POLICIES: dict[str, dict] = _builtins()["definitions"]
BUILTIN_SETS: dict[str, dict] = _builtins()["setDefinitions"]


def is_reduced(definition: dict) -> bool:
    """Whether a definition is a built-in the data holds only reduced to its effect (not evaluated)."""
    d = BUILTIN_POLICIES.get(str(definition.get("name", "")).lower())
    return d is not None and "policyRule" not in d


def builtin_policy(guid: str) -> dict:
    """A built-in policy definition in the Policy API's shape: its published rule where the data holds it, else the
    rule reduced to its effect and details."""
    d = BUILTIN_POLICIES[guid.lower()]
    if "policyRule" in d:
        props = {
            "displayName": d["displayName"],
            "policyType": "BuiltIn",
            "mode": d.get("mode", "Indexed"),
            "description": d.get("description", d["displayName"]),
            "metadata": {"category": d["category"], "version": d["version"]},
            "version": d["version"],
            "parameters": d.get("parameters") or {},
            "policyRule": d["policyRule"],
        }
        return {
            "id": DEF_PREFIX + guid.lower(),
            "name": guid.lower(),
            "type": "Microsoft.Authorization/policyDefinitions",
            "properties": props,
        }
    then: dict[str, Any] = {"effect": d["effect"]}
    roles = [ROLE_PREFIX + r for r in d.get("roleDefinitionIds") or []]
    if roles:
        details: dict[str, Any] = {"roleDefinitionIds": roles}
        if "modify" in possible_effects(d["effect"], d.get("parameters") or {}):
            details["operations"] = [{"operation": "addOrReplace", "field": "tags", "value": "[parameters('tagName')]"}]
        else:
            details["deployment"] = {"properties": {"mode": "incremental", "template": {}}}
        then["details"] = details
    props = {
        "displayName": d["displayName"],
        "policyType": "BuiltIn",
        "mode": "Indexed",
        "description": d["displayName"],
        "metadata": {"category": d["category"], "version": d["version"]},
        "version": d["version"],
        "parameters": d.get("parameters") or {},
        "policyRule": {"if": {"field": "type", "equals": "*"}, "then": then},
    }
    return {
        "id": DEF_PREFIX + guid.lower(),
        "name": guid.lower(),
        "type": "Microsoft.Authorization/policyDefinitions",
        "properties": props,
    }


def builtin_set(guid: str) -> dict:
    """A built-in initiative (policy set definition) in the Policy API's shape."""
    d = BUILTIN_SETS[guid.lower()]
    members = [{**m, "policyDefinitionId": DEF_PREFIX + m["policyDefinitionId"]} for m in d["policyDefinitions"]]
    props = {
        "displayName": d["displayName"],
        "policyType": "BuiltIn",
        "description": d["displayName"],
        "metadata": {"category": d["category"], "version": d["version"]},
        "version": d["version"],
        "parameters": d.get("parameters") or {},
        "policyDefinitions": members,
        "policyDefinitionGroups": [],
    }
    return {
        "id": SET_PREFIX + guid.lower(),
        "name": guid.lower(),
        "type": "Microsoft.Authorization/policySetDefinitions",
        "properties": props,
    }


def possible_effects(effect: Any, parameters: dict) -> set[str]:
    """Every effect a rule can take (lower case): a literal, or the allowed / default values of its effect parameter."""
    m = PARAM_REF.match(str(effect))
    if not m:
        return {str(effect).lower()}
    decl: dict = next((v for k, v in parameters.items() if k.lower() == m.group(1).lower()), {})
    values = list(decl.get("allowedValues") or []) + ([decl["defaultValue"]] if "defaultValue" in decl else [])
    return {str(v).lower() for v in values}


def definition(arm: Arm, definition_id: str) -> dict | None:
    """A policy definition by id: a built-in, or a custom one stored at its scope."""
    guid = definition_id.rstrip("/").split("/")[-1].lower()
    if definition_id.lower().startswith(DEF_PREFIX.lower()) and guid in BUILTIN_POLICIES:
        return builtin_policy(guid)
    obj = arm.state.get(definition_id)
    return obj if obj and obj.get("type", "").lower() == "microsoft.authorization/policydefinitions" else None


def set_definition(arm: Arm, set_id: str) -> dict | None:
    """An initiative by id: a built-in, or a custom one stored at its scope."""
    guid = set_id.rstrip("/").split("/")[-1].lower()
    if set_id.lower().startswith(SET_PREFIX.lower()) and guid in BUILTIN_SETS:
        return builtin_set(guid)
    obj = arm.state.get(set_id)
    return obj if obj and obj.get("type", "").lower() == "microsoft.authorization/policysetdefinitions" else None
