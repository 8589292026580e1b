"""The client factory points every SDK client at the customer's cloud, with that cloud's token audience."""

import yaml

from runbook.customer import params as P
from runbook.customer.connect import make_clients


def test_sovereign_cloud_endpoints_and_scopes(params_dir):
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    data.update(target="azure", cloud={"name": "AzureUSGovernment"})
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    clients = make_clients(P.load("demo"))
    rc = clients.resource("1a2b3c4d-0001-4e5f-8a9b-0c1d2e3f4a01")
    assert rc._config.base_url == "https://management.usgovcloudapi.net"
    assert rc._config.credential_scopes == ["https://management.usgovcloudapi.net/.default"]
    assert clients.target.arm_scope == "https://management.usgovcloudapi.net/.default"
    assert clients.target.graph_url == "https://graph.microsoft.us"


def test_public_cloud_is_the_default(params_dir):
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    data["target"] = "azure"
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    clients = make_clients(P.load("demo"))
    assert clients.target.arm_url == "https://management.azure.com" and clients.target.kind == "azure"
