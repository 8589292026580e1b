"""Stage 1: tag every managed resource (from the Manageable Resource Sheet) with the MSP's managed tag."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed

from azure.core.exceptions import HttpResponseError

from ..adapters.inventory import Resource
from ..adapters.pacing import Pacer, interleave_by_subscription, paced_call
from ..adapters.progress import progress
from ..customer import sheet
from ..evidence.results import Change
from .base import Context, Observation, ScopeFailure, Step, Verdict, apply_hint, error_text


def managed_marking(
    ctx: Context, resources: list[Resource], unreadable: list[ScopeFailure] | None = None
) -> sheet.Marking:
    """The marked sheet, checked against the resources that exist now (rows of unreadable subscriptions as they are)."""
    path = sheet.sheet_path(ctx.params.customer, ctx.params.resource_sheet.path)
    scopes = tuple(u.scope.lower() + "/" for u in unreadable or [])
    return sheet.read(path, {r.key for r in resources}, scopes)


def tag_change(resource: Resource, key: str, value: str) -> Change | None:
    """The merge needed to give a resource key=value, reusing an existing key's casing; None if already so."""
    existing_key = resource.tag_key(key)
    if existing_key is not None and resource.tags[existing_key] == value:
        return None
    use_key = existing_key or key  # tag names are case-insensitive: never add a second casing
    return Change(
        resource.id,
        "merge tag",
        {"key": use_key, "value": value, "was": resource.tags.get(existing_key) if existing_key else None},
    )


class TagManagedResources(Step):
    """Merge the managed tag onto every resource marked Yes; never replaces or removes other tags."""

    item_id = "s1-tag-managed-resources"

    def __init__(self) -> None:
        self.outcomes: dict[str, str] = {}  # resource id -> "locked" / error text, from the last apply

    def inspect(self, ctx: Context) -> Observation:
        """Resources, the marked sheet, and each managed resource's current tag."""
        unreadable: list[ScopeFailure] = []  # subscriptions Azure refuses to list fail their part; the others go on
        resources = ctx.resources(ctx.params.monitoring.resource_group, unreadable)
        marking = managed_marking(ctx, resources, unreadable)
        key = ctx.params.managed_tag.key
        rows = []
        for r in resources:
            marked = r.key in marking.managed
            current = r.tag_value(key)
            if marked or current is not None:
                rows.append(
                    {
                        "resource": r.id,
                        "type": r.type,
                        "marked managed": "Yes" if marked else ("No" if r.key in marking.unmanaged else "unmarked"),
                        f"tag {key}": current if current is not None else "",
                        "tag key casing": r.tag_key(key) or "",
                    }
                )
        return Observation(rows, {"resources": resources, "marking": marking, "unreadable": unreadable})

    def plan(self, ctx: Context, obs: Observation) -> list[Change]:
        """One merge per managed resource that lacks the tag or has another value."""
        key, value = ctx.params.managed_tag.key, ctx.params.managed_tag.value
        managed = obs.facts["marking"].managed
        changes = [tag_change(r, key, value) for r in obs.facts["resources"] if r.key in managed]
        return [c for c in changes if c is not None]

    def state(self, ctx: Context, obs: Observation, change: Change) -> object:
        """The managed tag of the change's resource as `obs` read it (only that tag: other tags may name people)."""
        key = str(change.detail.get("key") or ctx.params.managed_tag.key)
        if "by_id" not in obs.facts:  # indexed once per observation: an apply may tag thousands
            obs.facts["by_id"] = {r.id.lower(): r for r in obs.facts["resources"]}
        r = obs.facts["by_id"].get(change.target.lower())
        return {f"tags.{key}": r.tag_value(key)} if r is not None else super().state(ctx, obs, change)

    def apply(self, ctx: Context, changes: list[Change]) -> list[Change]:
        """Merge tags with bounded concurrency, paced per subscription under ARM's write limits;
        locked resources are recorded, not fatal."""
        self.outcomes = {}
        self.pacer = Pacer()
        applied: list[Change] = []

        def one(change: Change) -> tuple[Change, str]:
            sub = change.target.split("/")[2].lower()
            operation = "Delete" if change.action == "remove tag" else "Merge"  # Delete removes only this key=value
            body = {"operation": operation, "properties": {"tags": {change.detail["key"]: change.detail["value"]}}}
            # retry_total=0: the pacer does the retrying, one waiting policy for all workers
            client = ctx.clients.resource(sub, retry_total=0)
            try:
                paced_call(self.pacer, sub, lambda: client.tags.begin_update_at_scope(change.target, body).result())
                return change, "applied"
            except HttpResponseError as exc:
                if exc.status_code == 409 and exc.error is not None and exc.error.code == "ScopeLocked":
                    return change, "locked"
                return change, error_text(exc)

        with (
            progress(total=len(changes), desc="tagging") as bar,
            ThreadPoolExecutor(max_workers=ctx.params.tagging.concurrency) as pool,
        ):
            for future in as_completed([pool.submit(one, c) for c in interleave_by_subscription(changes)]):
                change, outcome = future.result()
                bar.update(1)
                if outcome == "applied":
                    applied.append(change)
                    ctx.accepted(change)
                else:
                    self.outcomes[change.target.lower()] = outcome
        return applied

    def judge(self, ctx: Context, obs: Observation, pending: list[Change], applied: list[Change]) -> Verdict:
        """Fulfilled when nothing is pending; locked resources leave the item open, named one by one."""
        marking = obs.facts["marking"]
        counts = f"{len(marking.managed)} marked managed, {len(marking.unmanaged)} not managed, {len(marking.unmarked)} unmarked"
        locked = [c for c in pending if self.outcomes.get(c.target.lower()) == "locked"]
        errors = [c for c in pending if c not in locked and c.target.lower() in self.outcomes]
        missing = list(obs.facts.get("unreadable", []))
        missing += [f"{c.target}: locked (409 ScopeLocked); remove the ReadOnly lock or tag it by hand" for c in locked]
        missing += [f"{c.target}: {self.outcomes[c.target.lower()]}" for c in errors]
        if marking.unmarked:
            missing.append(f"{len(marking.unmarked)} resource(s) are not marked Yes or No in {marking.path.name}")
        if obs.facts.get("unreadable"):
            return Verdict(
                "failed",
                f"{len(obs.facts['unreadable'])} subscription(s) could not be read; {len(applied)} tagged elsewhere ({counts}).",
                missing,
            )
        if errors:
            first = self.outcomes[errors[0].target.lower()]
            return Verdict(
                "failed",
                f"{len(applied)} tagged, {len(errors)} failed, {len(locked)} locked ({counts}). First refusal: {first}",
                missing,
            )
        unexplained = [c for c in pending if c.target.lower() not in self.outcomes]
        if applied and unexplained:
            return Verdict(
                "failed",
                f"{len(applied)} tagged, but verification still finds {len(unexplained)} managed resource(s) without the tag ({counts}).",
                missing + [c.target for c in unexplained[:20]],
            )
        if pending and applied:
            return Verdict(
                "open",
                f"{len(applied)} tagged; {len(locked)} locked resource(s) could not be tagged ({counts}).",
                missing,
            )
        if pending:
            return Verdict(
                "open",
                f"{len(pending)} resource(s) to tag; {apply_hint()} to tag them ({counts}).",
                missing + [f"merge {c.detail['key']}={c.detail['value']}: {c.target}" for c in pending[:20]],
            )
        if marking.unmarked:
            return Verdict(
                "open",
                f"Every resource marked managed carries the tag, but the sheet is not fully marked ({counts}).",
                missing,
            )
        done = f"{len(applied)} tagged now; " if applied else ""
        return Verdict(
            "fulfilled",
            f"{done}every managed resource carries {ctx.params.managed_tag.key}={ctx.params.managed_tag.value} ({counts}).",
        )


class TagSheetResources(TagManagedResources):
    """Stage 3: the sheet as the customer returned it, tagged through the same mechanism as Stage 1. Resources that
    carry the tag but are no longer marked Yes are reported; they are untagged only with `tagging.untag_unmarked`."""

    item_id = "s3-tag-sheet-resources"

    @staticmethod
    def no_longer_marked(ctx: Context, obs: Observation) -> list[Resource]:
        """Resources carrying the managed tag whose sheet row now says No."""
        key, value = ctx.params.managed_tag.key, ctx.params.managed_tag.value
        unmanaged = obs.facts["marking"].unmanaged
        return [r for r in obs.facts["resources"] if r.key in unmanaged and r.tag_value(key) == value]

    def plan(self, ctx: Context, obs: Observation) -> list[Change]:
        """Stage 1's merges, plus (only when asked) removing the tag from resources now marked No."""
        changes = super().plan(ctx, obs)
        if ctx.params.tagging.untag_unmarked:
            key = ctx.params.managed_tag.key
            changes += [
                Change(r.id, "remove tag", {"key": r.tag_key(key) or key, "value": r.tag_value(key)})
                for r in self.no_longer_marked(ctx, obs)
            ]
        return changes

    def judge(self, ctx: Context, obs: Observation, pending: list[Change], applied: list[Change]) -> Verdict:
        """Stage 1's verdict; tagged resources now marked No keep the item open until untagged or marked Yes."""
        verdict = super().judge(ctx, obs, pending, applied)
        dropped = self.no_longer_marked(ctx, obs)
        if dropped and not ctx.params.tagging.untag_unmarked:
            verdict.missing += [f"{r.id}: carries the managed tag but is marked No in the sheet" for r in dropped[:50]]
            verdict.summary += (
                f" {len(dropped)} resource(s) carry the managed tag but are marked No now: set "
                "tagging.untag_unmarked: true to remove the tag, or mark them Yes."
            )
            if verdict.status == "fulfilled":
                verdict.status = "open"
        return verdict


class SheetSummary:
    """What the Manageable Resource Sheet holds, for display in the notebook."""

    def __init__(
        self,
        marking: sheet.Marking,
        created: bool,
        by_type: dict[str, dict[str, int]],
        unreadable: list[ScopeFailure] | None = None,
    ) -> None:
        self.marking, self.created, self.by_type = marking, created, by_type
        self.unreadable = list(unreadable or [])  # subscriptions whose resources could not be listed: named

    def _repr_html_(self) -> str:
        m = self.marking
        import html
        import os

        try:  # a link from the notebook's folder: in JupyterLab it downloads the workbook to open in Excel
            href = os.path.relpath(m.path, os.getcwd())
        except ValueError:
            href = str(m.path)
        link = f'<a href="{html.escape(href)}" download><code>{html.escape(m.path.name)}</code></a>'
        head = f"<p><b>{'Generated' if self.created else 'Read'}</b> {link}: {len(m.managed)} marked managed, {len(m.unmanaged)} not managed, {len(m.unmarked)} unmarked, {len(m.not_in_sheet)} newer than the sheet.</p>"
        rows = "".join(
            f"<tr><td>{t}</td><td>{c.get('Yes', 0)}</td><td>{c.get('No', 0)}</td><td>{c.get('', 0)}</td></tr>"
            for t, c in sorted(self.by_type.items())
        )
        refused = "".join(f"<li>{html.escape(u)}</li>" for u in self.unreadable)
        if refused:
            refused = f"<p><b>Not in the sheet</b> ({len(self.unreadable)} subscription(s) could not be read; their rows stay as they are):</p><ul>{refused}</ul>"
        return (
            head
            + refused
            + f"<table><thead><tr><th>type</th><th>Yes</th><th>No</th><th>unmarked</th></tr></thead><tbody>{rows}</tbody></table>"
        )

    def __repr__(self) -> str:
        m = self.marking
        text = f"{m.path.name}: {len(m.managed)} managed, {len(m.unmanaged)} not managed, {len(m.unmarked)} unmarked, {len(m.not_in_sheet)} newer than the sheet"
        return text + "".join(f"\n  not read: {u}" for u in self.unreadable)


def prepare_sheet(ctx: Context, regenerate: bool = False) -> SheetSummary:
    """Generate the customer's sheet if it does not exist (or when asked), then read and check it."""
    from ..adapters.inventory import subscription_names

    p = ctx.params
    path = sheet.sheet_path(p.customer, p.resource_sheet.path)
    unreadable: list[ScopeFailure] = []  # a subscription Azure refuses to list is named; the others are in the sheet
    resources = ctx.resources(p.monitoring.resource_group, unreadable)
    created = regenerate or not path.exists()
    if created:
        sheet.write(
            path,
            resources,
            subscription_names(ctx.clients, p.subscription_ids),
            p.resource_sheet.prefill,
            (p.managed_tag.key, p.managed_tag.value),
        )
    marking = managed_marking(ctx, resources, unreadable)
    by_type: dict[str, dict[str, int]] = {}
    for r in resources:
        mark = "Yes" if r.key in marking.managed else "No" if r.key in marking.unmanaged else ""
        by_type.setdefault(r.type, {}).setdefault(mark, 0)
        by_type[r.type][mark] += 1
    return SheetSummary(marking, created, by_type, unreadable)
