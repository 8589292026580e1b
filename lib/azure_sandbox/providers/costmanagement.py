"""Microsoft.CostManagement: the cost query and forecast of a subscription (or one of its resource groups).

Spec: specification/cost-management/resource-manager/Microsoft.CostManagement/stable/2025-03-01/costmanagement.json
(Query_Usage, Forecast_Usage; examples SubscriptionQuery.json, SubscriptionQueryGrouping.json, 2020-06-01
SubscriptionForecast.json); the client is azure-mgmt-costmanagement 5.0.0 (`query.usage`, `forecast.usage`).

The costs are generated, deterministically, from what the tenant holds: every tracked resource under a resource group
has a daily rate by type (a VM by its size and OS, a plan by its SKU, a disk, a public IP, a workspace, ...), every
Defender plan at Standard adds its per-resource rate from the day it was enabled, every backup-protected VM its
protected-instance rate from the day protection was configured; a resource created through the sandbox costs from
its `systemData.createdAt`, a fixture's resource always did. Each (meter, day) varies by a few percent and each
(subscription, month) drifts, seeded from the ids, so months differ plausibly and a re-run answers the same. Data is
available up to yesterday (Azure's is 8-24 hours behind). One currency, EUR; CostUSD at a fixed 1.08.

Answers as Azure shapes them: `{id: subscriptions/{id}/providers/Microsoft.CostManagement/query/{guid}, name, type:
Microsoft.CostManagement/query, location, sku, eTag: null, properties {nextLink, columns, rows}}`, the columns in
Azure's order: the aggregated costs (named by the aggregation's column, e.g. PreTaxCost or Cost), then the date
(UsageDate, a number yyyymmdd, for Daily; BillingMonth, a Datetime 'yyyy-mm-01T00:00:00', for Monthly), then the
grouping columns (a TagKey grouping adds TagKey and TagValue), then Currency; the forecast adds CostStatus (Actual /
Forecast) before Currency. Rows beyond $top (default 1000) continue at `nextLink` ($skiptoken).

Refused as Azure refuses (400 BadRequest, "Invalid query definition..." as Azure words it:
Azure/azure-rest-api-specs#21966, #27650, #36332, mivano/azure-cost-cli#6):
- no dataset / no aggregation ("Invalid query definition, Dataset is invalid or not supplied.");
- type, timeframe, granularity, aggregation function, aggregation column, grouping type or dimension outside what
  the service takes ("Invalid query definition: Invalid dataset grouping: 'X'; valid values: ..."); more than two
  groupings or aggregations (the spec: "Query can have up to 2 group by clauses"; message inferred);
- timeframe TheLastMonth ("Invalid query definition, timeframe TheLastMonth is currently not supported.", #27650:
  every api-version; TheLastBillingMonth works);
- Custom without timePeriod, from after to, a period over one year (the one-year limit per microsoft/AzureTRE#2057;
  messages inferred);
- a subscription whose offer Cost Management does not serve (fixture `cost_management: false`, optional `offer`):
  "Cost management data is unavailable for subscription {id}. The offer {offer} is not supported."
  (JulianHayward/Azure-MG-Sub-Governance-Reporting#38, #49; code BadRequest as quoted there);
- forecast of a period wholly in the past: 400 CantForecastOnThePast (mivano/azure-cost-cli#28).
Throttling (fault switch `cost_management_qpu`): the QPU quotas of learn.microsoft.com/azure/cost-management-billing/
costs/manage-automation (12 QPU per 10 s, 60 per minute, 600 per hour per tenant; one QPU per month of data queried)
answer 429 {"error": {"code": "429", "message": "Too many requests. Please retry."}} (cloudquery/cloudquery#9860) with
`x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after` (and `-entity-`, `-tenant-` retry-after; Azure/azqr#745), not
a standard Retry-After; every answer carries `-qpu-consumed` and `-qpu-remaining`.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from ..core import ids
from ..core.http import ArmError, Request, Response
from ..core.provider import Provider, Route

if TYPE_CHECKING:
    from ..core.arm import Arm

CURRENCY = "EUR"
USD_RATE = 1.08
_SCOPE = r"(?P<scope>/subscriptions/(?P<sub>[^/]+)(?:/resourcegroups/(?P<rg>[^/]+))?)"
TYPES = ("ActualCost", "AmortizedCost", "Usage")
TIMEFRAMES = ("MonthToDate", "BillingMonthToDate", "TheLastMonth", "TheLastBillingMonth", "WeekToDate", "Custom")
# TheCurrentMonth is in the 2025-03-01 TimeframeType enum the SDK uses for queries and exports alike
QUERY_TIMEFRAMES = (*TIMEFRAMES, "TheCurrentMonth")
FORECAST_TIMEFRAMES = ("MonthToDate", "BillingMonthToDate", "TheLastMonth", "TheLastBillingMonth", "WeekToDate")
GRANULARITIES = ("Daily", "Monthly", "None")
COST_COLUMNS = ("PreTaxCost", "Cost", "CostUSD", "PreTaxCostUSD", "UsageQuantity")
FUNCTIONS = ("Sum",)
GROUPING_TYPES = ("Dimension", "TagKey")
#: the dimensions a subscription of a Microsoft Customer Agreement (Azure plan) groups by, in Azure's order
#: (mivano/azure-cost-cli#6, Azure/azure-rest-api-specs#36332: ConsumedService is no longer one)
DIMENSIONS = (
    "ResourceGroup",
    "ResourceGroupName",
    "ResourceType",
    "ResourceId",
    "ResourceLocation",
    "SubscriptionId",
    "SubscriptionName",
    "MeterCategory",
    "MeterSubcategory",
    "Meter",
    "ServiceFamily",
    "UnitOfMeasure",
    "PartNumber",
    "BillingAccountName",
    "BillingProfileId",
    "BillingProfileName",
    "InvoiceSection",
    "InvoiceSectionId",
    "InvoiceSectionName",
    "Product",
    "ResourceGuid",
    "ChargeType",
    "ServiceName",
    "ProductOrderId",
    "ProductOrderName",
    "PublisherType",
    "ReservationId",
    "ReservationName",
    "Frequency",
    "InvoiceId",
    "PricingModel",
    "CostAllocationRuleName",
    "MarkupRuleName",
    "BillingMonth",
    "Provider",
    "BenefitId",
    "BenefitName",
    "CustomerTenantId",
    "CustomerTenantDomainName",
    "ResellerMPNId",
    "PartnerEarnedCreditApplied",
    "CustomerName",
    "PartnerName",
)
_DIM = {d.lower(): d for d in DIMENSIONS}
MAX_GROUPINGS = 2
MAX_AGGREGATIONS = 2
DEFAULT_TOP = 1000
#: per tenant: (window seconds, QPU, quota name) - manage-automation "Query API QPU-based throttling"
QPU_QUOTAS = (
    (10, 12, "QueryQPUPerTenantPer10Sec"),
    (60, 60, "QueryQPUPerTenantPer1Min"),
    (3600, 600, "QueryQPUPerTenantPer1Hour"),
)
HEADER = "x-ms-ratelimit-microsoft.costmanagement-"

# hourly rates (EUR) of the sandbox's VM sizes, pay-as-you-go, Linux; Windows adds its licence
VM_HOURLY = {
    "standard_b1s": 0.0104,
    "standard_b2s": 0.0416,
    "standard_b2ms": 0.0832,
    "standard_d2s_v5": 0.096,
    "standard_d4s_v5": 0.192,
    "standard_d8s_v5": 0.384,
}
WINDOWS_HOURLY = 0.046  # per 2 vCPU-ish, enough for a plausible difference
# resource type -> (service name, meter category, meter subcategory, meter, daily EUR, unit)
RATES: dict[str, tuple[str, str, str, str, float, str]] = {
    "microsoft.compute/disks": ("Storage", "Storage", "Premium SSD Managed Disks", "P10 LRS Disk", 0.58, "1/Month"),
    "microsoft.storage/storageaccounts": (
        "Storage",
        "Storage",
        "General Block Blob v2",
        "Hot LRS Data Stored",
        0.9,
        "1 GB/Month",
    ),
    "microsoft.keyvault/vaults": ("Key Vault", "Key Vault", "Key Vault", "Operations", 0.05, "10K"),
    "microsoft.web/serverfarms": (
        "Azure App Service",
        "Azure App Service",
        "Premium v3 Plan",
        "P1 v3 App",
        4.8,
        "1 Hour",
    ),
    "microsoft.sql/servers/databases": ("SQL Database", "SQL Database", "Standard - DTUs", "S1 DTUs", 0.97, "1/Day"),
    "microsoft.network/publicipaddresses": (
        "Virtual Network",
        "Virtual Network",
        "IP Addresses",
        "Standard IPv4 Static Public IP",
        0.108,
        "1 Hour",
    ),
    "microsoft.network/virtualnetworks": (
        "Bandwidth",
        "Bandwidth",
        "Inter-Region",
        "Intra Continent Data Transfer Out",
        0.03,
        "1 GB",
    ),
    "microsoft.operationalinsights/workspaces": (
        "Log Analytics",
        "Log Analytics",
        "Analytics Logs",
        "Pay-as-you-go Data Ingestion",
        2.2,
        "1 GB",
    ),
    "microsoft.recoveryservices/vaults": (
        "Backup",
        "Backup",
        "Azure VM Backup",
        "Azure VM Protected Instances",
        0.0,
        "1/Month",
    ),
}
# Defender plan -> (resource type it is charged per, daily EUR per resource) ("Standard" tier), and Arm per subscription
DEFENDER_RATES: dict[str, tuple[str, float]] = {
    "virtualmachines": ("microsoft.compute/virtualmachines", 0.49),
    "storageaccounts": ("microsoft.storage/storageaccounts", 0.33),
    "sqlservers": ("microsoft.sql/servers", 0.49),
    "appservices": ("microsoft.web/serverfarms", 0.49),
    "keyvaults": ("microsoft.keyvault/vaults", 0.08),
    "arm": ("", 0.13),
}
BACKUP_DAILY = 0.33  # an Azure VM protected instance (up to 50 GB) per day, plus its storage
_EPOCH = date(2000, 1, 1)


def _bad(message: str) -> ArmError:
    """Cost Management's 400 for a query it cannot run (code BadRequest, a request id in the message)."""
    return ArmError(400, "BadRequest", f"{message} (Request ID: {uuid.uuid4()})")


def _invalid(what: str, value: Any, valid: tuple[str, ...]) -> ArmError:
    listed = ",".join(f"'{v}'" for v in valid)
    return _bad(f"Invalid query definition: Invalid {what}: '{value}'; valid values: {listed}.")


def _canon(value: Any, allowed: tuple[str, ...]) -> str | None:
    return next((a for a in allowed if a.lower() == str(value).lower()), None)


def _unit(text: str) -> float:
    """A stable number in [0, 1) from a text (the seed of the generated costs)."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16) / float(1 << 48)


def today() -> date:
    """The UTC date the costs run up to (exclusive)."""
    return datetime.now(timezone.utc).date()


@dataclass(frozen=True)
class Meter:
    """One line of charges: a resource's meter with its daily rate, from the day it started."""

    key: str
    resource_id: str
    resource_group: str
    resource_type: str
    location: str
    service: str
    category: str
    subcategory: str
    meter: str
    unit: str
    daily: float
    since: date
    tags: tuple[tuple[str, str], ...] = ()

    def cost(self, sub: str, day: date) -> float:
        """What the meter charged on a day: its rate, varied by day and drifting by month."""
        if day < self.since:
            return 0.0
        jitter = 0.92 + 0.16 * _unit(f"{self.key}|{day.isoformat()}")
        drift = 0.95 + 0.17 * _unit(f"{sub}|{day.year}-{day.month:02d}")
        return self.daily * jitter * drift

    def value(self, dim: str, sub: dict) -> str:
        """This meter's value of a grouping dimension."""
        d = dim.lower()
        values = {
            "resourcegroup": self.resource_group,
            "resourcegroupname": self.resource_group,
            "resourcetype": self.resource_type,
            "resourceid": self.resource_id.lower(),
            "resourcelocation": self.location,
            "subscriptionid": sub["subscriptionId"],
            "subscriptionname": sub.get("displayName", ""),
            "metercategory": self.category,
            "metersubcategory": self.subcategory,
            "meter": self.meter,
            "servicename": self.service,
            "servicefamily": "Compute" if self.category == "Virtual Machines" else self.category,
            "unitofmeasure": self.unit,
            "chargetype": "Usage",
            "pricingmodel": "OnDemand",
            "publishertype": "Azure",
            "frequency": "UsageBased",
            "provider": "Azure",
            "resourceguid": str(uuid.uuid5(uuid.NAMESPACE_URL, self.meter)),
        }
        return values.get(d, "")


def _since(obj: dict) -> date:
    created = (obj.get("systemData") or {}).get("createdAt")
    if not created:
        return _EPOCH
    return datetime.fromisoformat(str(created).replace("Z", "+00:00")).date()


def _tags(obj: dict) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in (obj.get("tags") or {}).items()))


def meters(arm: Arm, sub_id: str) -> list[Meter]:
    """Every meter of a subscription: its resources, its Defender plans, its protected VMs."""
    prefix = f"/subscriptions/{sub_id}/resourcegroups/".lower()
    out: list[Meter] = []
    by_type: dict[str, list[dict]] = defaultdict(list)
    for key, obj in list(arm.state.arm.items()):
        if not key.startswith(prefix):
            continue
        rtype = str(obj.get("type", "")).lower()
        spec = arm.registry.lookup(rtype)
        if spec is None or (not spec.tracked and rtype != "microsoft.sql/servers/databases"):
            continue
        by_type[rtype].append(obj)
        rg = ids.resource_group_of(obj["id"]) or ""
        base = dict(
            resource_id=obj["id"],
            resource_group=rg.lower(),
            resource_type=rtype,
            location=str(obj.get("location", "")).lower(),
            since=_since(obj),
            tags=_tags(obj),
        )
        if rtype == "microsoft.compute/virtualmachines":
            props = obj.get("properties") or {}
            size = str((props.get("hardwareProfile") or {}).get("vmSize", "Standard_B2s"))
            os_type = ((props.get("storageProfile") or {}).get("osDisk") or {}).get("osType", "Linux")
            hourly = VM_HOURLY.get(size.lower(), 0.1) + (WINDOWS_HOURLY if os_type == "Windows" else 0.0)
            series = size.split("_")[1][:1].upper() + "-series" if "_" in size else "Virtual Machines"
            out.append(
                Meter(
                    key=obj["id"].lower(),
                    service="Virtual Machines",
                    category="Virtual Machines",
                    subcategory=f"{series}{' Windows' if os_type == 'Windows' else ''}",
                    meter=size.replace("Standard_", "").replace("_", " "),
                    unit="1 Hour",
                    daily=hourly * 24,
                    **base,
                )
            )
        elif rtype in RATES:
            service, category, subcategory, meter, daily, unit = RATES[rtype]
            if daily:
                daily *= 0.6 + 0.8 * _unit(obj["id"].lower())  # sizes differ between resources of a type
                out.append(
                    Meter(
                        obj["id"].lower(),
                        service=service,
                        category=category,
                        subcategory=subcategory,
                        meter=meter,
                        unit=unit,
                        daily=daily,
                        **base,
                    )
                )
    for item in arm.all_of_type("Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems"):
        if not item["id"].lower().startswith(prefix):
            continue
        vault_id = item["id"].split("/backupFabrics/")[0]
        vault = arm.state.get(vault_id) or {}
        since = item.get("_protected_since") or (item.get("systemData") or {}).get("createdAt")
        out.append(
            Meter(
                key=item["id"].lower(),
                resource_id=vault_id,
                resource_group=(ids.resource_group_of(vault_id) or "").lower(),
                resource_type="microsoft.recoveryservices/vaults",
                location=str(vault.get("location", "")).lower(),
                service="Backup",
                category="Backup",
                subcategory="Azure VM Backup",
                meter="Azure VM Protected Instances",
                unit="1/Month",
                daily=BACKUP_DAILY,
                since=datetime.fromisoformat(str(since).replace("Z", "+00:00")).date() if since else _EPOCH,
                tags=_tags(vault),
            )
        )
    for plan in arm.state.children(f"/subscriptions/{sub_id}/providers/Microsoft.Security/pricings"):
        rate = DEFENDER_RATES.get(str(plan.get("name", "")).lower())
        if rate is None or plan.get("_tier") != "Standard" or not plan.get("_enabled"):
            continue
        enabled = datetime.fromisoformat(str(plan["_enabled"])).date()
        rtype, daily = rate
        covered = by_type.get(rtype, []) if rtype else [{"id": f"/subscriptions/{sub_id}", "location": ""}]
        for obj in covered:
            out.append(
                Meter(
                    key=f"{obj['id'].lower()}|defender|{plan['name'].lower()}",
                    resource_id=obj["id"],
                    resource_group=(ids.resource_group_of(obj["id"]) or "").lower(),
                    resource_type=rtype or "microsoft.security/pricings",
                    location=str(obj.get("location", "")).lower(),
                    service="Microsoft Defender for Cloud",
                    category="Microsoft Defender for Cloud",
                    subcategory=f"Defender for {plan['name']}",
                    meter="Standard Node" if rtype == "microsoft.compute/virtualmachines" else "Standard",
                    unit="1/Day",
                    daily=daily,
                    since=max(enabled, _since(obj)),
                    tags=_tags(obj),
                )
            )
    return out


# ---------------------------------------------------------------------------------------------------- the request
@dataclass
class Query:
    """A validated query or forecast definition."""

    type: str
    timeframe: str
    start: date
    end: date  # inclusive
    granularity: str  # Daily | Monthly | None
    aggregations: list[tuple[str, str]]  # (alias, column)
    groupings: list[tuple[str, str]]  # (type, name)
    filter: dict | None
    include_actual: bool = True
    months: int = 1
    extra: dict = field(default_factory=dict)


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _previous_month(d: date) -> tuple[date, date]:
    last = d.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def _parse_date(value: Any, what: str) -> date:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()
    except ValueError:
        raise _bad(f"Invalid query definition: Invalid timePeriod {what}: '{value}'.") from None


def period(timeframe: str, body: dict, forecast: bool = False) -> tuple[date, date]:
    """The days (first, last inclusive) a timeframe covers."""
    now = today()
    if timeframe == "Custom":
        tp = body.get("timePeriod")
        if not isinstance(tp, dict) or tp.get("from") is None or tp.get("to") is None:
            raise _bad("Invalid query definition, timePeriod is required when timeframe is Custom.")
        start, end = _parse_date(tp["from"], "from"), _parse_date(tp["to"], "to")
        if start > end:
            raise _bad("Invalid query definition: timePeriod 'from' must be on or before 'to'.")
        if end > _add_year(start):
            raise _bad("Invalid query definition: The time period for pulling the data cannot exceed 1 year(s).")
        return start, end
    if timeframe == "TheLastBillingMonth":
        return _previous_month(now)
    if timeframe == "TheLastMonth":  # forecasts take it (queries are refused before)
        return _previous_month(now)
    if timeframe == "WeekToDate":
        return now - timedelta(days=now.weekday()), now
    if forecast or timeframe == "TheCurrentMonth":  # a forecast of the month runs to its end
        nxt = (_month_start(now) + timedelta(days=32)).replace(day=1)
        return _month_start(now), nxt - timedelta(days=1)
    return _month_start(now), now


def _add_year(d: date) -> date:
    try:
        return d.replace(year=d.year + 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year + 1, day=28)


def parse(body: dict, forecast: bool = False) -> Query:
    """A query (or forecast) definition as the service validates it."""
    dataset = body.get("dataset") if "dataset" in body else body.get("dataSet")
    kind = _canon(body.get("type"), TYPES)
    if body.get("type") is None or kind is None:
        raise _invalid("type", body.get("type"), TYPES)
    timeframes = (*FORECAST_TIMEFRAMES, "Custom") if forecast else QUERY_TIMEFRAMES
    timeframe = _canon(body.get("timeframe"), timeframes)
    if body.get("timeframe") is None or timeframe is None:
        raise _invalid("timeframe", body.get("timeframe"), timeframes)
    if not forecast and timeframe == "TheLastMonth":
        raise _bad("Invalid query definition, timeframe TheLastMonth is currently not supported.")
    if not isinstance(dataset, dict) or not isinstance(dataset.get("aggregation"), dict) or not dataset["aggregation"]:
        raise _bad("Invalid query definition, Dataset is invalid or not supplied.")
    granularity = dataset.get("granularity")
    gran = "None" if granularity is None else _canon(granularity, GRANULARITIES)
    if gran is None:
        raise _invalid("dataset granularity", granularity, GRANULARITIES)
    aggregations = []
    if len(dataset["aggregation"]) > MAX_AGGREGATIONS:
        raise _bad(f"Invalid query definition: Dataset can have up to {MAX_AGGREGATIONS} aggregation clauses.")
    for alias, agg in dataset["aggregation"].items():
        if not isinstance(agg, dict):
            raise _bad("Invalid query definition, Dataset is invalid or not supplied.")
        column = _canon(agg.get("name"), COST_COLUMNS)
        if column is None:
            raise _invalid("dataset aggregation", agg.get("name"), COST_COLUMNS)
        if _canon(agg.get("function"), FUNCTIONS) is None:
            raise _invalid("dataset aggregation function", agg.get("function"), FUNCTIONS)
        aggregations.append((str(alias), column))
    groupings = []
    raw_groupings = dataset.get("grouping") or []
    if not isinstance(raw_groupings, list):
        raise _bad("Invalid query definition, Dataset is invalid or not supplied.")
    if len(raw_groupings) > MAX_GROUPINGS:
        raise _bad(f"Invalid query definition: Dataset can have up to {MAX_GROUPINGS} group by clauses.")
    for g in raw_groupings:
        gtype = _canon((g or {}).get("type"), GROUPING_TYPES)
        name = (g or {}).get("name")
        if gtype is None:
            raise _invalid("dataset grouping type", (g or {}).get("type"), GROUPING_TYPES)
        if gtype == "Dimension":
            dim = _DIM.get(str(name).lower())
            if dim is None:
                raise _invalid("dataset grouping", name, (*DIMENSIONS, ""))
            groupings.append((gtype, dim))
        else:
            if not name:
                raise _invalid("dataset grouping", name, ("<tag key>",))
            groupings.append((gtype, str(name)))
    start, end = period(timeframe, body, forecast)
    months = max(1, math.ceil(((end - start).days + 1) / 30.5))  # one QPU per month of data
    return Query(
        kind,
        timeframe,
        start,
        end,
        gran,
        aggregations,
        groupings,
        dataset.get("filter"),
        include_actual=bool(body.get("includeActualCost", True)),
        months=months,
    )


def matches(expr: Any, meter: Meter, sub: dict) -> bool:
    """Whether a meter passes a query filter (and / or / not, dimensions / tags with operator In)."""
    if not expr:
        return True
    if not isinstance(expr, dict):
        raise _bad("Invalid query definition: Invalid dataset filter.")
    for key, value in expr.items():
        k = key.lower()
        if k == "and":
            if not all(matches(e, meter, sub) for e in value or []):
                return False
        elif k == "or":
            if not any(matches(e, meter, sub) for e in value or []):
                return False
        elif k == "not":
            if matches(value, meter, sub):
                return False
        elif k in ("dimensions", "dimension", "tags", "tag"):
            cond = value or {}
            operator = str(cond.get("operator", "In"))
            if operator.lower() not in ("in", "contains"):
                raise _invalid("dataset filter operator", operator, ("In", "Contains"))
            wanted = [str(v).lower() for v in cond.get("values") or []]
            if k.startswith("dim"):
                dim = _DIM.get(str(cond.get("name", "")).lower())
                if dim is None:
                    raise _invalid("dataset filter dimension", cond.get("name"), DIMENSIONS)
                have = meter.value(dim, sub).lower()
            else:
                have = next((v for t, v in meter.tags if t.lower() == str(cond.get("name", "")).lower()), "")
                have = have.lower() if have else ""
                if not have:
                    return False
            hit = have in wanted if operator.lower() == "in" else any(w in have for w in wanted)
            if not hit:
                return False
        else:
            raise _bad(f"Invalid query definition: Invalid dataset filter: '{key}'.")
    return True


# ---------------------------------------------------------------------------------------------------- throttling
class QpuBuckets:
    """The tenant's Query QPU windows (sliding), when the fault switch asks for them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.spent: list[tuple[float, int]] = []

    def take(self, qpu: int, enforce: bool, clock=time.monotonic) -> tuple[bool, float, str]:
        """Spend QPU: (allowed, seconds to wait when not, the remaining quotas as Azure lists them)."""
        now = clock()
        with self._lock:
            self.spent = [(t, q) for t, q in self.spent if now - t < QPU_QUOTAS[-1][0]]
            remaining, wait = [], 0.0
            for window, limit, name in QPU_QUOTAS:
                used = sum(q for t, q in self.spent if now - t < window)
                if enforce and used and used + qpu > limit:
                    oldest = min(t for t, _ in self.spent if now - t < window)
                    wait = max(wait, window - (now - oldest))
                remaining.append((name, limit - used))
            if wait > 0:
                return False, wait, ", ".join(f"{n}:{max(0, r)}" for n, r in remaining)
            self.spent.append((now, qpu))
            return True, 0.0, ", ".join(f"{n}:{max(0, r - qpu)}" for n, r in remaining)


class CostManagement(Provider):
    """The cost query and the forecast, at subscription and resource-group scope."""

    namespace = "Microsoft.CostManagement"
    routes = (
        Route(
            _SCOPE + r"/providers/microsoft\.costmanagement/query",
            "query",
            ("2025-03-01",),
            "query",
            ("POST",),
            namespace_error=True,
            type="Microsoft.CostManagement/query",
        ),
        Route(
            _SCOPE + r"/providers/microsoft\.costmanagement/forecast",
            "forecast",
            ("2025-03-01",),
            "forecast",
            ("POST",),
            namespace_error=True,
            type="Microsoft.CostManagement/forecast",
        ),
    )

    def __init__(self) -> None:
        self.qpu = QpuBuckets()

    # ------------------------------------------------------------------ shared
    def _prepare(
        self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str, action: str
    ) -> tuple[dict, str, str | None, dict]:
        sub_id = path.split("/")[2]
        scope = path[: len(m.group("scope"))]
        if denied := arm.authorize(principal, scope, action):
            raise ArmError(denied.status, "AuthorizationFailed", denied.body["error"]["message"])  # type: ignore[index]
        sub = arm.state.get(f"/subscriptions/{sub_id}") or {}
        if sub.get("_cost_management") is False:
            offer = sub.get("_offer_id") or "MS-AZR-0145P"
            raise _bad(
                f"Cost management data is unavailable for subscription {sub_id}. The offer {offer} is not supported."
            )
        rg = ids.resource_group_of(scope)
        return sub, sub_id, rg, req.json()

    def _throttle(self, arm: Arm, months: int) -> dict[str, str]:
        qpu = max(1, months)
        allowed, wait, remaining = self.qpu.take(qpu, bool(getattr(arm.faults.faults, "cost_management_qpu", False)))
        if not allowed:
            seconds = str(max(1, math.ceil(wait)))
            raise ArmError(
                429,
                "429",
                "Too many requests. Please retry.",
                headers={
                    f"{HEADER}qpu-retry-after": seconds,
                    f"{HEADER}entity-retry-after": seconds,
                    f"{HEADER}tenant-retry-after": seconds,
                    f"{HEADER}qpu-remaining": remaining,
                },
            )
        return {f"{HEADER}qpu-consumed": str(qpu), f"{HEADER}qpu-remaining": remaining}

    @staticmethod
    def _envelope(scope: str, columns: list[dict], rows: list[list], req: Request) -> dict:
        name = str(uuid.uuid4())
        try:
            top = int(req.query.get("$top") or DEFAULT_TOP)
            start = int(req.query.get("$skiptoken") or 0)
        except ValueError:
            raise _bad(f"Invalid query parameter '$top' or '$skiptoken': '{req.query.get('$top')}'.") from None
        page, next_link = rows[start : start + top], None
        if start + top < len(rows):
            q = {k: v for k, v in req.query.items() if k != "$skiptoken"}
            q["$skiptoken"] = str(start + top)
            next_link = f"{req.base_url}{quote(ids.normalise_path(req.path))}?{urlencode(q)}"
        return {
            "id": f"{scope.strip('/')}/providers/Microsoft.CostManagement/query/{name}",
            "name": name,
            "type": "Microsoft.CostManagement/query",
            "location": None,
            "sku": None,
            "eTag": None,
            "properties": {"nextLink": next_link, "columns": columns, "rows": page},
        }

    @staticmethod
    def _columns(q: Query) -> list[dict]:
        cols = [{"name": column, "type": "Number"} for _, column in q.aggregations]
        if q.granularity == "Daily":
            cols.append({"name": "UsageDate", "type": "Number"})
        elif q.granularity == "Monthly":
            cols.append({"name": "BillingMonth", "type": "Datetime"})
        for gtype, name in q.groupings:
            if gtype == "TagKey":
                cols += [{"name": "TagKey", "type": "String"}, {"name": "TagValue", "type": "String"}]
            else:
                cols.append({"name": name, "type": "String"})
        return cols

    @staticmethod
    def _amount(column: str, cost: float, meter: Meter) -> float:
        if column == "UsageQuantity":
            return cost / meter.daily * (24 if meter.unit == "1 Hour" else 1) if meter.daily else 0.0
        return cost * USD_RATE if column.endswith("USD") else cost

    def _aggregate(
        self, arm: Arm, q: Query, sub: dict, sub_id: str, rg: str | None, days: list[date], status: str | None
    ) -> dict[tuple, list[float]]:
        totals: dict[tuple, list[float]] = {}
        for meter in meters(arm, sub_id):
            if rg and meter.resource_group != rg.lower():
                continue
            if not matches(q.filter, meter, sub):
                continue
            keys: list[Any] = []
            for gtype, name in q.groupings:
                if gtype == "TagKey":
                    value = next((v for t, v in meter.tags if t.lower() == name.lower()), None)
                    keys += [name, value] if value is not None else ["", ""]
                else:
                    keys.append(meter.value(name, sub))
            for day in days:
                cost = meter.cost(sub_id, day)
                if cost <= 0:
                    continue
                when: tuple = ()
                if q.granularity == "Daily":
                    when = (int(day.strftime("%Y%m%d")),)
                elif q.granularity == "Monthly":
                    when = (day.replace(day=1).strftime("%Y-%m-%dT00:00:00"),)
                key = when + tuple(keys) + ((status,) if status else ())
                row = totals.setdefault(key, [0.0] * len(q.aggregations))
                for i, (_, column) in enumerate(q.aggregations):
                    row[i] += self._amount(column, cost, meter)
        return totals

    @staticmethod
    def _days(start: date, end: date) -> list[date]:
        return [start + timedelta(days=i) for i in range((end - start).days + 1)]

    # ------------------------------------------------------------------ query
    def query(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """Query_Usage: the costs of the period, aggregated, by date and groupings."""
        sub, sub_id, rg, body = self._prepare(arm, req, principal, m, path, "Microsoft.CostManagement/query/read")
        q = parse(body)
        headers = self._throttle(arm, q.months)
        last = min(q.end, today() - timedelta(days=1))
        days = self._days(q.start, last) if last >= q.start else []
        totals = self._aggregate(arm, q, sub, sub_id, rg, days, None)
        rows = [
            [round(v, 10) for v in vals] + list(key) + [CURRENCY]
            for key, vals in sorted(totals.items(), key=lambda kv: [str(k) for k in kv[0]])
        ]
        columns = [*self._columns(q), {"name": "Currency", "type": "String"}]
        scope = path[: len(m.group("scope"))]
        return Response(200, self._envelope(scope, columns, rows, req), headers)

    # ------------------------------------------------------------------ forecast
    def forecast(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """Forecast_Usage: the actual costs so far (includeActualCost) and the forecast of the rest of the period,
        each row marked CostStatus Actual or Forecast; a period wholly past is CantForecastOnThePast."""
        sub, sub_id, rg, body = self._prepare(arm, req, principal, m, path, "Microsoft.CostManagement/forecast/read")
        q = parse(body, forecast=True)
        now = today()
        if q.end < now:
            raise ArmError(400, "CantForecastOnThePast", "CantForecastOnThePast")
        headers = self._throttle(arm, q.months)
        rows: list[list] = []
        actual_end = min(q.end, now - timedelta(days=1))
        merged: dict[tuple, list[float]] = {}
        if q.include_actual and actual_end >= q.start:
            merged.update(self._aggregate(arm, q, sub, sub_id, rg, self._days(q.start, actual_end), "Actual"))
        future = self._days(max(q.start, now), q.end)
        merged.update(self._aggregate(arm, q, sub, sub_id, rg, future, "Forecast"))
        for key, vals in sorted(merged.items(), key=lambda kv: [str(k) for k in kv[0]]):
            rows.append([round(v, 10) for v in vals] + list(key) + [CURRENCY])
        columns = [*self._columns(q), {"name": "CostStatus", "type": "String"}, {"name": "Currency", "type": "String"}]
        scope = path[: len(m.group("scope"))]
        return Response(200, self._envelope(scope, columns, rows, req), headers)
