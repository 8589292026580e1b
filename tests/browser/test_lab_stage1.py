"""Stage 1 stepped through by hand in JupyterLab, in a real browser: what the engineer sees, cell by cell."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

NOTEBOOK = "01-technical-onboarding.ipynb"
PARAMETERS = 'customer = "demo"'
SESSION = "notebook.start("
APP_REGISTRATION = 'session.run("s1-app-registration")'


def test_dry_run_session_and_item_card(lab_sandbox, open_notebook):
    nb = open_notebook(NOTEBOOK)
    nb.screenshot("opened")

    params = nb.cell(PARAMETERS)
    nb.run(params)
    session = nb.cell(SESSION)
    out = nb.run(session)
    nb.screenshot("session", session)
    assert "Run settings" in out and "DRY RUN" in out, out
    assert "UNREACHABLE" not in out, out
    signed_in = re.search(r"Signed in as\s+(.+)", out)
    assert signed_in and re.match(r"principal [0-9a-f-]{36} ", signed_in.group(1)), out

    item = nb.cell(APP_REGISTRATION)
    out = nb.run(item)
    nb.screenshot("s1-app-registration", item)
    card = item.locator(".runbook-item[data-item='s1-app-registration']")
    assert card.count() == 1, out
    status = card.locator(".runbook-status").inner_text().strip()
    assert status in {"open", "fulfilled", "not-required"}, out
    assert card.locator(".runbook-mode").inner_text().strip() == "DRY RUN", out

    # the engineer switches to apply mode by editing the parameters cell; the session reads `apply` at each display
    nb.edit(params, "apply = False", "apply = True")
    nb.run(params)
    out = nb.run(session)
    nb.screenshot("apply-mode", session)
    assert "APPLY: changes will be made" in out and "DRY RUN" not in out, out


def test_unreachable_sandbox_is_named_with_its_fix(no_sandbox, open_notebook):
    nb = open_notebook(NOTEBOOK)
    nb.run(nb.cell(PARAMETERS))
    session = nb.cell(SESSION)
    out = nb.run(session)
    nb.screenshot("session-unreachable", session)
    assert "UNREACHABLE" in out and "runbook sandbox serve" in out, out

    item = nb.cell(APP_REGISTRATION)
    out = nb.run(item)
    nb.screenshot("item-unreachable", item)
    assert "runbook sandbox serve" in out, out
    if no_sandbox == "missing":  # the runbook's own error, shown as its message, not a traceback
        assert "TargetError: no sandbox is running" in out, out
    else:  # nothing answers: the item fails, and its card says why
        assert item.locator(".runbook-item[data-status='failed']").count() == 1, out
        assert "could not be reached" in out, out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) < 5, f"{len(lines)} lines where a short error was expected:\n{out}"
