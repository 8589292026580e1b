"""Anchoring the evidence chain's head outside the evidence folder.

After each run is archived, its manifest's SHA-256 is appended to `<anchors>/<customer>.jsonl` together with an
HMAC-SHA256 over (customer, run id, manifest hash, previous anchor) keyed by a secret kept in the secret store
(`<home>/.secrets/evidence-anchor.key`, mode 0600, created on first use). `evidence verify` then checks that every
anchored run still exists with exactly that manifest and that the newest run is the last anchored head.

What this protects against (README, "Evidence"): someone who can write the evidence folder only cannot edit, delete
or add a run, including the latest, without `verify` failing. Someone who can also write the anchors folder but not
read the key cannot forge new anchor lines (the HMAC fails) but can truncate the anchor log; a copy of the anchors
kept elsewhere (backup, SIEM) detects that. Someone who holds the key and both folders can rewrite history.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

ANCHOR_DIR_ENV = "RUNBOOK_ANCHOR_DIR"
ANCHOR_KEY_ENV = "RUNBOOK_ANCHOR_KEY"


def anchor_dir(evidence_root: Path) -> Path:
    """Where chain heads are recorded: $RUNBOOK_ANCHOR_DIR, else `.anchors` beside the evidence folder."""
    return Path(os.environ.get(ANCHOR_DIR_ENV) or evidence_root.parent / ".anchors")


def key_path(evidence_root: Path) -> Path:
    """The anchor key file: $RUNBOOK_ANCHOR_KEY, else `.secrets/evidence-anchor.key` beside the evidence folder."""
    return Path(os.environ.get(ANCHOR_KEY_ENV) or evidence_root.parent / ".secrets" / "evidence-anchor.key")


def _key(evidence_root: Path) -> bytes:
    path = key_path(evidence_root)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def _mac(key: bytes, customer: str, run_id: str, digest: str, previous: str) -> str:
    return hmac.new(key, f"{customer}|{run_id}|{digest}|{previous}".encode(), hashlib.sha256).hexdigest()


def heads(evidence_root: Path, customer: str) -> list[dict]:
    """The anchored heads of a customer's chain, oldest first."""
    path = anchor_dir(evidence_root) / f"{customer}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def record(evidence_root: Path, customer: str, run_id: str, manifest_sha256: str) -> None:
    """Append a run's manifest hash as the new head (durably)."""
    key = _key(evidence_root)
    previous = heads(evidence_root, customer)
    prev_mac = previous[-1]["mac"] if previous else ""
    entry = {
        "run_id": run_id,
        "manifest_sha256": manifest_sha256,
        "mac": _mac(key, customer, run_id, manifest_sha256, prev_mac),
    }
    folder = anchor_dir(evidence_root)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / f"{customer}.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(entry) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def check(evidence_root: Path, customer: str, manifests: dict[str, str]) -> list[str]:
    """Problems between the anchored heads and the manifests on disk (run id -> manifest SHA-256)."""
    anchored = heads(evidence_root, customer)
    if not anchored:
        return (
            []
            if not manifests
            else [
                f"no anchored chain head for '{customer}' in {anchor_dir(evidence_root)}: the evidence cannot be proven complete (runs archived before anchoring, or the anchor log was removed)"
            ]
        )
    problems = []
    key = _key(evidence_root)
    prev_mac = ""
    for entry in anchored:
        if not hmac.compare_digest(
            entry.get("mac", ""), _mac(key, customer, entry["run_id"], entry["manifest_sha256"], prev_mac)
        ):
            problems.append(
                f"anchor log: the entry for {entry['run_id']} is not signed by this installation's anchor key (forged or edited)"
            )
        prev_mac = entry.get("mac", "")
        have = manifests.get(entry["run_id"])
        if have is None:
            problems.append(f"{entry['run_id']}: the run was anchored but is missing from the evidence (deleted)")
        elif have != entry["manifest_sha256"]:
            problems.append(
                f"{entry['run_id']}: manifest.json differs from the anchored one (the run was rewritten after archiving)"
            )
    known = {e["run_id"] for e in anchored}
    problems += [
        f"{run_id}: the run is not anchored (added or rewritten outside the runbook)"
        for run_id in sorted(manifests)
        if run_id not in known
    ]
    return problems
