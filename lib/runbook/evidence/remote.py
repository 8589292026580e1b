"""The auditor's copy of the evidence: every sealed run uploaded to the MSP's Azure Blob container, under a time-based
retention policy, and checked against the local chain and against itself.

Layout: one container per MSP (`msp.evidence_store.container`), `<customer>/<run id>/<file>` in it: the run's files
as its manifest lists them, and manifest.json. `push` uploads what is missing (idempotent and resumable: a blob
already there with the same SHA-256 is skipped; one with other content is named, never overwritten), at most
`workers` uploads at a time, with a progress line every 10%; it refuses a container without a time-based retention
policy of at least `retention_days` (read through ARM) unless `allow_mutable` is given, which the push record says.
A run whose local files no longer match its manifest or its anchored head is not uploaded (named instead).

Each push is recorded in `evidence/<customer>/.pushes.jsonl` (beside the runs, not in one: `verify` checks run
folders only), one JSON line: when, who, where, the policy seen, allow_mutable, what was uploaded.

`verify_remote` names a run sealed locally but not in the archive, a run in the archive but gone locally, a blob
missing, changed (its SHA-256 against the archived manifest), extra, a manifest that differs from the local or the
anchored one, and breaks in the archived chain (a run's link to a previous run the archive lacks or holds otherwise).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from ..adapters.blobstore import BlobArchive, InTenant, Policy, RemoteBlob
from ..adapters.progress import progress
from ..customer.params import Parameters
from ..errors import EvidenceError, InputError, RunbookError
from . import anchor, archive
from .results import stamp

PUSHES = ".pushes.jsonl"
DEFAULT_WORKERS = 4


@dataclass
class PushResult:
    """What one push did for one customer."""

    customer: str
    where: str
    policy: Policy
    allow_mutable: bool
    runs: int = 0
    uploaded: int = 0
    present: int = 0
    conflicts: list[str] = field(default_factory=list)
    not_pushed: list[str] = field(default_factory=list)  # runs whose local files fail their manifest or anchor

    @property
    def ok(self) -> bool:
        """Everything sealed is in the archive as sealed."""
        return not self.conflicts and not self.not_pushed

    def text(self) -> str:
        """The push in lines: counts, the policy, then each problem."""
        mutable = " (--allow-mutable: the container has no retention policy; recorded)" if self.allow_mutable else ""
        lines = [
            f"pushed '{self.customer}' to {self.where}: {self.runs} sealed run(s), {self.uploaded} blob(s) uploaded, "
            f"{self.present} already there; {self.policy.words()}{mutable}"
        ]
        lines += [f"  CONFLICT {c}" for c in self.conflicts]
        lines += [f"  NOT PUSHED {n}" for n in self.not_pushed]
        return "\n".join(lines)


def open_archive(params: Parameters) -> BlobArchive:
    """The MSP's evidence container, reached with the run's credential in the MSP's tenant (InputError, exit 2, when
    msp.evidence_store is not configured)."""
    from ..adapters import azurite
    from ..adapters.clients import sandbox_connection_path
    from ..customer.connect import make_clients

    settings = params.msp.evidence_store
    if settings is None:
        raise InputError(
            "parameters/msp.yml: no msp.evidence_store. Fix: give account_url, container, resource_id (the storage "
            "account's ARM id), retention_days and push (see parameters/template.yml)"
        )
    target = make_clients(params).target
    if target.credential is None:
        raise InputError("no credential to reach the evidence archive. Fix: give credential: in the customer file")
    url = settings.account_url
    if url == "azurite":
        url = azurite.running_url(sandbox_connection_path().parent)
    return BlobArchive(
        url,
        settings.container,
        InTenant(target.credential, params.msp.tenant_id),
        target.verify,
        target.arm_url,
        target.arm_scope,
        settings.resource_id,
        target.client_kwargs,
    )


def check_policy(blobs: BlobArchive, params: Parameters, allow_mutable: bool) -> Policy:
    """The container's policy through ARM; EvidenceError (with the fix) when it has none, or a shorter one than
    retention_days, unless allow_mutable."""
    settings = params.msp.evidence_store
    assert settings is not None
    policy = blobs.policy()
    if allow_mutable:
        return policy
    account = settings.account_name
    fix = (
        f"Fix: set a time-based retention policy of at least {settings.retention_days} days on the container "
        f"(az storage container immutability-policy create --resource-group {settings.resource_group} --account-name "
        f"{account} --container-name {settings.container} --period {settings.retention_days}, then lock it; or "
        f"`runbook evidence protect {params.customer} --apply --lock`), or push with --allow-mutable (recorded in the "
        "evidence)"
    )
    if not policy.present:
        raise EvidenceError(
            f"refused to push to container '{settings.container}' of {account}: it has no time-based retention policy "
            f"(read through ARM), so the evidence could be altered or deleted there. {fix}"
        )
    if policy.days < settings.retention_days:
        raise EvidenceError(
            f"refused to push to container '{settings.container}' of {account}: its retention policy keeps blobs "
            f"{policy.days} days, msp.evidence_store.retention_days asks for {settings.retention_days}. {fix}"
        )
    return policy


def _sealed(customer: str) -> list[Path]:
    return [r for r in archive.runs(customer) if (r / archive.MANIFEST).exists()]


def _local_problem(run_dir: Path, anchored: dict[str, str]) -> str:
    """Why a sealed run must not be uploaded ('' when its files match its manifest and its anchored head)."""
    try:
        manifest = archive.read_manifest(run_dir / archive.MANIFEST)
    except EvidenceError as exc:
        return str(exc)
    for name, digest in manifest["files"].items():
        f = run_dir / name
        if not f.exists():
            return f"{run_dir.name}: {name} is missing locally"
        if archive.sha256(f) != digest:
            return f"{run_dir.name}: {name} was changed after archiving (SHA-256 differs)"
    head = anchored.get(run_dir.name)
    if head is not None and head != archive.sha256(run_dir / archive.MANIFEST):
        return f"{run_dir.name}: manifest.json differs from the anchored one"
    return ""


def _anchored(customer: str) -> dict[str, str]:
    return {e["run_id"]: e["manifest_sha256"] for e in anchor.heads(archive.root(), customer)}


def push(
    params: Parameters,
    allow_mutable: bool = False,
    workers: int = DEFAULT_WORKERS,
    blobs: BlobArchive | None = None,
) -> PushResult:
    """Upload every sealed run of the customer that the archive lacks (see the module's docstring); the push is
    recorded in the customer's .pushes.jsonl."""
    customer = params.customer
    own = blobs is None
    blobs = blobs or open_archive(params)
    try:
        policy = check_policy(blobs, params, allow_mutable)
        result = PushResult(customer, f"{blobs.account_url}/{blobs.container}", policy, allow_mutable)
        there = {b.name: b for b in blobs.listing(f"{customer}/")}
        anchored = _anchored(customer)
        todo: list[tuple[str, Path]] = []
        for run_dir in _sealed(customer):
            result.runs += 1
            problem = _local_problem(run_dir, anchored)
            if problem:
                result.not_pushed.append(problem + " (not uploaded; run `runbook evidence verify`)")
                continue
            manifest = archive.read_manifest(run_dir / archive.MANIFEST)
            for name in [*manifest["files"], archive.MANIFEST]:
                blob = f"{customer}/{run_dir.name}/{name}"
                have = there.get(blob)
                digest = manifest["files"].get(name) or archive.sha256(run_dir / name)
                if have is not None and have.sha256 == digest:
                    result.present += 1
                elif have is not None:
                    result.conflicts.append(
                        f"{blob}: the archive holds other content under this name (not overwritten)"
                    )
                else:
                    todo.append((blob, run_dir / name))
        pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(todo) or 1)))  # uploads in flight, bounded
        with progress(len(todo), f"evidence push {customer}") as bar, pool:
            futures = {pool.submit(blobs.upload, blob, path.read_bytes()): blob for blob, path in todo}
            for future in as_completed(futures):
                outcome = future.result()
                if outcome == "uploaded":
                    result.uploaded += 1
                elif outcome == "present":
                    result.present += 1
                else:
                    result.conflicts.append(
                        f"{futures[future]}: the archive holds other content under this name (not overwritten)"
                    )
                bar.update(1)
        _record(customer, result)
        return result
    finally:
        if own:
            blobs.close()


def protect(params: Parameters, apply: bool = False, lock: bool = False, blobs: BlobArchive | None = None) -> str:
    """The container's time-based retention policy brought to msp.evidence_store.retention_days through ARM: a dry
    run says what would change; with `apply` it is set (created or updated while Unlocked, extended when Locked), with
    `lock` also locked (irreversible). Each change is recorded in the customer's .pushes.jsonl the moment ARM accepts
    it. Returns the outcome in one line."""
    settings = params.msp.evidence_store
    own = blobs is None
    blobs = blobs or open_archive(params)
    assert settings is not None
    try:
        now = blobs.policy()
        want = settings.retention_days
        needed = not now.present or now.days < want or (lock and now.state != "Locked")
        where = f"container '{settings.container}' of {settings.account_name}"
        if not needed:
            return f"{where}: {now.words()}; nothing to change"
        plan = f"time-based retention {max(want, now.days)} days" + (", locked" if lock else "")
        if not apply:
            return f"{where}: {now.words()}; would set {plan} (dry run: add --apply{'' if lock else ', and --lock to lock it'})"
        made = blobs.set_policy(max(want, now.days), lock=lock)
        _append(params.customer, {"kind": "protect", "before": _policy_dict(now), "after": _policy_dict(made)})
        return f"{where}: set {made.words()} (was: {now.words()})"
    finally:
        if own:
            blobs.close()


def _policy_dict(p: Policy) -> dict:
    return {"state": p.state, "days": p.days, "version_level": p.version_level}


def _append(customer: str, entry: dict) -> None:
    """Append a record to evidence/<customer>/.pushes.jsonl (durably), with when, who and where."""
    entry = {"at": stamp(), "by": getpass.getuser(), "machine": socket.gethostname(), **entry}
    folder = archive.customer_dir(customer)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / PUSHES, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(entry) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _record(customer: str, result: PushResult) -> None:
    """Append the push to evidence/<customer>/.pushes.jsonl (durably)."""
    entry = {
        "kind": "push",
        "archive": result.where,
        "policy": {
            "state": result.policy.state,
            "days": result.policy.days,
            "version_level": result.policy.version_level,
        },
        "allow_mutable": result.allow_mutable,
        "runs": result.runs,
        "uploaded": result.uploaded,
        "present": result.present,
        "conflicts": result.conflicts,
        "not_pushed": result.not_pushed,
    }
    _append(customer, entry)


def pushes(customer: str) -> list[dict]:
    """The customer's push records (and the policy changes `protect` made, kind 'protect'), oldest first."""
    path = archive.customer_dir(customer) / PUSHES
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def verify_remote(params: Parameters, blobs: BlobArchive | None = None) -> list[str]:
    """Problems between the local evidence and the archive, and within the archive (see the module's docstring)."""
    customer = params.customer
    own = blobs is None
    blobs = blobs or open_archive(params)
    try:
        return _verify(customer, blobs)
    finally:
        if own:
            blobs.close()


def _verify(customer: str, blobs: BlobArchive) -> list[str]:
    where = f"the archive ({blobs.container})"
    by_run: dict[str, dict[str, RemoteBlob]] = {}
    for b in blobs.listing(f"{customer}/"):
        parts = b.name.split("/", 2)
        if len(parts) == 3:
            by_run.setdefault(parts[1], {})[parts[2]] = b
    local = {r.name: r for r in _sealed(customer)}
    anchored = _anchored(customer)
    problems = [
        f"{run_id}: sealed locally but not in {where}. Fix: runbook evidence push {customer}"
        for run_id in sorted(set(local) - set(by_run))
    ]
    problems += [
        f"{run_id}: in {where} but missing from the local evidence (deleted or moved locally)"
        for run_id in sorted(set(by_run) - set(local))
    ]
    previous: tuple[str, str] | None = None
    for run_id in sorted(by_run):
        files = by_run[run_id]
        if archive.MANIFEST not in files:
            problems.append(f"{where}: {run_id}/manifest.json is missing")
            previous = None
            continue
        raw = blobs.download(f"{customer}/{run_id}/{archive.MANIFEST}")
        digest = hashlib.sha256(raw).hexdigest()
        try:
            manifest = json.loads(raw)
            listed: dict[str, str] = dict(manifest["files"])
        except (ValueError, KeyError, TypeError):
            problems.append(f"{where}: {run_id}/manifest.json is not a readable manifest")
            previous = (run_id, digest)
            continue
        if run_id in local and archive.sha256(local[run_id] / archive.MANIFEST) != digest:
            problems.append(f"{run_id}: manifest.json differs between the local evidence and {where}")
        if run_id in anchored and anchored[run_id] != digest:
            problems.append(f"{where}: {run_id}/manifest.json differs from the anchored one (rewritten)")
        for name, want in listed.items():
            blob = files.get(name)
            if blob is None:
                problems.append(f"{where}: {run_id}/{name} is missing")
                continue
            got = hashlib.sha256(blobs.download(f"{customer}/{run_id}/{name}")).hexdigest()
            if got != want:
                problems.append(f"{where}: {run_id}/{name} was changed after archiving (SHA-256 differs)")
        problems += [
            f"{where}: {run_id}/{name} is not in the manifest"
            for name in sorted(files)
            if name != archive.MANIFEST and name not in listed
        ]
        link = manifest.get("previous_manifest")
        if link and previous is None and link.get("run_id") not in by_run:
            problems.append(f"{where}: {run_id} links to {link.get('run_id')}, which is not in the archive")
        elif link and previous is not None:
            if link.get("run_id") != previous[0]:
                problems.append(
                    f"{where}: {run_id} links to {link.get('run_id')} but the archive's previous run is {previous[0]} "
                    "(a run is missing there)"
                )
            elif link.get("sha256") != previous[1]:
                problems.append(f"{where}: {previous[0]}/manifest.json was changed after the next run archived it")
        previous = (run_id, digest)
    return problems


def auto_push(params: Parameters) -> str | None:
    """At the end of a run: push when msp.evidence_store.push is 'auto'; one line saying what happened (None when
    pushing is not configured). Never raises: the run's own outcome stands."""
    settings = params.msp.evidence_store
    if settings is None or settings.push != "auto":
        return None
    try:
        result = push(params)
    except RunbookError as exc:
        return f"evidence not pushed: {exc}"
    first = result.text().splitlines()
    return "\n".join(first)
