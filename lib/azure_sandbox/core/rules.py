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
from typing import Any

from . import locations
from .http import ArmError

MAX_TAGS = 50
MAX_TAG_NAME = 512
MAX_TAG_VALUE = 256
FORBIDDEN_TAG_CHARS = "<>%&\\?/"
_RG_NAME = re.compile(r"^[-\w._()]{1,90}$")
_FILTER_TERM = re.compile(r"^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)
_FILTER_FUNC = re.compile(r"^\s*(substringof|startswith)\(\s*('(?:[^']|'')*'|\w+)\s*,\s*('(?:[^']|'')*'|\w+)\s*\)\s*$", re.IGNORECASE)


def check_tags(tags: Any, *, where: str = "tags") -> dict[str, str]:
    """The tags of a write, or ArmError as ARM refuses them (count, lengths, characters, types)."""
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise ArmError(400, "InvalidRequestContent", f"The request content was invalid and could not be deserialized: 'Expected an object for '{where}'.'")
    if len(tags) > MAX_TAGS:
        raise ArmError(400, "InvalidTagsCount", f"The number of tags ({len(tags)}) exceeds the maximum of {MAX_TAGS} per resource, resource group or subscription.")
    for name, value in tags.items():
        if not isinstance(value, str):
            raise ArmError(400, "InvalidRequestContent", f"The request content was invalid and could not be deserialized: 'Unexpected value for tag '{name}': tag values must be strings. Path '{where}.{name}'.'")
        if not name or not name.strip():
            raise ArmError(400, "InvalidTagName", "The tag name must not be empty or whitespace.")
        if len(name) > MAX_TAG_NAME:
            raise ArmError(400, "InvalidTagNameLength", f"The tag name '{name[:40]}...' exceeds the maximum length of {MAX_TAG_NAME} characters.")
        if len(value) > MAX_TAG_VALUE:
            raise ArmError(400, "InvalidTagValueLength", f"The value of tag '{name}' exceeds the maximum length of {MAX_TAG_VALUE} characters.")
        if any(c in FORBIDDEN_TAG_CHARS or ord(c) < 32 for c in name):
            raise ArmError(400, "InvalidTagNameCharacters", f"The tag names '{name}' have reserved characters '<,>,%,&,\\,?,/' or control characters.")
    return dict(tags)


def check_location(value: Any, *, resource_group: bool = False, allow_global: bool = False, global_only: bool = False, type_name: str = "") -> str:
    """The region name of a location, or ArmError as ARM refuses a missing or unknown one."""
    if value in (None, ""):
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    if not isinstance(value, str):
        raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: 'location must be a string.'")
    if value.lower() == "global" and (allow_global or global_only):
        return "global" if value == "global" else value
    if global_only:
        raise ArmError(400, "LocationNotAvailableForResourceType", f"The provided location '{value}' is not available for resource type '{type_name}'. List of available regions for the resource type is 'global'.")
    region = locations.normalise(value)
    if region is None:
        if resource_group:
            raise ArmError(400, "LocationNotAvailableForResourceGroup", f"The provided location '{value}' is not available for resource group. List of available regions is '{','.join(n for n, _, _ in locations.REGIONS)}'.")
        raise ArmError(400, "LocationNotAvailableForResourceType", f"The provided location '{value}' is not available for resource type '{type_name}'. List of available regions for the resource type is '{','.join(n for n, _, _ in locations.REGIONS)}'.")
    return region


def check_group_name(name: str) -> None:
    """Resource group names: 1-90 of letters, digits, _ - . ( ), not ending in a period."""
    if not _RG_NAME.match(name) or name.endswith("."):
        raise ArmError(400, "InvalidResourceGroup", f"The provided resource group name '{name}' has these invalid characters: '{_bad_chars(name)}'. The name can only be a letter, digit, '-', '.', '(', ')' or '_'.")


def _bad_chars(name: str) -> str:
    bad = sorted({c for c in name if not (c.isalnum() or c in "-._()")})
    if name.endswith("."):
        bad.append(". (at the end)")
    return "".join(bad) if bad else ("(length)" if not 1 <= len(name) <= 90 else "")


def check_name(name: str, rule: tuple[int, int, str] | None, type_name: str) -> None:
    """A resource name against its type's rule (length and pattern), as the RP's 400 InvalidResourceName."""
    if rule is None:
        if any(c in "<>%&\\?/*#" or ord(c) < 32 for c in name) or name.endswith(".") or not name:
            raise ArmError(400, "InvalidResourceName", f"The resource name '{name}' is invalid. It must not contain '<,>,%,&,\\,?,/,*,#' or control characters and must not end in a period.")
        return
    lo, hi, pattern = rule
    if not (lo <= len(name) <= hi) or not re.fullmatch(pattern, name):
        raise ArmError(400, "InvalidResourceName", f"The resource name '{name}' for type '{type_name}' is invalid: {lo}-{hi} characters matching '{pattern}'.")


# ------------------------------------------------------------------------------------------------------- $filter
def parse_filter(expr: str | None, allowed: tuple[str, ...], functions: bool = False, exclusive_tags: bool = False) -> dict[str, str]:
    """The `name eq 'value'` terms of an OData $filter joined by `and`, or ARM's 400 for a form it does not support.

    `allowed` are the lower-cased property names this list accepts. ARM accepts tagName/tagValue together, and does
    not combine a tag filter with other properties on /resources (resources.json: "you cannot use a tag filter with
    other filters"); `substringof(value, name)` only where `functions` is set."""
    if not expr:
        return {}
    terms: dict[str, str] = {}
    for clause in re.split(r"\s+and\s+", expr.strip(), flags=re.IGNORECASE):
        m = _FILTER_TERM.match(clause)
        if m and m.group(1).lower() in allowed:
            if m.group(1).lower() in terms:
                _bad_filter(expr, f"'{m.group(1)}' appears twice")
            terms[m.group(1).lower()] = m.group(2).replace("''", "'")
            continue
        f = _FILTER_FUNC.match(clause)
        if f and functions:
            terms[f"{f.group(1).lower()}:{f.group(3).strip(chr(39)).lower() if f.group(1).lower() == 'substringof' else f.group(2).strip(chr(39)).lower()}"] = (f.group(2) if f.group(1).lower() == "substringof" else f.group(3)).strip("'")
            continue
        _bad_filter(expr, f"'{clause.strip()}' is not supported")
    if "tagvalue" in terms and "tagname" not in terms:
        _bad_filter(expr, "tagValue requires tagName")
    if exclusive_tags and "tagname" in terms and any(k not in ("tagname", "tagvalue") for k in terms):
        _bad_filter(expr, "a tag filter cannot be combined with other filters")
    return terms


def _bad_filter(expr: str, why: str) -> None:
    raise ArmError(400, "InvalidFilterInQueryString", f"The filter expression '{expr}' is invalid: {why}.")


RESOURCE_FILTERS = ("tagname", "tagvalue", "resourcetype", "name", "location", "resourcegroup", "identity/principalid", "plan/publisher", "plan/product", "plan/name", "plan/version", "plan/promotioncode")
GROUP_FILTERS = ("tagname", "tagvalue")
