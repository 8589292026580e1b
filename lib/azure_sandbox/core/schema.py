"""Request-body validation derived from the azure-mgmt-* model classes, which are generated from the REST specs.

Two generations of generated models exist and both are read:
- msrest-style models carry `_attribute_map` (JSON key, possibly flattened as `properties.x`, and wire type such as
  `str`, `[Criterion]`, `{str}`) and `_validation` (required, readonly, lengths, pattern, ranges, item counts), and
  `_subtype_map` for polymorphic types;
- TypeSpec-style models (`model_base.Model`) carry `rest_field(name=, visibility=)` and type annotations (a field is
  required when its annotation is not Optional; read-only when its visibility is only "read").
Enumerations come from the docstrings both generators write ("Known values are: ..."). What this cannot know (value
semantics, cross-field rules) is added by hand in the provider modules.
"""

from __future__ import annotations

import datetime as _dt
import enum
import importlib
import inspect
import re
import sys
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from .http import ArmError

_KNOWN = re.compile(r"Known\s+values\s+are:(.*?)(?:\.\s*$|\.\s+[A-Z]|$)", re.DOTALL)
_QUOTED = re.compile(r'"([^"]*)"')
_IVAR = re.compile(r":ivar (\w+):(.*?)(?=:vartype|:ivar|\Z)", re.DOTALL)
_DURATION = re.compile(
    r"^-?P(?!$)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$"
)


@dataclass
class Field:
    """One property of a model: where it sits in the JSON body and what it must hold."""

    path: tuple[str, ...]
    wire: str  # msrest wire type, or a TypeSpec annotation rendered the same way
    required: bool = False
    readonly: bool = False
    enum: tuple[str, ...] = ()
    rules: dict[str, Any] = field(default_factory=dict)


@dataclass
class Model:
    """A model class's fields plus its polymorphic subtypes (discriminator JSON key -> value -> class)."""

    name: str
    module: str
    fields: list[Field]
    discriminator: tuple[str, dict[str, str]] | None = None


def _ivar_enums(cls: type) -> dict[str, tuple[str, ...]]:
    """Attribute name -> the 'Known values are' of its docstring (both generators write them)."""
    out: dict[str, tuple[str, ...]] = {}
    for klass in reversed(cls.__mro__):
        doc = klass.__dict__.get("__doc__") or ""
        for name, text in _IVAR.findall(doc):
            m = _KNOWN.search(text)
            if m:
                out[name] = tuple(_QUOTED.findall(m.group(1)))
    return out


def _models_module(cls: type) -> Any:
    """The `models` package a generated class belongs to (where its referenced classes are found)."""
    mod = cls.__module__
    parts = mod.split(".")
    for i in range(len(parts), 0, -1):
        if parts[i - 1] == "models":
            return importlib.import_module(".".join(parts[:i]))
    return sys.modules[mod]


def _annotation_wire(annotation: Any) -> tuple[str, bool, str | None]:
    """(wire type, optional?, enum class name) of a TypeSpec annotation, rendered as msrest writes types."""
    if isinstance(annotation, type):
        annotation = {"datetime": "datetime.datetime", "timedelta": "datetime.timedelta", "date": "datetime.date"}.get(
            annotation.__name__, annotation.__name__
        )
    text = annotation if isinstance(annotation, str) else str(annotation)
    text = text.replace("typing.", "").replace("ForwardRef(", "").replace("'", "").replace('"', "").replace(")", "")
    optional = text.startswith("Optional[") or "None" in text
    if text.startswith("Optional["):
        text = text[len("Optional[") : -1]
    enum_name = None
    m = re.match(r"^Union\[str, _models\.(\w+)\]$", text)
    if m:
        return "str", optional, m.group(1)

    def render(t: str) -> str:
        t = t.strip()
        if t.startswith("list["):
            return "[" + render(t[5:-1]) + "]"
        if t.startswith("dict[str,"):
            return "{" + render(t[len("dict[str,") : -1]) + "}"
        if t.startswith("Union[str, _models."):
            return "str"
        if t.startswith("_models."):
            return t[len("_models.") :]
        return {
            "str": "str",
            "int": "int",
            "float": "float",
            "bool": "bool",
            "datetime.datetime": "iso-8601",
            "datetime.timedelta": "duration",
            "datetime.date": "date",
            "Any": "object",
        }.get(t, "object")

    return render(text), optional, enum_name


@cache
def model(path: str) -> Model:
    """The validation view of a model class given as 'module:Class' (or a class's qualified name)."""
    module, _, name = path.partition(":")
    cls = getattr(importlib.import_module(module), name)
    return _describe(cls)


def _describe(cls: type) -> Model:
    enums = _ivar_enums(cls)
    fields: list[Field] = []
    discriminator = None
    if hasattr(cls, "_attribute_map"):  # msrest generation
        validation = getattr(cls, "_validation", {}) or {}
        for attr, spec in cls._attribute_map.items():
            path = tuple(p.replace("\\.", ".") for p in re.split(r"(?<!\\)\.", spec["key"]))
            rules = dict(validation.get(attr, {}))
            fields.append(
                Field(
                    path,
                    spec["type"],
                    bool(rules.pop("required", False)),
                    bool(rules.pop("readonly", False)),
                    enums.get(attr, ()),
                    rules,
                )
            )
        sub = getattr(cls, "_subtype_map", None) or {}
        if sub:
            attr, mapping = next(iter(sub.items()))
            key = cls._attribute_map[attr]["key"].replace("\\.", ".")
            discriminator = (key, dict(mapping))
    else:  # TypeSpec generation (model_base)
        annotations: dict[str, Any] = {}
        rest: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            annotations.update(inspect.get_annotations(klass))
            for k, v in klass.__dict__.items():
                if not k.startswith("_") and hasattr(v, "_visibility") and hasattr(v, "_rest_name_input"):
                    rest[k] = v
        for attr, rf in rest.items():
            wire, optional, enum_name = _annotation_wire(annotations.get(attr, "Any"))
            values = enums.get(attr, ())
            if enum_name and not values:
                enum_cls = getattr(_models_module(cls), enum_name, None)
                if isinstance(enum_cls, type) and issubclass(enum_cls, enum.Enum):
                    values = tuple(str(e.value) for e in enum_cls)
            readonly = rf._visibility == ["read"]
            fields.append(
                Field(((rf._rest_name_input or attr),), wire, not optional and not readonly, readonly, values)
            )
        mapping = getattr(cls, "__mapping__", None)
        if mapping:
            disc = next((v for v in cls.__dict__.values() if getattr(v, "_is_discriminator", False)), None)
            if disc is not None:
                discriminator = (disc._rest_name_input, {k: c.__name__ for k, c in mapping.items()})
    return Model(cls.__name__, f"{_models_module(cls).__name__}", fields, discriminator)


class Invalid(ArmError):
    """A body the schema refuses (400 with the provider's code)."""


def validate(body: Any, model_path: str, code: str = "InvalidRequestContent", skip: tuple[str, ...] = ()) -> None:
    """Raise ArmError(400, code) for the first property of `body` that the model refuses.

    Read-only properties are ignored (as ARM ignores them); unknown properties are ignored; `skip` lists JSON paths
    (dotted) left to hand-written rules."""
    _check_model(body, model(model_path), "", code, set(skip))


def _get(body: dict[str, Any], path: tuple[str, ...]) -> tuple[bool, Any]:
    node: Any = body
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _fail(code: str, where: str, what: str) -> None:
    raise ArmError(
        400, code, f"The request content was invalid and could not be deserialized: '{what}. Path '{where}'.'"
    )


def _check_model(body: Any, m: Model, where: str, code: str, skip: set[str]) -> None:
    if not isinstance(body, dict):
        _fail(code, where or "$", f"Expected a JSON object for '{m.name}', got {type(body).__name__}")
    if m.discriminator:
        key, mapping = m.discriminator
        found, value = _get(body, tuple(key.split(".")) if "." in key and key not in body else (key,))
        if found and value is not None:
            target = next((c for v, c in mapping.items() if v.lower() == str(value).lower()), None)
            if target is None:
                _fail(
                    code,
                    _join(where, key),
                    f"Unknown discriminator value '{value}' for '{m.name}'; known: {', '.join(mapping)}",
                )
            sub = _class_model(m.module, str(target))
            if sub is not None and sub.name != m.name:
                _check_model(body, sub, where, code, skip)
                return
    for f in m.fields:
        if f.readonly:
            continue
        dotted = _join(where, ".".join(f.path))
        if dotted in skip:
            continue
        found, value = _get(body, f.path)
        if not found or value is None:
            if f.required:
                parent = _join(where, ".".join(f.path[:-1])) or "$"
                _fail(code, parent, f"Required property '{f.path[-1]}' not found in JSON")
            continue
        _check_value(value, f.wire, f, dotted, m.module, code, skip)


def _class_model(module: str, name: str) -> Model | None:
    cls = getattr(importlib.import_module(module), name, None)
    return _describe(cls) if isinstance(cls, type) else None


def _join(a: str, b: str) -> str:
    return f"{a}.{b}" if a and b else a or b


def _check_value(value: Any, wire: str, f: Field, where: str, module: str, code: str, skip: set[str]) -> None:
    rules = f.rules
    if wire.startswith("["):
        if not isinstance(value, list):
            _fail(code, where, f"Expected an array, got {type(value).__name__}")
        if "max_items" in rules and len(value) > rules["max_items"]:
            _fail(code, where, f"The array has {len(value)} items; at most {rules['max_items']} are allowed")
        if "min_items" in rules and len(value) < rules["min_items"]:
            _fail(code, where, f"The array has {len(value)} items; at least {rules['min_items']} are required")
        inner = Field(f.path, wire[1:-1], enum=f.enum)
        for i, item in enumerate(value):
            _check_value(item, wire[1:-1], inner, f"{where}[{i}]", module, code, skip)
        return
    if wire.startswith("{"):
        if not isinstance(value, dict):
            _fail(code, where, f"Expected an object, got {type(value).__name__}")
        inner = Field(f.path, wire[1:-1])
        for k, item in value.items():
            _check_value(item, wire[1:-1], inner, f"{where}.{k}", module, code, skip)
        return
    if wire == "str":
        if not isinstance(value, str):
            _fail(code, where, f"Expected a string, got {type(value).__name__}")
        if f.enum and value.lower() not in {e.lower() for e in f.enum}:
            _fail(code, where, f'Error converting value "{value}"; allowed values are: {", ".join(f.enum)}')
        if "max_length" in rules and len(value) > rules["max_length"]:
            _fail(code, where, f"The value is {len(value)} characters long; at most {rules['max_length']} are allowed")
        if "min_length" in rules and len(value) < rules["min_length"]:
            _fail(
                code, where, f"The value is {len(value)} characters long; at least {rules['min_length']} are required"
            )
        if "pattern" in rules and not re.search(rules["pattern"], value):
            _fail(code, where, f"The value '{value}' does not match the pattern '{rules['pattern']}'")
        return
    if wire in ("int", "long", "float"):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (wire != "float" and isinstance(value, float) and not value.is_integer())
        ):
            _fail(code, where, f"Expected a number ({wire}), got {type(value).__name__}")
        if "maximum" in rules and value > rules["maximum"]:
            _fail(code, where, f"The value {value} is above the maximum {rules['maximum']}")
        if "minimum" in rules and value < rules["minimum"]:
            _fail(code, where, f"The value {value} is below the minimum {rules['minimum']}")
        return
    if wire == "bool":
        if not isinstance(value, bool):
            _fail(code, where, f"Expected a boolean, got {type(value).__name__}")
        return
    if wire in ("iso-8601", "rfc-1123", "date"):
        if not isinstance(value, str) or not _is_datetime(value):
            _fail(code, where, f"Could not convert '{value}' to a date and time")
        return
    if wire == "duration":
        if not isinstance(value, str) or not _DURATION.match(value):
            _fail(code, where, f"Could not convert '{value}' to an ISO 8601 duration")
        return
    if wire in ("object", "any", "", "bytearray", "base64"):
        return
    sub = _class_model(module, wire)
    if sub is not None:
        _check_model(value, sub, where, code, skip)


def _is_datetime(text: str) -> bool:
    try:
        _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


def wire_type_names(model_path: str) -> list[str]:
    """Every JSON path a model declares (for tests and docs)."""
    return [".".join(f.path) for f in model(model_path).fields]


__all__ = ["Field", "Invalid", "Model", "model", "validate", "wire_type_names"]
