"""ARM-wide rules every provider shares: tags, locations, names, OData $filter. Each raises ArmError as ARM answers.

Sources (cited again in tests/contract/test_rules.py):
- tags: learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations (50 tags per
  resource, group and subscription; name 512 / value 256 characters; names without < > % & \\ ? /);
- resource group names: learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules
  (Microsoft.Resources/resourcegroups: 1-90, underscores, hyphens, periods, parentheses, letters or digits, not ending
  in a period) and the `resourceGroupName` pattern of resources.json;
- locations: Subscriptions_ListLocations; an unknown location is refused with LocationNotAvailableForResourceGroup /
  LocationNotAvailableForResourceType;
- $filter: the Resources_List / ResourceGroups_List parameter descriptions in resources.json (2025-04-01).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from . import locations
from .http import ArmError

MAX_TAGS = 50
MAX_TAG_NAME = 512
MAX_TAG_VALUE = 256
FORBIDDEN_TAG_CHARS = "<>%&\\?/"
_RG_NAME = re.compile(r"^[-\w._()]{1,90}$")
_FILTER_TERM = re.compile(r"^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)
_FILTER_FUNC = re.compile(
    r"^\s*(substringof|startswith)\(\s*('(?:[^']|'')*'|\w+)\s*,\s*('(?:[^']|'')*'|\w+)\s*\)\s*$", re.IGNORECASE
)


def check_tags(tags: Any, *, where: str = "tags") -> dict[str, str]:
    """The tags of a write, or ArmError as ARM refuses them (count, lengths, characters, types)."""
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise ArmError(
            400,
            "InvalidRequestContent",
            f"The request content was invalid and could not be deserialized: 'Expected an object for '{where}'.'",
        )
    if len(tags) > MAX_TAGS:
        raise ArmError(
            400,
            "InvalidTags",
            f"Too many tags specified. Requested tag count - '{len(tags)}'. Maximum number of tags allowed - '{MAX_TAGS}'.",
        )
    for name, value in tags.items():
        if not isinstance(value, str):
            raise ArmError(
                400,
                "InvalidRequestContent",
                f"The request content was invalid and could not be deserialized: 'Unexpected value for tag '{name}': tag values must be strings. Path '{where}.{name}'.'",
            )
        if not name or not name.strip():
            raise ArmError(
                400,
                "InvalidTagName",
                "The tag name must be non-null, non-empty and non-whitespace only. Please provide an actual value.",
            )
        if len(name) > MAX_TAG_NAME:
            raise ArmError(
                400,
                "InvalidTagName",
                f"Tag key too large. Following tag name '{name}' exceeded the maximum length. Maximum allowed length for tag name - '{MAX_TAG_NAME}' characters.",
            )
        if len(value) > MAX_TAG_VALUE:
            raise ArmError(
                400,
                "InvalidTagValueLength",
                f"Tag value too large. Following tag value '{value}' exceeded the maximum length. Maximum allowed length for tag value - '{MAX_TAG_VALUE}' characters.",
            )
        if any(c in FORBIDDEN_TAG_CHARS or ord(c) < 32 for c in name):
            raise ArmError(
                400,
                "InvalidTagNameCharacters",
                f"The tag names '{name}' have reserved characters '<,>,%,&,\\,?,/' or control characters.",
            )
    return dict(tags)


def check_location(
    value: Any,
    *,
    resource_group: bool = False,
    allow_global: bool = False,
    global_only: bool = False,
    type_name: str = "",
) -> str:
    """The region name of a location, or ArmError as ARM refuses a missing or unknown one."""
    if value in (None, ""):
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    if not isinstance(value, str):
        raise ArmError(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: 'location must be a string.'",
        )
    if value.lower() == "global" and (allow_global or global_only):
        return "global" if value == "global" else value
    if global_only:
        raise ArmError(
            400,
            "LocationNotAvailableForResourceType",
            f"The provided location '{value}' is not available for resource type '{type_name}'. List of available regions for the resource type is 'global'.",
        )
    region = locations.normalise(value)
    if region is None:
        if resource_group:
            raise ArmError(
                400,
                "LocationNotAvailableForResourceGroup",
                f"The provided location '{value}' is not available for resource group. List of available regions is '{','.join(n for n, _, _ in locations.REGIONS)}'.",
            )
        raise ArmError(
            400,
            "LocationNotAvailableForResourceType",
            f"The provided location '{value}' is not available for resource type '{type_name}'. List of available regions for the resource type is '{','.join(n for n, _, _ in locations.REGIONS)}'.",
        )
    return region


def check_group_name(name: str) -> None:
    """Resource group names: 1-90 of letters, digits, _ - . ( ), not ending in a period."""
    if not _RG_NAME.match(name) or name.endswith("."):
        raise ArmError(
            400,
            "InvalidResourceGroup",
            f"The provided resource group name '{name}' has these invalid characters: '{_bad_chars(name)}'. The name can only be a letter, digit, '-', '.', '(', ')' or '_'. See https://aka.ms/ResourceGroupNamingRestrictions for more information.",
        )


def _bad_chars(name: str) -> str:
    bad = sorted({c for c in name if not (c.isalnum() or c in "-._()")})
    if name.endswith("."):
        bad.append(". (at the end)")
    return "".join(bad) if bad else ("(length)" if not 1 <= len(name) <= 90 else "")


def check_name(name: str, rule: tuple[int, int, str] | None, type_name: str) -> None:
    """A resource name against its type's rule (length and pattern), as the RP's 400 InvalidResourceName."""
    if rule is None:
        if any(c in "<>%&\\?/*#" or ord(c) < 32 for c in name) or name.endswith(".") or not name:
            raise ArmError(
                400,
                "InvalidResourceName",
                f"The resource name '{name}' is invalid. It must not contain '<,>,%,&,\\,?,/,*,#' or control characters and must not end in a period.",
            )
        return
    lo, hi, pattern = rule
    if not (lo <= len(name) <= hi) or not re.fullmatch(pattern, name):
        raise ArmError(
            400,
            "InvalidResourceName",
            f"The resource name '{name}' for type '{type_name}' is invalid: {lo}-{hi} characters matching '{pattern}'.",
        )


# ------------------------------------------------------------------------------------------------------- $filter
_TERM = re.compile(r"^\s*([\w/]+)\s+(eq|ne)\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)
_SUBSTRINGOF = re.compile(r"^\s*substringof\(\s*'((?:[^']|'')*)'\s*,\s*(\w+)\s*\)\s*$", re.IGNORECASE)
# Resources_List (resources.json 2025-04-01, the $filter parameter's description):
RESOURCE_PROPERTIES = (
    "location",
    "resourcetype",
    "name",
    "resourcegroup",
    "identity",
    "identity/principalid",
    "plan",
    "plan/publisher",
    "plan/product",
    "plan/name",
    "plan/version",
    "plan/promotioncode",
)
RESOURCE_COMBINATIONS = (
    {"substringof", "resourcetype"},
    {"plan", "plan/publisher", "plan/name"},
    {"identity", "identity/principalid"},
    {"tagname", "tagvalue"},
)
SUBSTRING_PROPERTIES = ("name", "resourcegroup")
GROUP_PROPERTIES = ("tagname", "tagvalue")


@dataclass(frozen=True)
class Term:
    """One comparison of a $filter: property, operator (eq, ne, substringof) and value."""

    prop: str
    op: str
    value: str


def parse_filter(
    expr: str | None,
    allowed: tuple[str, ...],
    substringof: tuple[str, ...] = (),
    combinations: tuple[set[str], ...] = (),
) -> list[Term]:
    """The terms of an OData $filter, or ARM's 400 for a form the list does not support.

    `allowed`: properties that may be compared with eq/ne; tagName/tagValue (eq only) where listed; `substringof`:
    properties substringof() may search; `combinations`: which properties may appear together (any single property
    may appear alone; substringof clauses may be joined with `or`)."""
    if not expr or not expr.strip():
        return []
    terms: list[Term] = []
    joiners = re.findall(r"\s+(and|or)\s+", expr, flags=re.IGNORECASE)
    for clause in re.split(r"\s+(?:and|or)\s+", expr.strip(), flags=re.IGNORECASE):
        m = _TERM.match(clause)
        if m and m.group(1).lower() in allowed:
            if m.group(1).lower() in ("tagname", "tagvalue") and m.group(2).lower() != "eq":
                _bad_filter(expr, f"'{m.group(1)}' supports only eq")
            terms.append(Term(m.group(1).lower(), m.group(2).lower(), m.group(3).replace("''", "'")))
            continue
        f = _SUBSTRINGOF.match(clause)
        if f and f.group(2).lower() in substringof:
            terms.append(Term(f.group(2).lower(), "substringof", f.group(1).replace("''", "'")))
            continue
        _bad_filter(expr, f"'{clause.strip()}' is not a supported filter")
    kinds = {"substringof" if t.op == "substringof" else t.prop for t in terms}
    if any(j.lower() == "or" for j in joiners) and kinds != {"substringof"}:
        _bad_filter(expr, "'or' may only join substringof() clauses")
    if "tagvalue" in kinds and "tagname" not in kinds:
        _bad_filter(expr, "tagValue requires tagName")
    if len(kinds) > 1 and not any(kinds <= combo for combo in combinations):
        _bad_filter(expr, f"the properties {', '.join(sorted(kinds))} cannot be combined")
    return terms


def matches(obj: dict[str, Any], terms: list[Term], group_of: str | None = None) -> bool:
    """Whether an ARM object satisfies the terms (or-joined substringof clauses: any of them)."""
    tags = {k.lower(): v for k, v in (obj.get("tags") or {}).items()}
    subs = [t for t in terms if t.op == "substringof"]
    if subs and not any(t.value.lower() in _prop(obj, t.prop, group_of).lower() for t in subs):
        return False
    for t in terms:
        if t.op == "substringof":
            continue
        if t.prop == "tagname":
            if t.value.lower() not in tags:
                return False
            continue
        if t.prop == "tagvalue":
            name = next(x.value for x in terms if x.prop == "tagname").lower()
            if tags.get(name, "").lower() != t.value.lower():
                return False
            continue
        equal = _prop(obj, t.prop, group_of).lower() == t.value.lower()
        if equal != (t.op == "eq"):
            return False
    return True


def _prop(obj: dict[str, Any], prop: str, group_of: str | None) -> str:
    if prop == "resourcetype":
        return str(obj.get("type", ""))
    if prop == "resourcegroup":
        return group_of or ""
    node: Any = obj
    for part in prop.split("/"):
        node = node.get(part, "") if isinstance(node, dict) else ""
        if isinstance(node, dict):
            node = {k.lower(): v for k, v in node.items()}
    return str(node or "")


def _bad_filter(expr: str, why: str) -> None:
    raise ArmError(
        400, "InvalidFilterInQueryString", f"Invalid $filter '{expr}' specified in the query string ({why})."
    )
