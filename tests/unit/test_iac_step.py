"""s3-iac-pushed: the managed configuration as Bicep in the customer's repository (a local bare repository here):
pushed on a branch with the commit SHA and diff as evidence, no commit when nothing changed, a push the remote
refuses named with nothing half-done left unreported, no secret in the files."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from runbook.adapters.gitrepo import Repo
from runbook.customer import params as P
from runbook.steps.base import Context, execute
from runbook.steps.iac import IacPushed, type_and_name
from runbook.steps.tagging import prepare_sheet


def git(*args, cwd=None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def remote(tmp_path, params_dir):
    bare = tmp_path / "customer.git"
    Repo.init_bare(bare, "main")
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    data["iac"] = {"repository": str(bare), "branch": "intercept/config"}
    data["alerts"]["webhook"] = "https://hooks.example.invalid/services/T000/B000/abcdefTOKEN"
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    return bare


@pytest.fixture
def ctx(clients, remote):
    context = Context(P.load("demo"), lambda: clients, apply=True, ran_by="test")
    prepare_sheet(context)
    return context


def test_the_configuration_is_pushed_as_bicep_and_a_rerun_makes_no_commit(ctx, remote):
    dry = execute(IacPushed(), Context(ctx.params, ctx.clients_factory, apply=False, ran_by="test"))
    assert dry.status == "open" and dry.planned[0].action == "commit and push the managed configuration"
    assert git("--git-dir", str(remote), "for-each-ref", "--format=%(refname:short)", "refs/heads").split() == [
        "main"
    ]  # a dry run pushes nothing
    done = execute(IacPushed(), ctx)
    assert done.status == "fulfilled", (done.summary, done.missing)
    sha = done.applied[0].detail["commit"]
    assert git("--git-dir", str(remote), "rev-parse", "refs/heads/intercept/config").strip() == sha
    assert "pushed commit " + sha in done.summary and "+resource" in done.applied[0].detail["diff_text"]
    files = git("--git-dir", str(remote), "ls-tree", "-r", "--name-only", sha).split()
    sub = ctx.params.subscription_ids[0]
    assert f"intercept/{sub}/subscription.bicep" in files and f"intercept/{sub}/rg-intercept-monitoring.bicep" in files
    monitoring = git("--git-dir", str(remote), "show", f"{sha}:intercept/{sub}/rg-intercept-monitoring.bicep")
    assert "resource " in monitoring and "'Microsoft.Insights/actionGroups@" in monitoring
    assert "abcdefTOKEN" not in monitoring and "@secure()" in monitoring  # the webhook's URI is a parameter
    subscription = git("--git-dir", str(remote), "show", f"{sha}:intercept/{sub}/subscription.bicep")
    assert (
        "targetScope = 'subscription'" in subscription and "Microsoft.Authorization/policyAssignments@" in subscription
    )
    again = execute(IacPushed(), ctx)
    assert again.status == "fulfilled" and again.planned == [] and "nothing to commit" in again.summary
    assert git("--git-dir", str(remote), "rev-parse", "refs/heads/intercept/config").strip() == sha


def test_a_change_in_the_configuration_is_a_new_commit_on_the_branch(ctx, remote, params_dir):
    first = execute(IacPushed(), ctx).applied[0].detail["commit"]
    text = (params_dir / "demo.yml").read_text().replace("amount: 4500", "amount: 5000")
    (params_dir / "demo.yml").write_text(text)
    ctx.params = P.load("demo")
    plan = execute(IacPushed(), Context(ctx.params, ctx.clients_factory, apply=False, ran_by="test"))
    assert [f.endswith("subscription.bicep") for f in plan.planned[0].detail["files"]] == [True] * 3
    done = execute(IacPushed(), ctx)
    second = done.applied[0].detail["commit"]
    assert second != first and git("--git-dir", str(remote), "rev-parse", f"{second}~1").strip() == first
    assert "amount: 5000" in done.applied[0].detail["diff_text"]


def test_a_push_the_remote_refuses_is_named_and_the_remote_is_unchanged(ctx, remote):
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'branch protection: pushes to intercept/* need a pull request' >&2\nexit 1\n")
    hook.chmod(0o755)
    done = execute(IacPushed(), ctx)
    assert done.status == "failed" and done.applied == []
    assert "refused the push of commit" in done.summary and "the remote is unchanged" in done.summary
    assert git("--git-dir", str(remote), "for-each-ref", "--format=%(refname:short)", "refs/heads").split() == ["main"]


def test_an_unreachable_repository_is_named(ctx, tmp_path, params_dir):
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    data["iac"]["repository"] = str(tmp_path / "nowhere.git")
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    ctx.params = P.load("demo")
    done = execute(IacPushed(), ctx)
    assert done.status == "failed" and "nowhere.git" in done.summary and "Fix: check iac.repository" in done.summary


def test_a_token_in_the_repository_url_is_refused_as_input(params_dir):
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    data["iac"] = {"repository": "https://user:ghp_secret@github.example/contoso/infra.git"}
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    with pytest.raises(P.ParameterError) as exc:
        P.load("demo")
    assert "credential" in str(exc.value) and "ghp_secret" not in str(exc.value)


@pytest.mark.parametrize(
    ("rid", "expected"),
    [
        (
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/backupPolicies/p",
            ("Microsoft.RecoveryServices/vaults/backupPolicies", "v/p"),
        ),
        ("/subscriptions/s/providers/Microsoft.Consumption/budgets/b", ("Microsoft.Consumption/budgets", "b")),
        ("/subscriptions/s/resourceGroups/rg", ("Microsoft.Resources/resourceGroups", "rg")),
    ],
)
def test_child_and_extension_resources_get_their_full_type_and_name(rid, expected):
    assert type_and_name(rid) == expected
