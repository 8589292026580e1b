"""The Cost Management query and forecast, as the monthly report reads them, through azure-mgmt-costmanagement.

Spec: specification/cost-management/resource-manager/Microsoft.CostManagement/stable/2025-03-01/costmanagement.json
(Query_Usage, Forecast_Usage); docs: learn.microsoft.com/rest/api/cost-management/query/usage and
/forecast/usage. Each negative test names where Azure's answer was seen; "inferred" marks a message no public source
quotes.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from azure.core.exceptions import HttpResponseError

from tests.conftest import DEMO_SUBS
from tests.contract.http import refused

SUB = DEMO_SUBS[0]
SCOPE = f"subscriptions/{SUB}"
CM = "azure.mgmt.costmanagement"
COST = {"totalCost": {"name": "Cost", "function": "Sum"}}
QUERY_PATH = f"/{SCOPE}/providers/Microsoft.CostManagement/query?api-version=2023-03-01"


@pytest.fixture
def cost(sdk):
    """CostManagementClient (its default api-version, 2025-03-01), without retries so refusals surface at once."""
    return sdk(CM, "CostManagementClient", retry_total=0)


def _query(timeframe="TheLastBillingMonth", granularity=None, grouping=None, **extra) -> dict:
    dataset: dict = {"aggregation": COST}
    if granularity:
        dataset["granularity"] = granularity
    if grouping:
        dataset["grouping"] = grouping
    return {"type": "ActualCost", "timeframe": timeframe, "dataset": dataset, **extra}


def _last_month() -> tuple[date, date]:
    today = datetime.now(timezone.utc).date()
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def _days_in(first: date) -> int:
    return ((first.replace(day=28) + timedelta(days=4)).replace(day=1) - first).days


def _error(exc: pytest.ExceptionInfo[HttpResponseError]) -> tuple[int, str, str]:
    err = exc.value
    return err.status_code, err.error.code if err.error else "", err.error.message if err.error else ""


# ---------------------------------------------------------------------------------------------------- positive
def test_the_grouping_example_answers_in_its_shape(cost):
    """examples/SubscriptionQueryGrouping.json (2023-03-01: Usage, granularity None, PreTaxCost Sum grouped by
    ResourceGroup; its timeframe TheLastMonth is refused by Azure, TheLastBillingMonth asked instead): columns
    PreTaxCost, ResourceGroup, Currency; one row per resource group of the subscription that has costs."""
    body = {
        "type": "Usage",
        "timeframe": "TheLastBillingMonth",
        "dataset": {
            "granularity": "None",
            "aggregation": {"totalCost": {"name": "PreTaxCost", "function": "Sum"}},
            "grouping": [{"type": "Dimension", "name": "ResourceGroup"}],
        },
    }
    result = cost.query.usage(SCOPE, body)
    assert result.type == "Microsoft.CostManagement/query"
    assert result.id.startswith(f"{SCOPE}/providers/Microsoft.CostManagement/query/")
    assert [(c.name, c.type) for c in result.columns] == [
        ("PreTaxCost", "Number"),
        ("ResourceGroup", "String"),
        ("Currency", "String"),
    ]
    assert {r[1] for r in result.rows} == {"rg-prod-web", "rg-prod-data", "rg-prod-vms"}
    assert all(r[0] > 0 and r[2] == "EUR" for r in result.rows)
    assert result.next_link is None


def test_daily_rows_carry_the_date_as_a_number_before_the_groupings_and_add_up(cost):
    """SubscriptionQuery.json: Daily adds UsageDate (Number, yyyymmdd) after the costs and before the grouping
    columns, Currency last; the daily rows of a month sum to its total, and a repeated query answers the same."""
    first, last = _last_month()
    daily = cost.query.usage(
        SCOPE, _query(granularity="Daily", grouping=[{"type": "Dimension", "name": "ServiceName"}])
    )
    assert [c.name for c in daily.columns] == ["Cost", "UsageDate", "ServiceName", "Currency"]
    days = {r[1] for r in daily.rows}
    assert days == {int((first + timedelta(days=i)).strftime("%Y%m%d")) for i in range((last - first).days + 1)}
    assert {"Virtual Machines", "Storage", "Azure App Service", "SQL Database", "Key Vault"} <= {
        r[2] for r in daily.rows
    }
    total = cost.query.usage(SCOPE, _query())
    assert [c.name for c in total.columns] == ["Cost", "Currency"] and len(total.rows) == 1
    assert sum(r[0] for r in daily.rows) == pytest.approx(total.rows[0][0])
    again = cost.query.usage(
        SCOPE, _query(granularity="Daily", grouping=[{"type": "Dimension", "name": "ServiceName"}])
    )
    assert again.rows == daily.rows


def test_monthly_rows_differ_plausibly_from_month_to_month(cost):
    """Monthly adds BillingMonth (Datetime 'yyyy-mm-01T00:00:00', as Azure answers it); a Custom period of three
    whole months gives three rows whose costs differ by a few percent, not by orders of magnitude."""
    _, last = _last_month()
    start = (last.replace(day=1) - timedelta(days=40)).replace(day=1)
    body = _query("Custom", "Monthly", timePeriod={"from": f"{start}T00:00:00Z", "to": f"{last}T00:00:00Z"})
    result = cost.query.usage(SCOPE, body)
    assert [(c.name, c.type) for c in result.columns] == [
        ("Cost", "Number"),
        ("BillingMonth", "Datetime"),
        ("Currency", "String"),
    ]
    months = [r[1] for r in result.rows]
    assert len(months) == 3 and all(m.endswith("-01T00:00:00") for m in months)
    per_day = [r[0] / _days_in(date.fromisoformat(r[1][:10])) for r in result.rows]
    assert len({round(v, 2) for v in per_day}) == 3  # months differ
    assert max(per_day) / min(per_day) < 1.4


def test_costs_follow_the_tenant_resource_group_scope_filters_and_tags(cost, sdk):
    """Query_Usage at a resource group scope (ResourceGroupQuery.json) answers that group's costs only, as a
    subscription query filtered on the group does (filter `dimensions` In, SubscriptionQuery.json); a TagKey grouping
    adds TagKey and TagValue columns (empty for untagged costs)."""
    rg_scope = f"{SCOPE}/resourceGroups/rg-prod-vms"
    group = [{"type": "Dimension", "name": "ServiceName"}]
    at_rg = cost.query.usage(rg_scope, _query(grouping=group))
    body = _query(grouping=group)
    body["dataset"]["filter"] = {
        "dimensions": {"name": "ResourceGroupName", "operator": "In", "values": ["rg-prod-vms"]}
    }
    filtered = cost.query.usage(SCOPE, body)
    assert at_rg.rows == filtered.rows
    assert {r[1] for r in at_rg.rows} == {"Virtual Machines", "Storage", "Virtual Network", "Bandwidth"}
    tagged = cost.query.usage(SCOPE, _query(grouping=[{"type": "TagKey", "name": "role"}]))
    assert [c.name for c in tagged.columns] == ["Cost", "TagKey", "TagValue", "Currency"]
    assert {(r[1], r[2]) for r in tagged.rows} == {("role", "app"), ("role", "dc"), ("", "")}


def test_enabling_a_defender_plan_is_charged_from_that_day(cost, raw):
    """Defender for Servers at Standard adds a Microsoft Defender for Cloud meter per VM from the day it is enabled:
    not in last month's costs, but in this month's forecast (Forecast_Usage, SubscriptionForecast.json: CostStatus
    Actual / Forecast before Currency)."""
    put = raw(
        "PUT",
        f"/{SCOPE}/providers/Microsoft.Security/pricings/VirtualMachines?api-version=2024-01-01",
        {"properties": {"pricingTier": "Standard"}},
    )
    assert put.status_code == 200, put.text
    group = [{"type": "Dimension", "name": "ServiceName"}]
    past = cost.query.usage(SCOPE, _query(grouping=group))
    assert "Microsoft Defender for Cloud" not in {r[1] for r in past.rows}
    body = {"type": "ActualCost", "timeframe": "MonthToDate", "includeActualCost": True}
    body["dataset"] = {"granularity": "Daily", "aggregation": COST, "grouping": group}
    forecast = cost.forecast.usage(SCOPE, body)
    assert [c.name for c in forecast.columns] == ["Cost", "UsageDate", "ServiceName", "CostStatus", "Currency"]
    defender = [r for r in forecast.rows if r[2] == "Microsoft Defender for Cloud"]
    assert defender and {r[3] for r in defender} == {"Forecast"}
    today = int(datetime.now(timezone.utc).date().strftime("%Y%m%d"))
    assert all(r[3] == ("Actual" if r[1] < today else "Forecast") for r in forecast.rows)


def test_rows_beyond_top_continue_at_next_link(raw):
    """Query_Usage pages with nextLink (QueryProperties.nextLink) and $skiptoken; $top bounds a page."""
    body = _query(granularity="Daily", grouping=[{"type": "Dimension", "name": "ResourceId"}])
    page = raw("POST", QUERY_PATH + "&$top=50", body)
    assert page.status_code == 200, page.text
    props = page.json()["properties"]
    assert len(props["rows"]) == 50 and props["nextLink"]
    rows = list(props["rows"])
    link = props["nextLink"]
    while link:
        nxt = raw("POST", link, body).json()["properties"]
        rows += nxt["rows"]
        link = nxt["nextLink"]
    whole = raw("POST", QUERY_PATH, body).json()["properties"]
    assert rows == whole["rows"] and len(rows) > 50


# ---------------------------------------------------------------------------------------------------- negative
@pytest.mark.parametrize(
    "body,what",
    [
        ({"type": "Costs", "timeframe": "MonthToDate", "dataset": {"aggregation": COST}}, "Invalid type: 'Costs'"),
        ({"type": "ActualCost", "timeframe": "Yesterday", "dataset": {"aggregation": COST}}, "Invalid timeframe"),
        (_query(granularity="Hourly"), "Invalid dataset granularity: 'Hourly'"),
        (
            _query(grouping=[{"type": "Dimension", "name": "BillingPeriod"}]),
            "Invalid dataset grouping: 'BillingPeriod'",
        ),
        (
            _query(grouping=[{"type": "Dimension", "name": "ConsumedService"}]),
            "Invalid dataset grouping: 'ConsumedService'",
        ),
        (
            {
                "type": "ActualCost",
                "timeframe": "MonthToDate",
                "dataset": {"aggregation": {"x": {"name": "Cost", "function": "Avg"}}},
            },
            "Invalid dataset aggregation function",
        ),
    ],
)
def test_values_outside_the_service_enums_are_refused(cost, body, what):
    """400 BadRequest "Invalid query definition: Invalid dataset grouping: 'BillingPeriod'; valid values: ..."
    (mivano/azure-cost-cli#6; ConsumedService: Azure/azure-rest-api-specs#36332); the same wording for type,
    timeframe, granularity and aggregation function (the spec's enums; wording inferred from the grouping answer)."""
    with pytest.raises(HttpResponseError) as exc:
        cost.query.usage(SCOPE, body)
    status, code, message = _error(exc)
    assert (status, code) == (400, "BadRequest")
    assert message.startswith("Invalid query definition") and what in message and "valid values" in message


def test_a_query_without_dataset_is_refused(raw):
    """400 BadRequest "Invalid query definition, Dataset is invalid or not supplied." (Azure/azure-rest-api-specs
    #21966)."""
    err = refused(raw("POST", QUERY_PATH, {"type": "ActualCost", "timeframe": "MonthToDate"}), 400, "BadRequest")
    assert err["message"].startswith("Invalid query definition, Dataset is invalid or not supplied.")


def test_the_last_month_timeframe_is_refused_as_azure_refuses_it(cost):
    """TheLastMonth: 400 BadRequest "Invalid query definition, timeframe TheLastMonth is currently not supported."
    in every api-version (Azure/azure-rest-api-specs#27650, mivano/azure-cost-cli#119 and #281); TheLastBillingMonth
    works."""
    with pytest.raises(HttpResponseError) as exc:
        cost.query.usage(SCOPE, _query("TheLastMonth"))
    assert _error(exc)[:2] == (400, "BadRequest")
    assert "timeframe TheLastMonth is currently not supported" in _error(exc)[2]


@pytest.mark.parametrize(
    "period,what",
    [
        (None, "timePeriod is required"),
        ({"from": "2026-03-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}, "'from' must be on or before 'to'"),
        ({"from": "2025-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "cannot exceed 1 year"),
    ],
)
def test_custom_periods_azure_cannot_query_are_refused(cost, period, what):
    """QueryDefinition.timePeriod ("If custom, then a specific time period must be provided"); at most one year
    (microsoft/AzureTRE#2057: "the underlying service limits for one year"). Messages inferred."""
    body = _query("Custom") | ({"timePeriod": period} if period else {})
    with pytest.raises(HttpResponseError) as exc:
        cost.query.usage(SCOPE, body)
    assert _error(exc)[:2] == (400, "BadRequest") and what in _error(exc)[2]


def test_more_than_two_groupings_are_refused(cost):
    """QueryDataset.grouping: "Query can have up to 2 group by clauses" (costmanagement.json); message inferred."""
    grouping = [{"type": "Dimension", "name": n} for n in ("ResourceGroupName", "ServiceName", "ResourceLocation")]
    with pytest.raises(HttpResponseError) as exc:
        cost.query.usage(SCOPE, _query(grouping=grouping))
    assert _error(exc)[:2] == (400, "BadRequest") and "up to 2 group by clauses" in _error(exc)[2]


def test_a_subscription_whose_offer_cost_management_does_not_serve_is_refused(cost, sandbox):
    """An offer without Cost Management (legacy CSP, MS-AZR-0145P; fixture `cost_management: false`, `offer`):
    400 BadRequest "Cost management data is unavailable for subscription {id}. The offer {offer} is not supported."
    (JulianHayward/Azure-MG-Sub-Governance-Reporting#38, #49). The other subscriptions still answer."""
    sub = sandbox.state.get(f"/subscriptions/{DEMO_SUBS[2]}")
    sub.update({"_cost_management": False, "_offer_id": "MS-AZR-0145P"})
    with pytest.raises(HttpResponseError) as exc:
        cost.query.usage(f"subscriptions/{DEMO_SUBS[2]}", _query())
    status, code, message = _error(exc)
    assert (status, code) == (400, "BadRequest")
    assert message.startswith(
        f"Cost management data is unavailable for subscription {DEMO_SUBS[2]}. The offer MS-AZR-0145P is not supported."
    )
    with pytest.raises(HttpResponseError):
        cost.forecast.usage(f"subscriptions/{DEMO_SUBS[2]}", _query("MonthToDate"))
    assert cost.query.usage(SCOPE, _query()).rows


def test_the_fixture_names_the_offer(tmp_path):
    """Fixture keys `cost_management: false` and `offer` on a subscription (docs/sandbox.md, Fixtures)."""
    import yaml

    from azure_sandbox.fixtures import build
    from tests.conftest import DEMO_FIXTURE

    data = yaml.safe_load(DEMO_FIXTURE.read_text())
    data["subscriptions"][1].update({"cost_management": False, "offer": "MS-AZR-0145P"})
    state = build(data).state
    sub = state.get(f"/subscriptions/{DEMO_SUBS[1]}")
    assert sub["_cost_management"] is False and sub["_offer_id"] == "MS-AZR-0145P"


def test_qpu_quota_exhaustion_answers_429_with_cost_management_headers(cost, sandbox):
    """Query QPU quotas (learn: cost-management-billing/costs/manage-automation, 12 QPU per 10 seconds per tenant,
    one QPU per month of data): 429 {"code": "429", "message": "Too many requests. Please retry."}
    (cloudquery/cloudquery#9860, cloud-custodian/cloud-custodian#9346) with
    x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after / -entity- / -tenant-retry-after (Azure/azqr#745)."""
    sandbox.set_faults(cost_management_qpu=True)
    _, last = _last_month()
    year_ago = (last - timedelta(days=330)).replace(day=1)
    body = _query("Custom", timePeriod={"from": f"{year_ago}T00:00:00Z", "to": f"{last}T00:00:00Z"})
    ok = cost.query.usage(SCOPE, body)
    assert ok.rows
    with pytest.raises(HttpResponseError) as exc:
        cost.query.usage(SCOPE, body)
    assert _error(exc) == (429, "429", "Too many requests. Please retry.")
    headers = exc.value.response.headers
    assert int(headers["x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after"]) >= 1
    assert "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after" in headers
    assert "QueryQPUPerTenantPer10Sec" in headers["x-ms-ratelimit-microsoft.costmanagement-qpu-remaining"]


def test_every_answer_reports_the_qpu_it_consumed(raw):
    """manage-automation: x-ms-ratelimit-microsoft.costmanagement-qpu-consumed and -qpu-remaining on every answer."""
    ok = raw("POST", QUERY_PATH, _query())
    assert ok.status_code == 200
    assert ok.headers["x-ms-ratelimit-microsoft.costmanagement-qpu-consumed"] == "1"
    assert "QueryQPUPerTenantPer1Hour" in ok.headers["x-ms-ratelimit-microsoft.costmanagement-qpu-remaining"]


def test_a_forecast_of_the_past_is_refused(cost):
    """Forecast_Usage of a period wholly past: 400 CantForecastOnThePast (mivano/azure-cost-cli#28)."""
    body = _query("TheLastBillingMonth")
    with pytest.raises(HttpResponseError) as exc:
        cost.forecast.usage(SCOPE, body)
    assert _error(exc)[:2] == (400, "CantForecastOnThePast")


def test_versions_outside_the_spec_folders_are_refused(raw):
    """costmanagement.json stable folders 2018-05-31 .. 2025-03-01 (api_versions.yml); Forecast_Usage since
    2019-11-01. Another version: 400 NoRegisteredProviderFound as ARM words it."""
    assert raw("POST", QUERY_PATH.replace("2023-03-01", "2018-05-31"), _query()).status_code == 200
    refused(raw("POST", QUERY_PATH.replace("2023-03-01", "2017-01-01"), _query()), 400, "NoRegisteredProviderFound")
    forecast = QUERY_PATH.replace("/query?", "/forecast?").replace("2023-03-01", "2019-10-01")
    refused(raw("POST", forecast, _query("MonthToDate")), 400, "NoRegisteredProviderFound")
