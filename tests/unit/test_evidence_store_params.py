"""Issue 23: the evidence archive's settings, msp.evidence_store in parameters/msp.yml. Bad input names the file, the
field and the fix (exit 2, before any call); a push without the settings says what to give."""

import pytest
import yaml

from runbook import cli
from runbook.customer import params
from runbook.errors import InputError
from runbook.evidence import remote


def edit(path, change):
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def problems(customer="demo") -> str:
    with pytest.raises(params.ParameterError) as exc:
        params.load(customer)
    return str(exc.value)


def store(**fields):
    return lambda d: d["msp"]["evidence_store"].update(fields)


def test_the_demo_pushes_to_the_sandboxes_archive():
    s = params.load("demo").msp.evidence_store
    assert s is not None and (s.account_url, s.container, s.push, s.retention_days) == (
        "azurite",
        "evidence-intercept",
        "auto",
        30,
    )
    assert (s.subscription_id, s.resource_group, s.account_name) == (
        "7c4d2e1f-0a9b-4c8d-9e6f-1b2a3c4d5e60",
        "rg-intercept-runbook",
        "stinterceptevidence",
    )


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"account_url": "http://st.blob.core.windows.net"}, "account_url", "blob endpoint over https"),
        ({"account_url": "https://st.blob.core.windows.net/?sv=2024&sig=x"}, "account_url", "no SAS"),
        ({"container": "Evidence_Store"}, "container", "3-63 lower-case letters, digits and single hyphens"),
        ({"resource_id": "/subscriptions/x/storageAccounts/st"}, "resource_id", "the storage account's resource ID"),
        ({"retention_days": 0}, "retention_days", "greater than or equal to 1"),
        ({"retention_days": 146_001}, "retention_days", "less than or equal to 146000"),
        ({"push": "always"}, "push", "'auto' or 'manual'"),
        ({"contianer": "x"}, "contianer", "is not a known field"),
    ],
)
def test_a_bad_setting_names_msp_yml_the_field_and_the_fix(params_dir, fields, field, says):
    edit(params_dir / "msp.yml", store(**fields))
    msg = problems()
    assert f"msp.yml: field 'msp.evidence_store.{field}'" in msg and says in msg
    assert "Fix: give msp.evidence_store in parameters/msp.yml: account_url" in msg


def test_a_bad_setting_is_exit_2_before_any_call(params_dir, capsys):
    edit(params_dir / "msp.yml", store(retention_days="forever"))
    assert cli.main(["evidence", "push", "demo"]) == 2
    err = capsys.readouterr().err
    assert "msp.evidence_store.retention_days" in err and "Traceback" not in err


def test_a_push_without_the_settings_says_what_to_give(params_dir):
    edit(params_dir / "msp.yml", lambda d: d["msp"].pop("evidence_store"))
    p = params.load("demo")
    with pytest.raises(InputError, match=r"no msp\.evidence_store\. Fix: give account_url, container, resource_id"):
        remote.push(p)
    assert remote.auto_push(p) is None  # nothing configured: a run does not try


def test_push_and_verify_remote_take_customers_or_all(capsys):
    assert cli.main(["evidence", "push"]) == 2
    assert "name the customers or give --all" in capsys.readouterr().err
