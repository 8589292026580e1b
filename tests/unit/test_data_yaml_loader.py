"""Issue 24 (fast stage runs): the packaged data files (the catalogue, the sandbox's fixture, API-version, metric and
policy tables) are read with libyaml's CSafeLoader where it is installed; it must read each exactly as the pure-Python
SafeLoader does."""

from pathlib import Path

import pytest
import yaml

LIB = Path(__file__).resolve().parents[2] / "lib"
DATA = sorted(
    [*(LIB / "runbook" / "data").glob("*.yml"), *(LIB / "azure_sandbox" / "providers" / "data").glob("*.yml")]
)


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml: SafeLoader is used")
@pytest.mark.parametrize("path", DATA, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_libyaml_reads_every_data_file_as_the_python_loader_does(path):
    text = path.read_text()
    assert yaml.load(text, Loader=yaml.CSafeLoader) == yaml.load(text, Loader=yaml.SafeLoader)
