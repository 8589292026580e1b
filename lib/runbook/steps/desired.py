"""Configuring steps as tables of desired resources over one base that lists, compares, writes and judges.

A step says *what* the tenant should hold: a list of `Desired` rows (subscription, kind, resource ID, api-version,
REST body, which JSON paths must match). The base does the rest the same way for every step:
- inspect lists each collection once (GET on the parent collection, full REST objects, all pages) and pairs every
  desired row with what exists;
- plan makes one `Change` per missing or differing row, in the table's order (dependencies first), carrying the body
  as its payload (kept out of the evidence: bodies may hold a webhook token);
- apply PUTs each payload by ID (long-running operations are waited for);
- verification re-inspects, and the verdict counts what is in place per kind.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest

from ..evidence.archive import SECRET_PATTERNS
from ..evidence.results import Change
from .base import Context, Observation, ScopeFailure, Step, Verdict


@dataclass(frozen=True)
class Desired:
    """One resource the tenant should hold, as the REST API writes it."""

    subscription: str
    kind: str  # shown to people and used in change actions: "action group", "metric alert", ...
    id: str  # full ARM resource ID
    api_version: str
    body: dict[str, Any] = field(hash=False, compare=False)
    compare: tuple[str, ...] = ()  # JSON paths that must match; "a.b[x,y]" projects a list of objects to (x, y) pairs
    watches: str = ""  # what the resource looks after, for the table
    preserve: tuple[str, ...] = ()  # top-level or dotted paths an update copies from the existing object (eTag, ...)

    @property
    def name(self) -> str:
        """The resource's name (last ID segment)."""
        return self.id.rstrip("/").rsplit("/", 1)[-1]

    @property
    def collection(self) -> str:
        """The list this resource appears in (its ID without the name)."""
        return self.id.rstrip("/").rsplit("/", 1)[0]


def _walk(obj: Any, path: str) -> tuple[Any, list[str] | None]:
    """The node at a JSON path "a.b" (None where a step is missing), and for "a.b[x,y]" the key names x, y."""
    keys = None
    if path.endswith("]") and "[" in path:
        path, _, inner = path[:-1].partition("[")
        keys = [k.strip() for k in inner.split(",")]
    node = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node, keys


def project(obj: Any, path: str) -> Any:
    """The comparable value at a JSON path: strings case-insensitive, numbers as floats, lists sorted."""
    node, keys = _walk(obj, path)
    if keys is not None:
        return sorted(
            (tuple(_norm(item.get(k)) for k in keys) for item in node or [] if isinstance(item, dict)), key=repr
        )
    return _norm(node)


def _norm(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, list):
        return sorted((_norm(v) for v in value), key=repr)
    if isinstance(value, dict):
        return json.dumps({k: _norm(v) for k, v in value.items()}, sort_keys=True)
    return value


def value_at(obj: Any, path: str) -> Any:
    """The value at a JSON path as the body holds it (for people: not normalised); "a.b[x,y]" gives the list's
    objects cut to x and y."""
    node, keys = _walk(obj, path)
    if keys is not None:
        return [{k: item.get(k) for k in keys} for item in node or [] if isinstance(item, dict)]
    return node


_SECRET_KEY = re.compile(r"secret|password|token|sas|key$|signature|connectionstring", re.IGNORECASE)


def masked(value: Any, key: str = "") -> Any:
    """A value fit to show and archive: secrets (by their key's name or their shape) and URL query strings (a webhook's
    token rides in one) replaced by '***'."""
    if isinstance(value, dict):
        return {k: masked(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, key) for v in value]
    if isinstance(value, str):
        if key and _SECRET_KEY.search(key) and not key.lower().endswith(("id", "name")):
            return "***"
        if any(p.search(value) for p in SECRET_PATTERNS.values()):
            return "***"
        if "://" in value and "?" in value:
            return value.split("?", 1)[0] + "?***"
    return value


def values_of(want: Desired, have: dict[str, Any] | None) -> dict[str, Any]:
    """What a change writes, for the review: on a create the value at every compared path; on an update each
    differing path's old and new value. Secrets masked."""
    if have is None:
        return {p: masked(value_at(want.body, p)) for p in want.compare}
    return {
        p: {"old": masked(value_at(have, p)), "new": masked(value_at(want.body, p))} for p in differences(want, have)
    }


def _brief(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def differences(want: Desired, have: dict[str, Any]) -> list[str]:
    """The compared paths where an existing object differs from the desired body."""
    return [p for p in want.compare if project(want.body, p) != project(have, p)]


class DesiredResourcesStep(Step):
    """Base of configuring steps that ensure a table of resources. Subclasses implement `desired`."""

    def desired(self, ctx: Context, unreadable: list[ScopeFailure]) -> list[Desired]:
        """The table: every resource the tenant should hold, in dependency order. Scopes that could not be read
        while building it are named in `unreadable` (their rows are left out; the item fails naming them)."""
        raise NotImplementedError

    def list_objects(self, ctx: Context, subscription: str, collection: str, api_version: str) -> list[dict]:
        """Every object of a collection, all pages (an absent parent is an empty collection)."""
        client = ctx.clients.resource(subscription)
        url: str | None = f"{collection}?api-version={api_version}"
        found: list[dict] = []
        while url:
            resp = client.send_request(HttpRequest("GET", url))
            if resp.status_code == 404:
                return found
            resp.raise_for_status()
            page = resp.json()
            found += page.get("value", [])
            url = page.get("nextLink")
        return found

    def list_collection(self, ctx: Context, subscription: str, collection: str, api_version: str) -> dict[str, dict]:
        """Every object of a collection by lower-cased name."""
        return {
            str(o.get("name", "")).lower(): o for o in self.list_objects(ctx, subscription, collection, api_version)
        }

    def inspect(self, ctx: Context) -> Observation:
        """Pair each desired row with the object that exists (listing each collection once)."""
        failures: list[ScopeFailure] = []
        table = self.desired(ctx, failures)
        skip = {f.scope.lower() for f in failures}
        table = [w for w in table if f"/subscriptions/{w.subscription}".lower() not in skip]
        listed: dict[tuple[str, str], dict[str, dict] | str] = {}
        pairs: list[tuple[Desired, dict | None]] = []
        rows = []
        for want in table:
            key = (want.collection.lower(), want.api_version)
            if key not in listed:
                try:
                    listed[key] = self.list_collection(ctx, want.subscription, want.collection, want.api_version)
                except HttpResponseError as exc:  # one scope without rights does not sink the others
                    listed[key] = self.explain(exc)
                    failures.append(ScopeFailure(want.collection, f"cannot read {want.kind}s: {listed[key]}"))
            found = listed[key]
            if isinstance(found, str):
                state = f"failed: {found}"
            else:
                have = found.get(want.name.lower())
                pairs.append((want, have))
                diff = differences(want, have) if have is not None else []
                shown = values_of(want, have) if diff else {}
                state = (
                    "missing"
                    if have is None
                    else "differs: "
                    + "; ".join(f"{p} {_brief(v['old'])} -> {_brief(v['new'])}" for p, v in shown.items())
                    if diff
                    else "in place"
                )
            rows.append(
                {
                    "subscription": want.subscription,
                    "kind": want.kind,
                    "name": want.name,
                    "watches": want.watches or f"/subscriptions/{want.subscription}",
                    "state": state,
                }
            )
        return Observation(rows, {"pairs": pairs, "failures": failures})

    def state(self, ctx: Context, obs: Observation, change: Change) -> object:
        """The target's compared properties as `obs` read them (masked as in the plan), None where it does not
        exist; a resource group (nothing compared) by its location."""
        if "by_id" not in obs.facts:  # indexed once per observation
            obs.facts["by_id"] = {want.id.lower(): (want, have) for want, have in obs.facts["pairs"]}
        found = obs.facts["by_id"].get(change.target.lower())
        if found is None:
            return super().state(ctx, obs, change)
        want, have = found
        if have is None:
            return None
        return {p: masked(value_at(have, p)) for p in want.compare or ("location",)}

    def plan(self, ctx: Context, obs: Observation) -> list[Change]:
        """Create what is missing and update what differs, in the table's order."""
        changes = []
        for want, have in obs.facts["pairs"]:
            if have is None or differences(want, have):
                verb = "create" if have is None else "update"
                detail = {
                    "name": want.name,
                    "kind": want.kind,
                    "api_version": want.api_version,
                    "values": values_of(want, have),
                }
                changes.append(
                    Change(want.id, f"{verb} {want.kind}", detail, payload=_keep(want.body, have, want.preserve))
                )
        return changes

    def apply(self, ctx: Context, changes: list[Change]) -> list[Change]:
        """Apply the table's changes (`apply_table`); PartialFailure naming the refused ones."""
        return self.applied(ctx, self.apply_table(ctx, changes))

    def apply_table(self, ctx: Context, changes: list[Change]) -> list[ScopeFailure]:
        """PUT each reviewed payload by ID, waiting for long-running operations. Changes run in waves by kind, in
        the table's order (a resource group before its action group before the alerts that use it); within a wave
        they run concurrently (`tagging.concurrency`), paced per subscription under ARM's write limits (a 429 holds
        that subscription's workers until its Retry-After). A refusal names the change; the others go on. Returns the
        refusals (steps with work beyond their table go on with it)."""
        from concurrent.futures import ThreadPoolExecutor

        from ..adapters.pacing import Pacer, interleave_by_subscription, paced_call

        pacer = Pacer()
        failures: list[ScopeFailure] = []
        waves: dict[str, list[Change]] = {}
        for c in changes:
            waves.setdefault(str(c.detail.get("kind", c.action)), []).append(c)

        def one(c: Change) -> ScopeFailure | None:
            sub = c.target.split("/")[2]
            client = ctx.clients.resource(sub, retry_total=0)  # the pacer does the waiting, for all workers
            try:
                paced_call(
                    pacer,
                    sub.lower(),
                    lambda: client.resources.begin_create_or_update_by_id(
                        c.target, c.payload, api_version=c.detail["api_version"]
                    ).result(),
                )
            except HttpResponseError as exc:  # the other changes go on; this one is named
                return ScopeFailure(c.target, f"{c.action}: {self.explain(exc)}")
            ctx.accepted(c)
            return None

        if not changes:
            return []
        with ThreadPoolExecutor(max_workers=ctx.params.tagging.concurrency) as pool:
            for wave in waves.values():
                failures += [f for f in pool.map(one, interleave_by_subscription(wave)) if f]
        return failures

    def judge(self, ctx: Context, obs: Observation, pending: list[Change], applied: list[Change]) -> Verdict:
        """Fulfilled when every desired resource is in place; counts per kind; failed where a scope could not be read."""
        if obs.facts["failures"]:
            return Verdict(
                "failed",
                f"Could not read {len(obs.facts['failures'])} scope(s); the others were handled.",
                obs.facts["failures"] + [c.headline for c in pending[:50]],
            )
        if pending:
            return super().judge(ctx, obs, pending, applied)
        done = f" ({len(applied)} change(s) applied)" if applied else ""
        return Verdict(
            "fulfilled",
            "In place: "
            + _counts(w.kind for w, _ in obs.facts["pairs"])
            + f" across {len(ctx.params.subscription_ids)} subscription(s){done}.",
        )


def _keep(body: dict[str, Any], have: dict | None, paths: tuple[str, ...]) -> dict[str, Any]:
    """The body to write: the desired one, with the preserved paths taken from the existing object on an update."""
    if have is None or not paths:
        return body
    out = json.loads(json.dumps(body))
    for path in paths:
        *parents, last = path.split(".")
        src: Any = have
        dst = out
        for part in parents:
            src = src.get(part, {}) if isinstance(src, dict) else {}
            dst = dst.setdefault(part, {})
        if isinstance(src, dict) and last in src:
            dst[last] = src[last]
    return out


def _counts(kinds: Iterable[str]) -> str:
    counts: dict[str, int] = {}
    for k in kinds:
        counts[k] = counts.get(k, 0) + 1
    return ", ".join(f"{v} {k}(s)" for k, v in counts.items()) or "nothing to do"
