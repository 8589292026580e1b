"""A secret kept in a local file (the sandbox's references, `{file: ...}`) is replaced at once: written to a new file
(0600) renamed over the old one, so a run reading it meanwhile (another worker of a batch reading Exact Online's
token set while one stores its successor) finds the old value or the new one, never no file; nothing is left beside
it. The stored token set's tokens each count as secret values for the evidence's scan."""

from __future__ import annotations

import json
import os
import stat
import threading

from runbook.adapters import secrets
from runbook.adapters.secrets import SecretRef


def test_a_file_secret_is_replaced_at_once_and_a_reader_never_finds_it_missing(tmp_path):
    ref = SecretRef(file=str(tmp_path / "exact-refresh-token"))
    secrets.store(ref, "first")
    missing, seen, done = [], set(), threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                seen.add(secrets.read(ref))
            except Exception as exc:  # the old way (unlink, then create) left a moment without the file
                missing.append(type(exc).__name__)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(300):
            secrets.store(ref, f"value-{n}")
    finally:
        done.set()
        reader.join()
    assert missing == [] and secrets.read(ref) == "value-299" and len(seen) > 1
    assert stat.S_IMODE(os.stat(tmp_path / "exact-refresh-token").st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exact-refresh-token"]  # no temporary file left


def test_each_token_of_a_stored_token_set_is_a_secret_value(tmp_path):
    ref = SecretRef(file=str(tmp_path / "exact-refresh-token"))
    tokens = {"refresh_token": "stampNL001.Rrefresh123", "access_token": "stampNL001.Aaccess456", "expires_at": 1.0}
    secrets.store(ref, json.dumps(tokens))
    values = secrets.stored_values([ref])
    assert {"stampNL001.Rrefresh123", "stampNL001.Aaccess456"} <= set(values)
