"""Azure public-cloud regions, as `GET /subscriptions/{id}/locations` lists them (name, display name, geography)."""

from __future__ import annotations

# (name, displayName, geographyGroup) of the physical regions of the public cloud
REGIONS: tuple[tuple[str, str, str], ...] = (
    ("eastus", "East US", "US"),
    ("eastus2", "East US 2", "US"),
    ("southcentralus", "South Central US", "US"),
    ("westus2", "West US 2", "US"),
    ("westus3", "West US 3", "US"),
    ("australiaeast", "Australia East", "Asia Pacific"),
    ("southeastasia", "Southeast Asia", "Asia Pacific"),
    ("northeurope", "North Europe", "Europe"),
    ("swedencentral", "Sweden Central", "Europe"),
    ("uksouth", "UK South", "Europe"),
    ("westeurope", "West Europe", "Europe"),
    ("centralus", "Central US", "US"),
    ("southafricanorth", "South Africa North", "Africa"),
    ("centralindia", "Central India", "Asia Pacific"),
    ("eastasia", "East Asia", "Asia Pacific"),
    ("japaneast", "Japan East", "Asia Pacific"),
    ("koreacentral", "Korea Central", "Asia Pacific"),
    ("canadacentral", "Canada Central", "Canada"),
    ("francecentral", "France Central", "Europe"),
    ("germanywestcentral", "Germany West Central", "Europe"),
    ("italynorth", "Italy North", "Europe"),
    ("norwayeast", "Norway East", "Europe"),
    ("polandcentral", "Poland Central", "Europe"),
    ("spaincentral", "Spain Central", "Europe"),
    ("switzerlandnorth", "Switzerland North", "Europe"),
    ("mexicocentral", "Mexico Central", "Mexico"),
    ("uaenorth", "UAE North", "Middle East"),
    ("brazilsouth", "Brazil South", "South America"),
    ("israelcentral", "Israel Central", "Middle East"),
    ("qatarcentral", "Qatar Central", "Middle East"),
    ("northcentralus", "North Central US", "US"),
    ("westus", "West US", "US"),
    ("westcentralus", "West Central US", "US"),
    ("ukwest", "UK West", "Europe"),
    ("francesouth", "France South", "Europe"),
    ("germanynorth", "Germany North", "Europe"),
    ("norwaywest", "Norway West", "Europe"),
    ("switzerlandwest", "Switzerland West", "Europe"),
    ("australiasoutheast", "Australia Southeast", "Asia Pacific"),
    ("japanwest", "Japan West", "Asia Pacific"),
    ("koreasouth", "Korea South", "Asia Pacific"),
    ("southindia", "South India", "Asia Pacific"),
    ("westindia", "West India", "Asia Pacific"),
    ("canadaeast", "Canada East", "Canada"),
    ("belgiumcentral", "Belgium Central", "Europe"),
    ("newzealandnorth", "New Zealand North", "Asia Pacific"),
)
_BY_KEY = {n: n for n, _, _ in REGIONS} | {d.lower().replace(" ", ""): n for n, d, _ in REGIONS}


def normalise(location: str) -> str | None:
    """The region name of a location as clients write it ('West Europe', 'westeurope'), or None if unknown."""
    return _BY_KEY.get(str(location).lower().replace(" ", ""))


def listing(subscription_id: str) -> list[dict]:
    """The body items of Subscriptions_ListLocations."""
    return [
        {
            "id": f"/subscriptions/{subscription_id}/locations/{n}",
            "name": n,
            "type": "Region",
            "displayName": d,
            "regionalDisplayName": f"({g}) {d}",
            "metadata": {"regionType": "Physical", "regionCategory": "Recommended", "geographyGroup": g},
        }
        for n, d, g in REGIONS
    ]
