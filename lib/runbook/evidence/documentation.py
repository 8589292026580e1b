"""The customer documentation (s3-documentation), built from the evidence, never from a fresh read of the tenant.

`build(params, store)` gathers what the documentation says: the customer, its tenant, subscriptions and tier, per
item of Stages 0-3 (those before s3-documentation in the checklist) its verdict, what it did (the changes of the
latest run that applied any), when and in which run; the agreed schedules, the contacts (names and roles only), the
Lighthouse delegation, the credentials' stores, and the evidence runs it comes from with their hashes. Everything
in it is deterministic: the same evidence and parameters give the same document, apart from the generation time.

Its `substance` (per item: verdict, the changes and the run that made them, the attestation; the customer facts from
the parameters) is hashed into the `fingerprint`. A document is current while the fingerprint the evidence gives now
is the one it was built with: a later run that only confirms the state (same verdicts, no new change) keeps it
current; one that changes something makes it stale, and `compare` names what and in which run.

The rendering (Word and HTML) is `documentation_render`; the files go into the run's evidence folder, so the archive
seals them with the run (manifest, hash chain, anchor).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..customer import catalogue
from ..customer.params import Parameters
from ..customer.schedule import AgreedSchedule
from .store import EvidenceStore, Latest

ITEM_ID = "s3-documentation"
DOCX = "customer-documentation.docx"
HTML = "customer-documentation.html"
RECORD = "customer-documentation.json"  # the model it was rendered from: sources, fingerprint, substance
STAGES = (0, 1, 2, 3)
SHOWN_CHANGES = 12  # changes listed per item in the document; the count is always given

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\w.-])\+?\d[\d ()./-]{7,}\d(?![\w.-])")


def clean(text: object) -> str:
    """Text for the document: e-mail addresses and phone numbers taken out (the document names people by name and
    role only; an address an attestation reference holds is not needed to read it)."""
    out = _EMAIL.sub("(e-mail address)", str(text))
    return _PHONE.sub(lambda m: m.group(0) if _not_a_phone(m.group(0)) else "(phone number)", out)


def _not_a_phone(text: str) -> bool:
    """Dates, times, versions, amounts and GUID parts look like digits too: only a run of 9+ digits with at most
    spaces, dashes, dots or brackets between them and no date shape is taken for a phone number."""
    digits = re.sub(r"\D", "", text)
    return len(digits) < 9 or bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", text))


def canonical(value: object) -> str:
    """The one JSON text of a value (sorted keys, no spaces): what is hashed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def digest(value: object) -> str:
    return hashlib.sha256(canonical(value).encode()).hexdigest()


def in_scope() -> list[catalogue.Item]:
    """The items the documentation describes: Stages 0-2, and Stage 3 up to (not including) s3-documentation, in
    checklist order. The items after it (the IaC push, the portal's policy dashboard) are the configuration as code
    and the portal, which document themselves; they would otherwise make every first document stale."""
    cat = catalogue.load()
    out = []
    for item in cat.items:
        if item.id == ITEM_ID:
            break
        if item.stage in STAGES:
            out.append(item)
    return out


@dataclass
class Sources:
    """Per item its latest result and the latest result that applied changes, and the runs they are in."""

    latest: dict[str, Latest] = field(default_factory=dict)
    did: dict[str, Latest] = field(default_factory=dict)

    @classmethod
    def read(cls, store: EvidenceStore, items: list[catalogue.Item]) -> Sources:
        wanted = {i.id for i in items}
        out = cls()
        for rec in store.records():
            item_id = rec.result.item_id
            if item_id not in wanted:
                continue
            out.latest[item_id] = rec
            if rec.result.applied:
                out.did[item_id] = rec
        return out

    def runs(self) -> list[tuple[str, Path, str, list[Latest]]]:
        """The runs used, oldest first: id, folder, how it ran, and the records taken from it."""
        by_run: dict[str, list[Latest]] = {}
        for rec in [*self.latest.values(), *self.did.values()]:
            kept = by_run.setdefault(rec.run_id, [])
            if all(r is not rec for r in kept):
                kept.append(rec)
        out = []
        for run_id in sorted(by_run):
            recs = sorted(by_run[run_id], key=lambda r: r.result.item_id)
            out.append((run_id, recs[0].run_dir, recs[0].how, recs))
        return out


def _item_substance(item: catalogue.Item, src: Sources) -> dict[str, Any]:
    """What the document says about an item that a later run could change: verdict, the changes made and the run
    that made them, the attestation."""
    latest, did = src.latest.get(item.id), src.did.get(item.id)
    att = latest.result.attestation if latest is not None else None
    return {
        "status": latest.result.status if latest is not None else "not-verified",
        "changes_run": did.run_id if did is not None else "",
        "changes": sorted(f"{c.action}: {c.target}" for c in did.result.applied) if did is not None else [],
        "attestation": {k: att.get(k) for k in ("by", "at", "reference", "status", "reason")} if att else None,
    }


def _customer(p: Parameters) -> dict[str, Any]:
    return {
        "customer": p.customer,
        "tenant_name": clean(p.tenant_name),
        "tenant_id": p.tenant_id,
        "tier": p.tier,
        "sla_project_number": clean(p.sla_project_number),
        "engineer": clean(p.engineer),
        "csm": clean(p.csm),
        "msp": clean(p.msp.name),
        "managing_tenant": p.msp.tenant_id,
        "subscriptions": list(p.subscription_ids),
    }


def _schedules(p: Parameters) -> dict[str, Any]:
    agreed = AgreedSchedule(p)
    out: dict[str, Any] = {
        "sentences": [clean(s) for s in agreed.sentences()],
        "rows": [{k: clean(v) for k, v in r.items()} for r in agreed.rows()],
        "monitoring": clean(
            f"Alerts of every subscription go to the action group {p.monitoring.action_group} in resource group "
            f"{p.monitoring.resource_group} ({p.monitoring.location})"
            + (" and to the MSP's webhook" if p.alerts is not None and p.alerts.webhook else "")
            + "."
        ),
        "budget": "",
    }
    if p.budget is not None and catalogue.load().item("s2-budget-alert").applies_to(p.tier):
        b = p.budget
        out["budget"] = clean(
            f"Monthly budget {b.amount:g} {b.currency} per subscription"
            + (f" ({len(b.amounts)} subscription(s) with an amount of their own)" if b.amounts else "")
            + f", alerts at {', '.join(f'{t}%' for t in b.alert_thresholds)} of the actual cost and at 100% forecast."
        )
    return out


def _lighthouse(p: Parameters, src: Sources) -> dict[str, Any]:
    wanted = [a for a in p.msp.expected_authorizations if not a.tiers or p.tier in a.tiers]
    rec = src.latest.get("s3-lighthouse")
    return {
        "offer": clean(p.msp.offer_name),
        "managing_tenant": p.msp.tenant_id,
        "authorizations": [
            {
                "principal": clean(a.principal_name or a.principal_id),
                "principal_id": a.principal_id,
                "role": a.role,
                "may assign": ", ".join(a.delegated_roles),
            }
            for a in wanted
        ],
        "subscriptions": [
            {k: clean(v) for k, v in row.items()} for row in (rec.result.observed if rec is not None else [])
        ],
    }


def _subscriptions(p: Parameters, src: Sources) -> list[dict[str, str]]:
    """Each subscription and how the MSP reaches it, as Stage 0's check found it."""
    rec = src.latest.get("s0-msp-authorized")
    rows = [r for r in (rec.result.observed if rec is not None else []) if r.get("msp")]
    out = []
    for sub in p.subscription_ids:
        held = sorted({f"{r.get('role')} ({r.get('source')})" for r in rows if r.get("subscription") == sub})
        out.append({"subscription": sub, "MSP access": ", ".join(held) or "not found in the evidence"})
    return out


def _credentials(src: Sources) -> list[dict[str, str]]:
    rec = src.latest.get("s3-credentials-stored")
    rows = rec.result.observed if rec is not None else []
    return [{"credential": clean(r.get("credential", "")), "store": clean(r.get("store", ""))} for r in rows]


def _stage_rows(items: list[catalogue.Item], src: Sources, p: Parameters) -> list[dict[str, Any]]:
    cat = catalogue.load()
    stages = []
    for number in STAGES:
        rows = []
        for item in (i for i in items if i.stage == number):
            latest, did = src.latest.get(item.id), src.did.get(item.id)
            r = latest.result if latest is not None else None
            changes = [f"{c.action}: {c.target}" for c in did.result.applied] if did is not None else []
            if did is not None:
                done = f"{len(changes)} change(s) applied in run {did.run_id} ({did.result.finished_at})"
            elif item.kind == "attested":
                done = "" if r is not None and r.attestation else "nothing recorded"
            elif r is not None and r.status == "fulfilled":
                done = "found in place; nothing to change"
            else:
                done = "nothing applied"
            att = r.attestation if r is not None else None
            rows.append(
                {
                    "item": item.id,
                    "heading": clean(item.heading),
                    "role": item.role,
                    "kind": item.kind,
                    "verdict": r.status if r is not None else "not-verified",
                    "summary": clean(r.summary) if r is not None else "not run yet",
                    "did": clean(done),
                    "changes": [clean(c) for c in sorted(changes)[:SHOWN_CHANGES]],
                    "more_changes": max(0, len(changes) - SHOWN_CHANGES),
                    "when": r.finished_at if r is not None else "",
                    "run": latest.run_id if latest is not None else "",
                    "attestation": clean(f"{att.get('by')} on {att.get('at')}: {att.get('reference')}") if att else "",
                    "in_tier": item.applies_to(p.tier),
                }
            )
        stages.append({"number": number, "title": cat.stage(number).title, "items": rows})
    return stages


def _page(run_id: str) -> str:
    """The HTML page of a run's notebook (there once the run is sealed), from the stage its id names."""
    m = re.search(r"-stage(\d+)-", run_id)
    if m is None:
        return ""
    try:
        return str(Path(catalogue.load().stage(int(m.group(1))).notebook).with_suffix(".html"))
    except KeyError:
        return ""


def _source_rows(src: Sources) -> list[dict[str, Any]]:
    """The runs the documentation comes from: their hashes, and a link relative to the folder the document is in
    (a run folder beside theirs)."""
    from .archive import MANIFEST, sha256

    out = []
    for run_id, run_dir, how, recs in src.runs():
        manifest = run_dir / MANIFEST
        page = _page(run_id)
        out.append(
            {
                "run_id": run_id,
                "how": how,
                "items": [r.result.item_id for r in recs],
                # the records used, as canonical JSON: the same hash from the journal of a run still open and from
                # its results.json once sealed
                "records_sha256": digest([r.result.to_dict() for r in recs]),
                "manifest_sha256": sha256(manifest) if manifest.exists() else "",
                "link": f"../{run_id}/{page}" if page else f"../{run_id}/",
            }
        )
    return out


def build(params: Parameters, store: EvidenceStore | None = None) -> dict[str, Any]:
    """The documentation's content from the evidence (and the customer's parameters), without a generation time."""
    store = store or EvidenceStore(params.customer)
    items = in_scope()
    src = Sources.read(store, items)
    p = params
    customer = _customer(p)
    contacts = [{"name": clean(c.name), "role": clean(c.role)} for c in p.contacts]
    schedules = _schedules(p)
    lighthouse = _lighthouse(p, src)
    substance = {
        "items": {i.id: _item_substance(i, src) for i in items},
        "parameters": {"customer": customer, "contacts": contacts, "schedules": schedules, "lighthouse": lighthouse},
    }
    return {
        "title": clean(f"{p.tenant_name}: managed services documentation"),
        "customer": customer,
        "subscriptions": _subscriptions(p, src),
        "lighthouse": lighthouse,
        "stages": _stage_rows(items, src, p),
        "schedules": schedules,
        "contacts": contacts,
        "credentials": _credentials(src),
        "sources": _source_rows(src),
        "substance": substance,
        "fingerprint": digest(substance),
        "runbook_version": __version__,
    }


@dataclass
class Existing:
    """The newest document in the customer's evidence: its run and its record (None when there is none)."""

    run_id: str
    run_dir: Path
    record: dict[str, Any]
    intact: str = ""  # '' when the files are as generated; else what changed


def newest(store: EvidenceStore) -> Existing | None:
    """The newest run folder holding a generated documentation, with its record; `intact` says whether its Word and
    HTML files still have the hashes recorded when they were written."""
    from .archive import sha256

    for run_dir in reversed(store.runs()):
        path = run_dir / RECORD
        if not path.exists():
            continue
        try:
            record = json.loads(path.read_text())
        except ValueError:
            return Existing(run_dir.name, run_dir, {}, f"{RECORD} is not readable")
        broken = [
            name
            for name in (DOCX, HTML)
            if not (run_dir / name).exists() or sha256(run_dir / name) != (record.get("files") or {}).get(name)
        ]
        return Existing(run_dir.name, run_dir, record, f"{', '.join(broken)} changed or missing" if broken else "")
    return None


def compare(existing: Existing | None, now: dict[str, Any]) -> tuple[str, str]:
    """The decision: ('missing' | 'stale' | 'current', why in one line)."""
    runs = ", ".join(s["run_id"] for s in now["sources"]) or "none"
    if existing is None:
        return "missing", f"no customer documentation yet; it will be generated from the evidence of runs {runs}"
    if existing.intact:
        return (
            "stale",
            f"the documentation in run {existing.run_id} was changed after it was generated ({existing.intact})",
        )
    rec = existing.record
    if rec.get("fingerprint") == now["fingerprint"]:
        built = ", ".join(s["run_id"] for s in rec.get("sources", []))
        return "current", f"built in run {existing.run_id} from the evidence of runs {built}"
    was, is_ = rec.get("substance") or {}, now["substance"]
    newer = []
    for item_id, sub in is_["items"].items():
        before = (was.get("items") or {}).get(item_id)
        if before == sub:
            continue
        what = []
        if before is None or before.get("status") != sub["status"]:
            what.append(f"{sub['status']}" + (f", was {before['status']}" if before else ""))
        moved = before is None or (before.get("changes_run"), before.get("changes")) != (
            sub["changes_run"],
            sub["changes"],
        )
        if moved and sub["changes_run"]:
            what.append(f"{len(sub['changes'])} change(s) applied in {sub['changes_run']}")
        if before is not None and before.get("attestation") != sub["attestation"]:
            what.append("attestation changed")
        newer.append(f"{item_id} ({'; '.join(what) or 'changed'})")
    params_changed = [k for k, v in is_["parameters"].items() if (was.get("parameters") or {}).get(k) != v]
    if params_changed:
        newer.append(f"the parameters ({', '.join(params_changed)})")
    built = ", ".join(s["run_id"] for s in rec.get("sources", []))
    latest_runs = sorted({s["run_id"] for s in now["sources"]} - {s["run_id"] for s in rec.get("sources", [])})
    return "stale", (
        f"documentation is stale: built from {built or 'no run'} (run {existing.run_id}), newer evidence "
        + (f"{', '.join(latest_runs)}: " if latest_runs else ": ")
        + "; ".join(newer or ["changed"])
    )
