"""Parameter files: bad input names file, field and fix; secrets are refused; no Azure call is made."""

import subprocess
import sys

import pytest
import yaml

from runbook.cli import main
from runbook.customer import params


def write(params_dir, **changes):
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))


def error_of(customer="demo") -> str:
    with pytest.raises(params.ParameterError) as exc:
        params.load(customer)
    return str(exc.value)


def test_demo_parameters_are_valid():
    p = params.load("demo")
    assert p.tier == "Full Stack" and len(p.subscription_ids) == 3 and p.target == "sandbox"


def test_wrong_guid_names_file_field_and_fix(params_dir):
    write(params_dir, tenant_id="not-a-guid")
    msg = error_of()
    assert (
        "demo.yml" in msg
        and "'tenant_id'" in msg
        and "not a GUID" in msg
        and "Fix:" in msg
        and "Directory (tenant) ID" in msg
    )


def test_unknown_tier(params_dir):
    write(params_dir, tier="Gold")
    msg = error_of()
    assert "'tier'" in msg and "CSP, Premium, Full Stack" in msg


def test_missing_field(params_dir):
    write(params_dir, sla_project_number=None)
    assert "'sla_project_number' is missing" in error_of()


def test_typo_field_is_reported(params_dir):
    write(params_dir, tenantid="x")
    assert "'tenantid' is not a known field" in error_of()


def test_literal_secret_is_refused(params_dir):
    write(
        params_dir,
        credential={"client_id": "3c9f7e21-5a84-4d6b-b0e2-8f1a6c4d9e57", "client_secret": "abc8Q~supersecretvalue"},
    )
    msg = error_of()
    assert "credential.client_secret" in msg and "literal secret" in msg and "supersecretvalue" not in msg


def test_secret_reference_is_accepted(params_dir):
    write(
        params_dir,
        credential={"client_id": "3c9f7e21-5a84-4d6b-b0e2-8f1a6c4d9e57", "client_secret": {"env": "RUNBOOK_SECRET"}},
    )
    assert params.load("demo").credential.client_secret.describe() == "env:RUNBOOK_SECRET"


def test_attestation_rules(params_dir):
    write(params_dir, attestations={"s9-nonsense": {"by": "x", "at": "2026-01-01", "reference": "r"}})
    assert "unknown checklist item(s) s9-nonsense" in error_of()
    write(
        params_dir,
        attestations={"s0-signed-sla": {"by": "x", "at": "2026-01-01", "reference": "r", "status": "not-required"}},
    )
    assert "needs a reason" in error_of()


def test_customer_must_match_file_name(params_dir):
    write(params_dir, customer="other")
    assert "field 'customer' is 'other' but the file is demo.yml" in error_of()


def test_missing_file():
    assert "no such parameter file" in error_of("no-such-customer")


def test_cli_exit_code_2_and_no_azure_call(params_dir, sandbox, evidence_dir, capsys):
    write(params_dir, tenant_id="nope")
    before = sandbox.stats()
    assert main(["run", "demo", "--stage", "0"]) == 2
    assert "'tenant_id'" in capsys.readouterr().err
    assert sandbox.stats() == before  # not even a token request
    assert not evidence_dir.exists()


def test_params_validate_command():
    out = subprocess.run(
        [sys.executable, "-m", "runbook.cli", "params", "validate", "demo"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "is valid" in out.stdout


@pytest.mark.parametrize(
    "value, kind",
    [
        ("DefaultEndpointsProtocol=https;AccountName=x;AccountKey=" + "A" * 40 + "==", "storage connection string"),
        ("https://x.blob.core.windows.net/c?sv=2024&sig=" + "a" * 30, "SAS token"),
        ("password=Summer2026!", "password assignment"),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "bearer token",
        ),
        ("abc1Q~" + "x" * 34, "Entra ID client secret"),
    ],
)
def test_secret_shaped_values_are_refused_under_any_key(params_dir, value, kind):
    """The archive's detector also guards the parameters: innocuous keys (reference, note, webhook) do not hide a
    secret (issue: 'Inputs refused before anything runs')."""
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    data["attestations"]["s0-signed-sla"]["reference"] = value
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    msg = error_of()
    assert "'attestations.s0-signed-sla.reference'" in msg and kind in msg and "Fix:" in msg and value not in msg


def test_a_secret_this_machine_holds_is_refused(params_dir, sandbox):
    secret = __import__("pathlib").Path(sandbox.conn.secret_path).read_text().strip()
    write(params_dir, sla_project_number=f"ref {secret}")
    msg = error_of()
    assert "'sla_project_number'" in msg and "a secret this machine holds" in msg and secret not in msg


def test_a_copy_of_the_template_is_refused_until_its_placeholders_are_replaced(params_dir):
    text = (params.PROJECT_ROOT / "parameters" / "template.yml").read_text()
    (params_dir / "contoso.yml").write_text(text)
    msg = error_of("contoso")
    assert "'tenant_id' still holds the template's placeholder '00000000-0000-0000-0000-000000000000'" in msg
    assert (
        "'attestations.s0-signed-sla.reference' still holds the template's placeholder 'link to the signed SLA'" in msg
    )


def test_a_sandbox_customer_must_use_the_sandbox_tenant(params_dir, sandbox):
    write(params_dir, tenant_id="11111111-2222-4333-8444-555555555555")
    p = params.load("demo")
    with pytest.raises(params.ParameterError) as exc:
        params.check_sandbox_tenant(p, sandbox.connection_file)
    assert "running sandbox serves tenant" in str(exc.value) and "Fix:" in str(exc.value)


def test_the_premium_demo_customer_is_valid_and_has_no_full_stack_sections():
    """`runbook demo demo-premium`: the same tenant at the Premium tier (Stage 3's Full Stack items not-required)."""
    p = params.load("demo-premium")
    assert p.tier == "Premium" and p.backup is None and p.patching is None and p.iac is None
    assert p.subscription_ids == params.load("demo").subscription_ids
    from runbook.cli import build_parser

    assert build_parser().parse_args(["demo", "demo-premium"]).customer == "demo-premium"
    assert build_parser().parse_args(["demo"]).customer == "demo"


def test_the_template_documents_every_section():
    """Issue 28: the template had no monitoring: or resource_sheet: sections; every top-level field is in it."""
    import re

    text = (params.PROJECT_ROOT / "parameters" / "template.yml").read_text()
    missing = [f for f in params.Parameters.model_fields if not re.search(rf"^#?\s*{f}:", text, re.MULTILINE)]
    assert missing == []


def test_offboarding_backup_data_is_retain_or_delete(params_dir, capsys):
    assert params.load("demo").offboarding.backup_data == "retain"  # unset: the recovery points stay
    write(params_dir, offboarding={"backup_data": "delete"})
    assert params.load("demo").offboarding.backup_data == "delete"
    write(params_dir, offboarding={"backup_data": "purge"})
    msg = error_of()
    assert "demo.yml" in msg and "'offboarding.backup_data'" in msg and "retain" in msg and "Fix:" in msg
    assert "off-backup-data-deletion-agreed" in msg
    assert main(["params", "validate", "demo"]) == 2
    assert "offboarding.backup_data" in capsys.readouterr().err
