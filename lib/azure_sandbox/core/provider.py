"""What a provider module declares (types, routes, POST actions, per-type behaviour) and the registry of them.

A provider namespace (Microsoft.Insights, Microsoft.Security, ...) is one module under `azure_sandbox.providers`
holding one `Provider` subclass; `providers.PROVIDERS` lists them. The protocol core (`core.arm`) routes a request to
a provider's route, or to the generic CRUD of a declared type, calling the provider's hook for that type. Adding a
provider, a type or an action never edits the router.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .http import Request, Response

#: The protocol core a provider is called with (`core.arm.Arm`). Declared as Any here: the declarations are what the
#: router imports, so they cannot import the router back (providers annotate `arm: Arm` themselves).
Arm = Any


@dataclass(frozen=True)
class TypeSpec:
    """Behaviour of one resource type (status codes follow the REST spec of the api-versions clients send)."""

    type: str
    api_versions: tuple[str, ...] = ()  # fallback when the api-version table (Registry.versions) lacks the type
    put_created: int = 201
    put_updated: int = 200
    delete_codes: tuple[int, int] = (200, 204)  # (resource existed, resource was absent)
    put_lro: bool = False  # PUT answers 201 + Azure-AsyncOperation, then completes
    delete_lro: bool = False  # DELETE answers 202 + Location, then completes
    tracked: bool = True  # listed by /resources, carries location and tags
    patch: bool = True
    model: str = ""  # "module:Class" of the azure-mgmt model whose generated metadata validates PUT bodies
    global_location: bool = False  # location 'global' is accepted (and only global, when `global_only`)
    global_only: bool = False
    name_rule: tuple[int, int, str] | None = None  # (min length, max length, regex) of the resource name
    invalid_code: str = "InvalidRequestContent"  # this RP's error code for a body its schema refuses
    tenant_level: bool = False  # also readable at tenant scope (/providers/...)
    schema_skip: tuple[str, ...] = ()  # dotted body paths the schema leaves to the provider's validate_<type> rules
    # how ARM refuses an api-version the type lacks: NoRegisteredProviderFound (types of a resource provider) or
    # InvalidResourceType (types ARM hosts itself, e.g. Microsoft.Authorization)
    version_error: str = "NoRegisteredProviderFound"

    @property
    def key(self) -> str:
        """Lower-cased type, the lookup key."""
        return self.type.lower()

    @property
    def hook_name(self) -> str:
        """Name of the provider method holding this type's behaviour: on_<type segments>."""
        return "on_" + "_".join(self.type.split("/")[1:]).lower()


# (arm, request, principal, match, path) -> Response
Handler = Callable[[Any, "Request", str, "re.Match[str]", str], "Response"]


@dataclass(frozen=True)
class Route:
    """A path a provider serves itself (not a resource type): lists, actions, singletons."""

    pattern: str  # regex matched against the lower-cased, normalised path
    handler: str  # name of the provider method: (arm, req, principal, match, path) -> Response
    api_versions: tuple[str, ...]
    what: str  # the type name shown in api-version errors
    methods: tuple[str, ...] | None = None
    namespace_error: bool = False  # api-version errors as NoRegisteredProviderFound (provider types) or not
    type: str = ""  # key of the api-version table (Registry.versions) this path's versions come from

    @property
    def version_error(self) -> str:
        """ARM's code for an api-version the path lacks: its own paths InvalidApiVersionParameter."""
        return "NoRegisteredProviderFound" if self.namespace_error else "InvalidApiVersionParameter"

    def compiled(self) -> re.Pattern[str]:
        """The pattern compiled (anchored)."""
        return re.compile("^" + self.pattern + "$")


class Provider:
    """One provider namespace. Subclasses set `namespace`, `types`, `routes` and define `on_<type>` hooks.

    A hook `on_<type>(arm, req, ap, spec, principal)` runs after authorization and body validation; it returns a
    Response to answer, or None to fall through to the generic CRUD. `validate_<type>(arm, req, ap, spec, body)`
    (optional) raises ArmError for a body Azure refuses, before anything is stored.
    """

    namespace: str = ""
    types: tuple[TypeSpec, ...] = ()
    routes: tuple[Route, ...] = ()

    def seed(self, state: Any) -> None:
        """Built-in data the provider puts into a new tenant (nothing by default)."""

    def admit(self, arm: Arm, before: dict | None, after: dict) -> dict:
        """Admission of a write about to be stored (any provider's resource, a resource group, tags): return the object
        to store (possibly changed, e.g. by a policy's modify effect) or raise ArmError to refuse it (e.g. a deny
        policy). Providers without a say return it unchanged."""
        return after

    def present(self, arm: Arm, obj: dict) -> dict:
        """A stored object as clients read it (a provider that computes its answers, e.g. Defender pricings, says how);
        other providers' rules (policy existence checks) see this view."""
        return obj

    def hook(self, spec: TypeSpec) -> Callable[..., Any] | None:
        """The `on_<type>` behaviour of a type, if the provider has one."""
        return getattr(self, spec.hook_name, None)

    def validator(self, spec: TypeSpec) -> Callable[..., Any] | None:
        """The `validate_<type>` semantic rules of a type, if the provider has them."""
        return getattr(self, "validate_" + spec.hook_name[3:], None)


@dataclass
class Registry:
    """Every registered provider, its types by lower-cased name, and the routes in registration order."""

    providers: list[Provider] = field(default_factory=list)
    types: dict[str, TypeSpec] = field(default_factory=dict)
    owner: dict[str, Provider] = field(default_factory=dict)
    routes: list[tuple[re.Pattern[str], Route, Provider]] = field(default_factory=list)
    api_versions: dict[str, tuple[str, ...]] = field(default_factory=dict)  # lower-cased type -> versions

    @classmethod
    def of(cls, providers: Iterable[Provider], api_versions: dict[str, tuple[str, ...]] | None = None) -> Registry:
        """A registry of the given providers (types and routes indexed) and the api-version table (type -> the
        versions the REST specs publish for it), which takes precedence over the versions a type declares."""
        reg = cls(api_versions={k.lower(): tuple(v) for k, v in (api_versions or {}).items()})
        for p in providers:
            reg.providers.append(p)
            for spec in p.types:
                if spec.key in reg.types:
                    raise ValueError(f"type {spec.type} declared twice")
                reg.types[spec.key] = spec
                reg.owner[spec.key] = p
            for r in p.routes:
                reg.routes.append((r.compiled(), r, p))
        return reg

    def lookup(self, resource_type: str) -> TypeSpec | None:
        """Spec of a resource type, case-insensitively."""
        return self.types.get(resource_type.lower())

    def versions(self, type_name: str, declared: tuple[str, ...] = ()) -> tuple[str, ...]:
        """The api-versions of a type (or route type): the table's, else what its declaration lists."""
        return self.api_versions.get(type_name.lower()) or declared

    def provider_of(self, spec: TypeSpec) -> Provider:
        """The provider that declared a type."""
        return self.owner[spec.key]

    def namespaces(self) -> dict[str, str]:
        """Lower-cased namespace -> namespace as declared, for every registered provider."""
        out = {p.namespace.lower(): p.namespace for p in self.providers if p.namespace}
        for spec in self.types.values():
            ns = spec.type.split("/")[0]
            out.setdefault(ns.lower(), ns)
        return out

    def route(self, low_path: str, method: str) -> tuple[Route, Provider, re.Match[str]] | None:
        """The first provider route matching a path and method."""
        for pattern, r, p in self.routes:
            if r.methods is not None and method not in r.methods:
                continue
            m = pattern.match(low_path)
            if m:
                return r, p, m
        return None
