"""Evidence: manifests and the hash chain catch edits, deletions and additions; the scanner finds secrets."""

import json

import pytest

from runbook.adapters.secrets import SECRET_PATTERNS
from runbook.evidence import archive as evidence


def make_run(customer: str, stage: int, content: str = "ok") -> str:
    run_id, d = evidence.new_run(customer, stage)
    (d / "results.json").write_text(json.dumps({"content": content}))
    (d / "notes.txt").write_text(content)
    evidence.write_manifest(customer, d, {"stage": stage, "status": "complete"})
    return run_id


@pytest.fixture
def three_runs(evidence_dir):
    ids = [make_run("acme", n) for n in range(3)]
    return evidence_dir / "acme", ids


def test_intact_chain_verifies(three_runs):
    assert evidence.verify("acme") == []
    base, ids = three_runs
    m = json.loads((base / ids[1] / "manifest.json").read_text())
    assert m["previous_manifest"]["run_id"] == ids[0] and len(m["files"]) == 2


def test_edited_file_is_detected(three_runs):
    base, ids = three_runs
    (base / ids[1] / "notes.txt").write_text("tampered")
    assert evidence.verify("acme") == [f"{ids[1]}: notes.txt was changed after archiving (SHA-256 differs)"]


def test_missing_and_extra_files_are_detected(three_runs):
    base, ids = three_runs
    (base / ids[0] / "notes.txt").unlink()
    (base / ids[2] / "extra.txt").write_text("x")
    problems = evidence.verify("acme")
    assert f"{ids[0]}: notes.txt is missing" in problems and f"{ids[2]}: extra.txt is not in the manifest" in problems


def test_deleted_run_breaks_the_chain(three_runs):
    import shutil

    base, ids = three_runs
    shutil.rmtree(base / ids[1])
    assert any("a run is missing" in p for p in evidence.verify("acme"))


def test_edited_manifest_breaks_the_chain(three_runs):
    base, ids = three_runs
    m = base / ids[0] / "manifest.json"
    m.write_text(m.read_text().replace('"complete"', '"edited"'))
    assert any(p.startswith(f"{ids[0]}: manifest.json was changed") for p in evidence.verify("acme"))


def test_no_evidence_is_a_problem(evidence_dir):
    assert evidence.verify("nobody")


@pytest.mark.parametrize(
    "text,kind",
    [
        ("token eyJhbGciOiJIUzI1NiJ9.eyJvaWQiOiJ4eHh4eHh4In0.c2lnbmF0dXJlc2lnbmF0dXJl", "bearer token"),
        ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345", "authorization header"),
        ("secret was Xy78Q~abcdefghijklmnopqrstuvwxyz0123456 ok", "Entra ID client secret"),
        (
            "DefaultEndpointsProtocol=https;AccountName=st;AccountKey=c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0==",
            "storage connection string",
        ),
        ("https://st.blob.core.windows.net/c?sv=2022-11-02&sig=AbCdEfGhIjKlMnOpQrStUv%3D", "SAS token"),
        ("password = hunter2hunter2", "password assignment"),
        ("File /home/eva/project/x.py", "absolute home path"),
        ("see /root/.cache/thing", "absolute home path"),
    ],
)
def test_scanner_finds_secrets(text, kind):
    kinds = [f.kind for f in evidence.scan_text(text, "f")]
    assert kind in kinds


def scan_by_line(text, known=()):
    """The scan as it was, every pattern on every line: what the whole-text search must agree with."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        out += [(n, kind) for kind, pat in SECRET_PATTERNS.items() if pat.search(line)]
        out += [(n, "known secret value") for v in known if v and len(v) >= 8 and v in line]
    return out


@pytest.mark.parametrize("sep", ["\n", "\r\n", "\r", "\u2028", "\x1c", "\x85"], ids=repr)
def test_the_whole_text_scan_finds_what_the_scan_by_line_finds(sep):
    samples = [
        "File /home/eva/project/x.py",
        "/root",  # a whole line: the look-behind at its start, the end of the line after it
        "C:\\Users\\eva\\x",
        "pwd: abcdefgh",
        "pwd:",  # the value on the next line: not an assignment on this one
        "abcdefgh",
        "Authorization: Bearer",
        "abcdefghijklmnopqrstuvwxyz0123",
        "pat-eu1-0a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f",
        "abc8Q~abcdefghijklmnopqrstuvwxyz0123456",
        "stampNL001.abcdefghijklmnopqrstuvwxyz",
        "leak plainvalue123 here",
        "nothing to see",
    ]
    for first in range(len(samples)):
        for second in range(len(samples)):
            text = sep.join([samples[first], samples[second], "tail"])
            found = [(int(f.where.split()[1]), f.kind) for f in evidence.scan_text(text, "f", ("plainvalue123",))]
            assert found == scan_by_line(text, ("plainvalue123",)), text


def test_scanner_leaves_clean_text_alone():
    clean = "Subscription 1a2b3c4d-0001-4e5f-8a9b-0c1d2e3f4a01 has Owner for principal 9a2e4c61-7b3d-4f85-a1c9-0d6e8f2b5a73; secret stored at file:.secrets/demo-app-secret"
    assert evidence.scan_text(clean, "f") == []


def test_scanner_finds_a_known_secret_value():
    assert [f.kind for f in evidence.scan_text("leak: plainvalue123", "f", ("plainvalue123",))] == [
        "known secret value"
    ]


def refreshed_manifest(run_dir) -> None:
    """What a forger with write access to the evidence folder does: edit a file and re-hash the manifest."""
    m = json.loads((run_dir / "manifest.json").read_text())
    m["files"] = {p.name: evidence.sha256(p) for p in sorted(run_dir.iterdir()) if p.name != "manifest.json"}
    (run_dir / "manifest.json").write_text(json.dumps(m, indent=2))


def test_rewriting_the_latest_run_is_detected_by_the_anchor(three_runs):
    base, ids = three_runs
    (base / ids[2] / "results.json").write_text(json.dumps({"content": "fulfilled"}))
    refreshed_manifest(base / ids[2])
    assert evidence.verify("acme") == [
        f"{ids[2]}: manifest.json differs from the anchored one (the run was rewritten after archiving)"
    ]


def test_deleting_the_latest_run_is_detected_by_the_anchor(three_runs):
    import shutil

    base, ids = three_runs
    shutil.rmtree(base / ids[2])
    assert evidence.verify("acme") == [f"{ids[2]}: the run was anchored but is missing from the evidence (deleted)"]


def test_a_forged_anchor_line_is_detected(three_runs, evidence_dir):
    base, ids = three_runs
    (base / ids[2] / "notes.txt").write_text("tampered")
    refreshed_manifest(base / ids[2])
    log = evidence_dir.parent / ".anchors" / "acme.jsonl"
    lines = log.read_text().splitlines()
    last = json.loads(lines[-1])
    last["manifest_sha256"] = evidence.sha256(base / ids[2] / "manifest.json")  # without the key the MAC cannot follow
    log.write_text("\n".join([*lines[:-1], json.dumps(last)]) + "\n")
    assert evidence.verify("acme") == [
        f"anchor log: the entry for {ids[2]} is not signed by this installation's anchor key (forged or edited)"
    ]


def test_a_malformed_manifest_is_one_line_naming_the_file(three_runs):
    base, ids = three_runs
    (base / ids[1] / "manifest.json").write_text("{not json")
    problems = evidence.verify("acme")
    assert problems[0].startswith(f"{ids[1]}/manifest.json is not a readable manifest")
