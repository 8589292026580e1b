"""Azure Policy's rule language, evaluated against the sandbox tenant's resources.

The subset the MSP baseline and the hostile fixtures use: `if` / `then`; logical `allOf`, `anyOf`, `not`; leaf
conditions on `field` or `value` with `equals`, `notEquals`, `like`, `notLike`, `in`, `notIn`, `contains`,
`notContains`, `containsKey`, `notContainsKey`, `exists`, `less`, `lessOrEquals`, `greater`, `greaterOrEquals`;
fields `name`, `fullName`, `type`, `kind`, `location`, `id`, `tags`, `tags['x']` / `tags[x]` / `tags.x`,
`identity.type` and property aliases (`<Namespace>/<type>/<path>` = that type's `properties.<path>`, `[*]` over
arrays, and the few named aliases in ALIASES); template expressions `[...]` with parameters, concat, field,
resourceGroup, subscription, if, equals, not, and, or, empty, contains, coalesce, toLower, toUpper, length, first,
last, split, replace, string, int, bool, property access and indexing. Effects: deny, audit, modify (operations
add / addOrReplace / remove on tags and aliases), auditIfNotExists / deployIfNotExists (details.type, name,
existenceCondition, existenceScope), disabled.

Sources: learn.microsoft.com/azure/governance/policy/concepts/definition-structure-policy-rule (conditions, fields,
"a field that does not exist" semantics: notEquals / notIn / notLike true, the rest false; strings compare
case-insensitively), .../effect-modify (operations), .../effect-audit-if-not-exists (details, existenceCondition
where `field()` names the related resource and `[field()]` the evaluated one), .../policy-applicability
(resources a rule's type / name / kind conditions do not select are not counted).
A rule outside this subset raises Unsupported: the sandbox says it cannot judge rather than guessing.
"""

from __future__ import annotations

import copy
import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Unsupported(Exception):
    """A rule or expression outside the subset the sandbox evaluates."""


#: Named aliases whose path is not the literal `properties.<path>` of the type (Azure's alias list).
ALIASES: dict[str, tuple[str, str]] = {
    "microsoft.compute/imagepublisher": (
        "microsoft.compute/virtualmachines",
        "storageProfile.imageReference.publisher",
    ),
    "microsoft.compute/imageoffer": ("microsoft.compute/virtualmachines", "storageProfile.imageReference.offer"),
    "microsoft.compute/imagesku": ("microsoft.compute/virtualmachines", "storageProfile.imageReference.sku"),
    "microsoft.compute/imageversion": ("microsoft.compute/virtualmachines", "storageProfile.imageReference.version"),
    "microsoft.compute/licensetype": ("microsoft.compute/virtualmachines", "licenseType"),
}


def _ci(d: Any, key: str) -> Any:
    """A dict value by case-insensitive key (None when absent)."""
    if not isinstance(d, dict):
        return None
    if key in d:
        return d[key]
    low = key.lower()
    return next((v for k, v in d.items() if k.lower() == low), None)


_TAG = re.compile(r"^tags(?:\[\s*'?(?P<a>[^'\]]+)'?\s*\]|\.(?P<b>.+))$", re.IGNORECASE)


@dataclass
class Scope:
    """What an evaluation may read: the evaluated resource, its parameters, its group and subscription, and (for
    existence checks) the tenant's other objects."""

    resource: dict
    parameters: dict[str, Any] = field(default_factory=dict)
    resource_group: dict | None = None
    subscription: dict | None = None
    find: Callable[[str], list[dict]] | None = None  # objects of a type (lower-cased) in the tenant


# ---------------------------------------------------------------------------------------------- fields
def field_value(obj: dict, name: str) -> Any:
    """The value of a policy field (or alias) on a resource; None when it does not exist there."""
    low = name.strip().lower()
    if low == "type" and str(obj.get("type", "")).lower() == "microsoft.resources/resourcegroups":
        return "Microsoft.Resources/subscriptions/resourceGroups"  # how policy names a resource group's type
    if low in ("name", "type", "kind", "id"):
        return obj.get(low)
    if low == "fullname":
        return obj.get("name")
    if low == "location":
        loc = obj.get("location")
        return str(loc).replace(" ", "").lower() if loc is not None else None
    if low == "tags":
        return obj.get("tags") or {}
    if m := _TAG.match(name.strip()):
        return _ci(obj.get("tags") or {}, m.group("a") or m.group("b"))
    if low.startswith("identity."):
        return _path(obj.get("identity"), name.strip()[len("identity.") :])
    typ, path = _alias(low, name.strip())
    if typ != str(obj.get("type", "")).lower():
        return None
    return _path(obj.get("properties"), path)


def _alias(low: str, name: str) -> tuple[str, str]:
    if low in ALIASES:
        return ALIASES[low]
    parts = name.split("/")
    if len(parts) < 3:
        raise Unsupported(f"the field '{name}' is not one the sandbox knows")
    # Namespace/type[/childtype...]/path: the path is the last segment holding a dot or the last segment
    for i in range(2, len(parts)):
        rest = "/".join(parts[i:])
        if "." in parts[i] or i == len(parts) - 1:
            return "/".join(parts[:i]).lower(), rest
    raise Unsupported(f"the field '{name}' is not one the sandbox knows")


def _path(node: Any, path: str) -> Any:
    """A dotted path with [*] over arrays (a list of the values found)."""
    parts = [p for p in re.split(r"\.(?![^\[]*\])", path) if p]
    return _walk(node, parts)


def _walk(node: Any, parts: list[str]) -> Any:
    if not parts:
        return node
    head, rest = parts[0], parts[1:]
    if head.endswith("[*]"):
        items = _ci(node, head[:-3]) if head[:-3] else node
        if not isinstance(items, list):
            return None
        return [_walk(i, rest) for i in items]
    return _walk(_ci(node, head), rest)


def _set_path(obj: dict, name: str, value: Any, remove: bool = False, add_only: bool = False) -> None:
    """Write (or remove) a field on a resource, as a modify operation does."""
    if m := _TAG.match(name.strip()):
        key = m.group("a") or m.group("b")
        tags = obj.setdefault("tags", {}) or {}
        obj["tags"] = tags
        existing = next((k for k in tags if k.lower() == key.lower()), None)
        if remove:
            if existing is not None:
                del tags[existing]
        elif not (add_only and existing is not None):
            if existing is not None and existing != key:
                del tags[existing]
            tags[existing or key] = value
        return
    typ, path = _alias(name.strip().lower(), name.strip())
    if typ != str(obj.get("type", "")).lower():
        return
    if "[*]" in path:
        raise Unsupported(f"modify on the array alias '{name}' is not emulated")
    node = obj.setdefault("properties", {})
    keys = path.split(".")
    for k in keys[:-1]:
        found = next((x for x in node if x.lower() == k.lower()), k)
        node = node.setdefault(found, {})
    last = next((x for x in node if x.lower() == keys[-1].lower()), keys[-1])
    if remove:
        node.pop(last, None)
    elif not (add_only and last in node):
        node[last] = value


# ---------------------------------------------------------------------------------------------- expressions
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+)|(?P<id>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[(),.\[\]]))")


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m:
            raise Unsupported(f"cannot read the expression '[{text}]'")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def expression(value: Any, scope: Scope) -> Any:
    """A value with template expressions resolved (`[[` escapes a literal `[`)."""
    if isinstance(value, str) and value.startswith("[") and value.endswith("]"):
        if value.startswith("[["):
            return value[1:]
        toks = _tokens(value[1:-1])
        result, pos = _expr(toks, 0, scope)
        if pos != len(toks):
            raise Unsupported(f"cannot read the expression '{value}'")
        return result
    if isinstance(value, list):
        return [expression(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: expression(v, scope) for k, v in value.items()}
    return value


def _expr(toks: list[tuple[str, str]], pos: int, scope: Scope) -> tuple[Any, int]:
    kind, text = toks[pos]
    if kind == "str":
        value: Any = text[1:-1].replace("''", "'")
        pos += 1
    elif kind == "num":
        value, pos = int(text), pos + 1
    elif kind == "id":
        if text.lower() in ("true", "false") and (pos + 1 >= len(toks) or toks[pos + 1][1] != "("):
            return text.lower() == "true", pos + 1
        if pos + 1 >= len(toks) or toks[pos + 1][1] != "(":
            raise Unsupported(f"'{text}' is not a function call")
        args, pos = [], pos + 2
        while toks[pos][1] != ")":
            arg, pos = _expr(toks, pos, scope)
            args.append(arg)
            if toks[pos][1] == ",":
                pos += 1
        pos += 1
        value = _call(text.lower(), args, scope)
    else:
        raise Unsupported(f"unexpected '{text}' in an expression")
    while pos < len(toks) and toks[pos][1] in (".", "["):
        if toks[pos][1] == ".":
            value, pos = _ci(value, toks[pos + 1][1]), pos + 2
        else:
            index, pos = _expr(toks, pos + 1, scope)
            pos += 1  # ]
            value = value[index] if isinstance(value, list) and isinstance(index, int) else _ci(value, str(index))
    return value, pos


def _call(name: str, args: list[Any], scope: Scope) -> Any:
    if name == "parameters":
        found = _ci(scope.parameters, str(args[0]))
        if found is None and str(args[0]).lower() not in {k.lower() for k in scope.parameters}:
            raise Unsupported(f"the parameter '{args[0]}' is not defined")
        return found
    if name == "field":
        return field_value(scope.resource, str(args[0]))
    if name == "resourcegroup":
        return scope.resource_group or {}
    if name == "subscription":
        return scope.subscription or {}
    simple: dict[str, Callable[..., Any]] = {
        "concat": lambda *a: [x for v in a for x in v] if a and isinstance(a[0], list) else "".join(str(v) for v in a),
        "tolower": lambda s: str(s).lower(),
        "toupper": lambda s: str(s).upper(),
        "if": lambda c, a, b: a if c else b,
        "equals": lambda a, b: _eq(a, b),
        "not": lambda a: not a,
        "and": lambda *a: all(a),
        "or": lambda *a: any(a),
        "empty": lambda a: a in (None, "", [], {}),
        "contains": lambda a, b: _contains(a, b),
        "coalesce": lambda *a: next((v for v in a if v is not None), None),
        "length": lambda a: len(a or []),
        "first": lambda a: a[0] if a else None,
        "last": lambda a: a[-1] if a else None,
        "split": lambda s, sep: str(s).split(sep),
        "replace": lambda s, a, b: str(s).replace(a, b),
        "string": lambda a: a if isinstance(a, str) else str(a).lower() if isinstance(a, bool) else str(a),
        "int": lambda a: int(a),
        "bool": lambda a: a if isinstance(a, bool) else str(a).lower() == "true",
    }
    if name not in simple:
        raise Unsupported(f"the template function '{name}()' is not emulated")
    return simple[name](*args)


def _eq(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if isinstance(a, bool) or isinstance(b, bool):
        return str(a).lower() == str(b).lower()
    return bool(a == b)


def _contains(a: Any, b: Any) -> bool:
    if isinstance(a, str):
        return str(b).lower() in a.lower()
    if isinstance(a, dict):
        return _ci(a, str(b)) is not None or str(b).lower() in {k.lower() for k in a}
    if isinstance(a, list):
        return any(_eq(x, b) for x in a)
    return False


# ---------------------------------------------------------------------------------------------- conditions
_OPERATORS = (
    "equals",
    "notequals",
    "like",
    "notlike",
    "in",
    "notin",
    "contains",
    "notcontains",
    "containskey",
    "notcontainskey",
    "exists",
    "less",
    "lessorequals",
    "greater",
    "greaterorequals",
)
_NEGATIVE = {"notequals", "notlike", "notin", "notcontains", "notcontainskey"}


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "exists":
        want = str(expected).lower() == "true"
        return (actual is not None) == want
    if actual is None:
        return op in _NEGATIVE
    if op == "equals":
        return _eq(actual, expected)
    if op == "notequals":
        return not _eq(actual, expected)
    if op in ("in", "notin"):
        found = any(_eq(actual, e) for e in expected or [])
        return found if op == "in" else not found
    if op in ("like", "notlike"):
        hit = fnmatch.fnmatchcase(str(actual).lower(), str(expected).lower())
        return hit if op == "like" else not hit
    if op in ("contains", "notcontains"):
        hit = str(expected).lower() in str(actual).lower()
        return hit if op == "contains" else not hit
    if op in ("containskey", "notcontainskey"):
        hit = isinstance(actual, dict) and str(expected).lower() in {k.lower() for k in actual}
        return hit if op == "containskey" else not hit
    try:
        a, e = float(actual), float(expected)
    except (TypeError, ValueError):
        a, e = str(actual).lower(), str(expected).lower()  # type: ignore[assignment]
    return {"less": a < e, "lessorequals": a <= e, "greater": a > e, "greaterorequals": a >= e}[op]


def condition(cond: dict, scope: Scope, target: dict | None = None) -> bool:
    """Whether a condition holds. `target` is the resource `field` conditions read (the related resource inside an
    existenceCondition); expressions always read the evaluated resource."""
    target = scope.resource if target is None else target
    keys = {k.lower(): k for k in cond}
    if "allof" in keys:
        return all(condition(c, scope, target) for c in cond[keys["allof"]])
    if "anyof" in keys:
        return any(condition(c, scope, target) for c in cond[keys["anyof"]])
    if "not" in keys:
        return not condition(cond[keys["not"]], scope, target)
    if "count" in keys:
        raise Unsupported("'count' conditions are not emulated")
    ops = [k for k in keys if k in _OPERATORS]
    if len(ops) != 1:
        raise Unsupported(f"cannot read the condition {cond}")
    expected = expression(cond[keys[ops[0]]], scope)
    if "field" in keys:
        name = expression(cond[keys["field"]], scope)
        actual = field_value(target, str(name))
        if isinstance(actual, list) and "[*]" in str(name):  # every member must satisfy the condition
            return all(_compare(ops[0], a, expected) for a in actual)
        return _compare(ops[0], actual, expected)
    if "value" in keys:  # a property an expression does not find reads as an empty string
        found = expression(cond[keys["value"]], scope)
        return _compare(ops[0], "" if found is None else found, expected)
    raise Unsupported(f"cannot read the condition {cond}")


def applicable(rule_if: dict, obj: dict, scope: Scope) -> bool:
    """Whether a resource is one the rule is about: its type / name / kind conditions (top level or under a top-level
    allOf) select it. Resources a rule is not about are not counted in compliance."""
    keys = {k.lower(): k for k in rule_if}
    leaves = rule_if[keys["allof"]] if "allof" in keys else [rule_if]
    for leaf in leaves:
        lk = {k.lower(): k for k in leaf}
        selects = "field" in lk and str(leaf[lk["field"]]).lower() in ("type", "name", "kind")
        if selects and not condition(leaf, scope, obj):
            return False
    return True


# ---------------------------------------------------------------------------------------------- effects
def effect_of(rule: dict, scope: Scope) -> str:
    """The effect a rule takes with these parameters (lower case)."""
    then = _ci(rule, "then") or {}
    return str(expression(_ci(then, "effect"), scope)).lower()


def modify(obj: dict, details: dict, scope: Scope) -> dict:
    """The resource as a modify effect leaves it (a copy)."""
    out = copy.deepcopy(obj)
    for op in _ci(details, "operations") or []:
        if (c := _ci(op, "condition")) is not None and not expression(c, scope):
            continue
        kind = str(_ci(op, "operation")).lower()
        name = str(expression(_ci(op, "field"), scope))
        if kind == "remove":
            _set_path(out, name, None, remove=True)
        else:
            _set_path(out, name, expression(_ci(op, "value"), scope), add_only=kind == "add")
    return out


def related_exist(details: dict, scope: Scope) -> bool:
    """Whether the related resource an auditIfNotExists / deployIfNotExists rule asks for exists and satisfies its
    existenceCondition. Candidates: objects of `details.type` beneath the evaluated resource (child and extension
    resources), objects naming it as their `sourceResourceId` (backup protected items), else in the same resource
    group (or subscription with existenceScope Subscription)."""
    if scope.find is None:
        raise Unsupported("existence checks need the tenant")
    rtype = str(expression(_ci(details, "type"), scope)).lower()
    name = _ci(details, "name")
    name = str(expression(name, scope)).lower() if name is not None else None
    rid = str(scope.resource.get("id", "")).lower()
    objects = scope.find(rtype)
    below = [o for o in objects if str(o["id"]).lower().startswith(rid + "/")]
    sourced = [o for o in objects if str(_ci(o.get("properties"), "sourceResourceId") or "").lower() == rid]
    candidates = below or sourced
    if not candidates:
        parts = rid.split("/")
        if str(_ci(details, "existenceScope") or "").lower() == "subscription" or len(parts) < 5:
            prefix = "/".join(parts[:3]) + "/"
        else:
            prefix = "/".join(parts[:5]) + "/"
        candidates = [o for o in objects if str(o["id"]).lower().startswith(prefix)]
    if name is not None:
        candidates = [o for o in candidates if str(o.get("name", "")).lower() == name.split("/")[-1]]
    cond = _ci(details, "existenceCondition")
    return any(cond is None or condition(cond, scope, o) for o in candidates)


def verdict(rule: dict, scope: Scope) -> tuple[str, bool]:
    """(effect, non-compliant) of one policy rule on the evaluated resource."""
    effect = effect_of(rule, scope)
    if effect == "disabled":
        return effect, False
    if not condition(_ci(rule, "if") or {}, scope):
        return effect, False
    if effect in ("auditifnotexists", "deployifnotexists"):
        return effect, not related_exist(_ci(_ci(rule, "then"), "details") or {}, scope)
    return effect, True  # deny, audit, modify, append: a resource the condition selects is non-compliant
