"""Replays recorded Azure traffic (azure-cli's own test recordings, trimmed; tests/contract/recordings/, each naming
its source) against the sandbox: each request is sent as recorded (the recorded subscription mapped to the demo's),
and the answer must carry the recorded status and every field the recorded body holds (values may differ: ids,
times and generated keys are the tenant's own). An interaction the sandbox does not model says so in its recording
(`differs: <reason>`); every other one must match."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import DEMO_SUBS

RECORDINGS = sorted((Path(__file__).parent / "recordings").glob("*.yaml"))
RECORDED_SUB = "00000000-0000-0000-0000-000000000000"


def missing(recorded: Any, got: Any, where: str = "") -> list[str]:
    """Paths of the recorded body the answer lacks (nulls in the recording are not required; list items are matched
    by their `name` when they have one, else by position)."""
    if recorded is None:
        return []
    if isinstance(recorded, dict):
        if not isinstance(got, dict):
            return [where or "$"]
        out: list[str] = []
        for key, value in recorded.items():
            path = f"{where}.{key}" if where else key
            if value is None:
                continue
            if key not in got:
                out.append(path)
            else:
                out += missing(value, got[key], path)
        return out
    if isinstance(recorded, list):
        if not isinstance(got, list):
            return [where]
        out = []
        for i, item in enumerate(recorded):
            named = isinstance(item, dict) and "name" in item
            match = (
                next((g for g in got if isinstance(g, dict) and g.get("name") == item["name"]), None) if named else None
            )
            if match is None and not named and i < len(got):
                match = got[i]
            out += [f"{where}[{i}]"] if match is None else missing(item, match, f"{where}[{i}]")
        return out
    return []


def _uri(uri: str) -> str:
    return uri.replace(RECORDED_SUB, DEMO_SUBS[0])


def _body(body: Any) -> Any:
    return yaml.safe_load(_uri(yaml.safe_dump(body))) if body is not None else None


def replay(raw, recording: dict) -> list[tuple[int, bool, str]]:
    """(index, matched, what differed) for each recorded interaction, in order."""
    for step in recording.get("setup") or []:
        resp = raw(step["method"], _uri(step["uri"]), _body(step.get("body")))
        assert resp.status_code < 300, resp.text
    results = []
    for i, rec in enumerate(recording["interactions"]):
        resp = raw(rec["method"], _uri(rec["uri"]), _body(rec.get("body")))
        if resp.status_code != rec["status"]:
            results.append((i, False, f"status {resp.status_code} (recorded {rec['status']}): {resp.text[:300]}"))
            continue
        want = rec.get("response")
        got = resp.json() if want is not None and resp.content else None
        lacking = missing(want, got)
        results.append((i, not lacking, f"lacks {', '.join(lacking)}" if lacking else ""))
    return results


@pytest.mark.parametrize("path", RECORDINGS, ids=[p.stem for p in RECORDINGS])
def test_recorded_interactions_are_answered_as_azure_answered(raw, path: Path) -> None:
    recording = yaml.safe_load(path.read_text())
    assert recording["source"].startswith("Azure/azure-cli ")
    results = replay(raw, recording)
    differs = {int(k): v for k, v in (recording.get("differs") or {}).items()}
    unexpected = [
        f"#{i} {rec['method']} {rec['uri']}: {why}"
        for (i, ok, why), rec in zip(results, recording["interactions"], strict=True)
        if not ok and i not in differs
    ]
    print(f"{path.stem}: {sum(ok for _, ok, _ in results)}/{len(results)} interactions as Azure answered")
    assert unexpected == []


def test_the_comparison_can_fail() -> None:
    assert missing({"a": {"b": [], "c": None}}, {"a": {}}) == ["a.b"]
    assert missing({"value": [{"name": "x", "p": 1}]}, {"value": [{"name": "y", "p": 1}]}) == ["value[0]"]
    assert missing({"value": [{"p": {"q": 1}}]}, {"value": [{"p": {}}]}) == ["value[0].p.q"]
