"""Issue 28, the CLI's words: a sign-in that fails on a real target names the credential (the chain DefaultAzureCredential tried)
and the fix, in one line: Azure was never asked, so the item does not say "Azure answered"."""

from __future__ import annotations

from runbook.customer import params as P
from runbook.customer.connect import make_clients
from runbook.steps.access import MspAccess
from runbook.steps.base import Context, execute


def real_target(params_dir, sandbox, credential: str = "") -> Context:
    text = (params_dir / "demo.yml").read_text().replace("target: sandbox", "target: azure")
    text += (
        f"cloud: {{name: custom, arm_endpoint: '{sandbox.url}', authority: '{sandbox.url}', ca_bundle: '{sandbox.conn.ca_path}'}}\n"
        + credential
    )
    (params_dir / "demo.yml").write_text(text)
    p = P.load("demo")
    return Context(p, lambda: make_clients(p), False)


def test_a_wrong_client_secret_names_the_credential_and_the_fix(params_dir, sandbox, tmp_path):
    wrong = tmp_path / "wrong-secret"
    wrong.write_text("not-the-secret")
    ctx = real_target(
        params_dir,
        sandbox,
        f"credential: {{client_id: {sandbox.conn.client_id}, client_secret: {{file: '{wrong}'}}}}\n",
    )
    result = execute(MspAccess(), ctx)
    assert result.status == "failed" and not result.summary.startswith("Azure answered")
    assert result.summary.startswith(f"Signing in to tenant {ctx.params.tenant_id} failed (")
    assert "AADSTS7000215" in result.summary and "Fix: check credential.client_id" in result.summary
    assert "\n" not in result.summary and "not-the-secret" not in result.summary


def test_the_default_chain_lists_what_it_tried_and_says_az_login(params_dir, sandbox, monkeypatch):
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_USERNAME", "IDENTITY_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")  # no az, azd or pwsh to ask
    ctx = real_target(params_dir, sandbox)
    result = execute(MspAccess(), ctx)
    assert result.status == "failed" and "DefaultAzureCredential tried EnvironmentCredential:" in result.summary
    assert f"Fix: sign in with `az login --tenant {ctx.params.tenant_id}`" in result.summary
    assert "\n" not in result.summary and len(result.summary) < 1200, result.summary


def test_an_unset_variable_the_sign_in_needs_is_bad_input_before_any_call(params_dir, sandbox, monkeypatch, capsys):
    """Issue 28: found at validate time (exit 2), not in cell 5."""
    from runbook.cli import main

    monkeypatch.delenv("INTERCEPT_RUNBOOK_SECRET", raising=False)
    real_target(
        params_dir,
        sandbox,
        f"credential: {{client_id: {sandbox.conn.client_id}, client_secret: {{env: INTERCEPT_RUNBOOK_SECRET}}}}\n",
    )
    calls = sandbox.sandbox.app.stats.copy() if hasattr(sandbox.sandbox.app, "stats") else None
    for argv in (["params", "validate", "demo"], ["preflight", "demo"], ["run", "demo", "--stage", "0"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert (
            "field 'credential.client_secret' names the environment variable INTERCEPT_RUNBOOK_SECRET, which is not set"
            in err
        )
    if calls is not None:
        assert sandbox.sandbox.app.stats == calls  # nothing was asked of the tenant
    monkeypatch.setenv("INTERCEPT_RUNBOOK_SECRET", "x")
    assert main(["params", "validate", "demo"]) == 0, capsys.readouterr().err


def test_show_plan_prints_each_change_with_its_values_or_its_facts(capsys):
    """Issue 28: `runbook run --show-plan` prints every change; a desired resource with the values it writes, any
    other change with its facts (the store and validity of a client secret), never a payload."""
    from runbook.cli import _print_item
    from runbook.evidence.results import Change, ItemResult

    group = Change(
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/actionGroups/ag",
        "create action group",
        {"kind": "action group", "values": {"properties.enabled": True}},
        payload={"secret": "never shown"},
    )
    secret = Change(
        "Intercept Managed Services", "add client secret", {"store": "keyvault:https://kv/x", "valid_days": 365}
    )
    r = ItemResult("s1-x", 1, "Engineer", "automated", "t", "open", "2 change(s) planned", planned=[group, secret])
    _print_item(r, show_plan=True)
    out = capsys.readouterr().out.splitlines()
    assert (
        out[1]
        == "      planned create action group: /subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/actionGroups/ag"
    )
    assert out[2] == "          properties.enabled: true"
    assert out[3:] == [
        "      planned add client secret: Intercept Managed Services",
        "          store: keyvault:https://kv/x",
        "          valid_days: 365",
    ]
    _print_item(r)
    assert len(capsys.readouterr().out.splitlines()) == 1  # without --show-plan: one line
