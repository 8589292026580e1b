"""The monthly PARC report of one customer (issue 26): what its tenant looked like in one month, read through the
runbook's SDK clients, as one pandas table per section, and a matplotlib plot of each.

Seven sections, each read on its own (one refused read is that section's one-line note, never a traceback, and never
sinks the others; within a section one subscription's refusal is that subscription's row):

* cost: per subscription the month's cost (Cost Management query, ActualCost, Monthly) against the agreed budget
  (`budget` in the parameters), the two months before, and the forecast of the current month to its end (Cost
  Management forecast); a subscription whose offer Cost Management does not serve shows Azure's answer in its row;
* advisor: Azure Advisor's recommendations by category and impact, new and resolved against the previous report;
* defender: Defender for Cloud's plans at Standard per subscription and the secure score (Azure keeps no score history:
  the trend is the previous report's score);
* policy: the compliance of the MSP's baseline assignment per subscription (Policy Insights summarize), compliant /
  non-compliant / exempt resources, against the previous report;
* backup: per Recovery Services vault its protected items, the last job of each, the jobs and failed jobs in the month;
* patching: per virtual machine the updates missing by classification (an assessment made now: `assessPatches`);
* changes: what the MSP changed in the month (the applied changes of the customer's evidence runs of that month), and
  the drift runs of the month with their findings and accepted deviations ("no drift runs this month" otherwise).

The report notebook (`notebooks/monthly-report.ipynb`) calls `open_report` and one `section` per section; `runbook
report <customer> --month YYYY-MM` runs it with papermill into a new evidence run, where `save` leaves report.json
(the tables, for next month's trend) beside the executed notebook and its HTML.
"""

from __future__ import annotations

import calendar
import io
import json
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..authoring.notebooks import REPORT_SECTIONS
from ..customer.params import Parameters, load
from ..errors import InputError
from ..evidence import EvidenceStore
from ..evidence.archive import RESULTS
from ..steps.base import error_text
from ..steps.policy import PolicyBaseline

if TYPE_CHECKING:
    import pandas as pd

    from ..adapters.clients import Clients

RECORD = "report.json"  # the report's tables in its run folder: next month's report reads its trend from them
SECTIONS: dict[str, str] = {key: title for key, (title, _) in REPORT_SECTIONS.items()}
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
VAULT_TYPE = "Microsoft.RecoveryServices/vaults"
VM_TYPE = "Microsoft.Compute/virtualMachines"
JOB_TIME = "%Y-%m-%d %I:%M:%S %p"  # the jobs API's $filter time form (ListJobsWithStartTimeAndEndTimeFilters.json)


# --- the month --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Month:
    """A calendar month: its first and last day."""

    first: date

    @property
    def last(self) -> date:
        return self.first.replace(day=calendar.monthrange(self.first.year, self.first.month)[1])

    @property
    def label(self) -> str:
        return f"{self.first:%Y-%m}"

    def before(self, n: int = 1) -> Month:
        """The month n months earlier."""
        y, m = divmod(self.first.year * 12 + self.first.month - 1 - n, 12)
        return Month(date(y, m + 1, 1))

    def holds(self, day: date) -> bool:
        return self.first <= day <= self.last


def today() -> date:
    return datetime.now(timezone.utc).date()


def month_of(text: str, now: date | None = None) -> Month:
    """The month `YYYY-MM` names ('' = last month); InputError (exit 2) with the fix for anything else, and for a
    month that has not begun."""
    now = now or today()
    current = Month(now.replace(day=1))
    if not str(text or "").strip():
        return current.before()
    m = _MONTH.match(str(text).strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise InputError(
            f"--month {text}: not a month. Fix: give it as YYYY-MM, e.g. --month {current.before().label} (last month)."
        )
    month = Month(date(int(m.group(1)), int(m.group(2)), 1))
    if month.first > current.first:
        raise InputError(
            f"--month {text}: that month has not begun, so there is nothing to report. Fix: --month {current.before().label} (last month) or an earlier one."
        )
    return month


# --- sections -----------------------------------------------------------------------------------------------------
@dataclass
class Section:
    """One section of the report: its table, the notes to read with it (a refused read, a caveat), and its plot."""

    key: str
    title: str
    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    plot: Callable[[Any, pd.DataFrame], None] | None = field(default=None, repr=False)
    ylabel: str = ""

    def figure(self) -> Any:
        """The section's matplotlib figure (an empty section says so on its axes, which are labelled all the same)."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(8, 3.6), layout="constrained")
        ax = fig.add_subplot()
        ax.set_title(self.title)
        if self.plot is not None and not self.table.empty:
            self.plot(ax, self.table)
        else:
            ax.text(0.5, 0.5, "nothing to plot this month", ha="center", va="center", transform=ax.transAxes)
            ax.set_xlabel(self.xlabel_empty)
            ax.set_ylabel(self.ylabel or "count")
        return fig

    @property
    def xlabel_empty(self) -> str:
        return "subscription" if self.key in ("cost", "defender", "policy") else self.key

    def png(self) -> bytes:
        buf = io.BytesIO()
        self.figure().savefig(buf, format="png", dpi=90)
        return buf.getvalue()

    def show(self) -> None:
        """In the notebook: the notes, the table and the plot (as a PNG, readable in the archived HTML)."""
        from IPython.display import HTML, Image, Markdown, display

        if self.notes:
            display(Markdown("\n".join(f"* {n}" for n in self.notes)))
        display(HTML(self.table.to_html(index=False, na_rep="")))  # an empty table shows its columns
        display(Image(data=self.png(), format="png"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "notes": self.notes,
            "rows": json.loads(self.table.to_json(orient="records", date_format="iso")),
        }


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


def _bars(ax: Any, labels: list[str], series: dict[str, list[float]], xlabel: str, ylabel: str) -> None:
    """Grouped bars: one group per label, one bar per series."""
    n = max(len(series), 1)
    width = 0.8 / n
    for i, (name, values) in enumerate(series.items()):
        ax.bar([x + i * width for x in range(len(labels))], [v or 0 for v in values], width, label=name)
    ax.set_xticks([x + width * (n - 1) / 2 for x in range(len(labels))], labels, rotation=15, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if len(series) > 1:
        ax.legend(fontsize=8)


def _stacked(ax: Any, labels: list[str], series: dict[str, list[float]], xlabel: str, ylabel: str) -> None:
    """Horizontal stacked bars: one bar per label, one segment per series."""
    left = [0.0] * len(labels)
    for name, values in series.items():
        ax.barh(labels, values, left=left, label=name)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="y", labelsize=8)
    ax.legend(fontsize=8)


def cost_plot(labels: list[str], short: Callable[[Any], list[str]]) -> Callable[[Any, pd.DataFrame], None]:
    """The cost section's plot: a bar per month per subscription, the agreed budget a dashed line over its group,
    in the legend as "budget"."""

    def plot(ax: Any, t: pd.DataFrame) -> None:
        series: dict[str, list[float]] = {m: [float(v or 0) for v in t[m].fillna(0)] for m in labels}
        _bars(
            ax,
            short(t["subscription"]),
            series,
            "subscription",
            f"cost ({next((c for c in t['currency'] if c), 'EUR')})",
        )
        drawn = False
        for i, b in enumerate(t["budget"]):
            if b == b and b is not None:  # not NaN
                ax.hlines(b, i - 0.1, i + 0.8, colors="red", linestyles="dashed", label=None if drawn else "budget")
                drawn = True
        if drawn:  # the legend again, now with the budget line (the bars' legend was drawn before it)
            ax.legend(fontsize=8)

    return plot


# --- the report ----------------------------------------------------------------------------------------------------
@dataclass
class MonthlyReport:
    """The report of one customer for one month: its parameters, its clients, the previous report's record."""

    params: Parameters
    clients: Clients
    month: Month
    run_id: str = ""
    now: date = field(default_factory=today)
    sections: dict[str, Section] = field(default_factory=dict)
    advisor_items: list[dict[str, Any]] = field(default_factory=list)

    names: dict[str, str] = field(default_factory=dict)

    def name_of(self, sub: str) -> str:
        """The subscription's display name (its id's last block when Azure does not give it), for the plots."""
        if sub not in self.names:
            try:
                self.names[sub] = str(self.clients.subscriptions().subscriptions.get(sub).display_name or "")
            except Exception:
                self.names[sub] = ""
            self.names[sub] = self.names[sub] or sub.rsplit("-", 1)[-1]
        return self.names[sub]

    def _short(self, subs: Any) -> list[str]:
        return [self.name_of(str(s)) for s in subs]

    @property
    def store(self) -> EvidenceStore:
        return EvidenceStore(self.params.customer)

    def previous(self) -> dict[str, Any]:
        """The newest earlier month's report record (report.json of a sealed report run), or {}."""
        for rep in reversed(self.store.reports()):
            if rep.month and rep.month < self.month.label and rep.sealed and (rep.path / RECORD).exists():
                data: dict[str, Any] = json.loads((rep.path / RECORD).read_text())
                return data
        return {}

    def _previous_rows(self, key: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = (self.previous().get("sections", {}).get(key) or {}).get("rows") or []
        return rows

    def section(self, key: str) -> Section:
        """One section, read now; a read that fails makes the section a one-line note (never a traceback)."""
        title = SECTIONS[key]
        try:
            made: Section = getattr(self, f"_{key}")()
        except Exception as exc:
            made = Section(key, title, _frame([], []), [f"{title}: not read: {error_text(exc)}"])
        self.sections[key] = made
        return made

    def all(self) -> list[Section]:
        return [self.section(k) for k in SECTIONS]

    # --- cost
    def budget_of(self, sub: str) -> float | None:
        b = self.params.budget
        return None if b is None else float(b.amounts.get(sub, b.amount))

    def _cost(self) -> Section:
        cm = self.clients.cost_management()
        current = Month(self.now.replace(day=1))
        months = [self.month.before(2), self.month.before(1), self.month]
        aggregation = {"totalCost": {"name": "Cost", "function": "Sum"}}
        rows: list[dict[str, Any]] = []
        notes: list[str] = []
        for sub in self.params.subscription_ids:
            row: dict[str, Any] = {"subscription": sub}
            try:
                body = {
                    "type": "ActualCost",
                    "timeframe": "Custom",
                    "timePeriod": {"from": f"{months[0].first}T00:00:00Z", "to": f"{self.month.last}T00:00:00Z"},
                    "dataset": {"granularity": "Monthly", "aggregation": aggregation},
                }
                result = cm.query.usage(f"subscriptions/{sub}", body)
                cols = [c.name for c in result.columns]
                by_month = {str(r[cols.index("BillingMonth")])[:7]: float(r[cols.index("Cost")]) for r in result.rows}
                currency = next((str(r[cols.index("Currency")]) for r in result.rows), "")
                row |= {m.label: round(by_month.get(m.label, 0.0), 2) for m in months}
                row["currency"] = currency
                if current.first > self.now - timedelta(days=1) or current.last < self.now:
                    row["forecast"] = None
                else:
                    fbody = {
                        "type": "ActualCost",
                        "timeframe": "Custom",
                        "timePeriod": {"from": f"{current.first}T00:00:00Z", "to": f"{current.last}T00:00:00Z"},
                        "dataset": {"granularity": "Daily", "aggregation": aggregation},
                        "includeActualCost": True,
                        "includeFreshPartialCost": False,
                    }
                    fc = cm.forecast.usage(f"subscriptions/{sub}", fbody)
                    fcols = [c.name for c in fc.columns]
                    row["forecast"] = round(sum(float(r[fcols.index("Cost")]) for r in fc.rows), 2)
                row["note"] = ""
            except Exception as exc:  # this subscription's answer (an offer without Cost Management): its row says so
                row |= {m.label: None for m in months} | {"currency": "", "forecast": None, "note": error_text(exc)}
            budget = self.budget_of(sub)
            row["budget"] = budget
            month_cost = row.get(self.month.label)
            row["% of budget"] = round(100 * month_cost / budget, 1) if budget and month_cost is not None else None
            rows.append(row)
        if self.params.budget is None:
            notes.append("No budget is agreed in the parameters (`budget`): the budget column is empty.")
        notes.append(
            f"Forecast: the current month ({current.label}) to its end, as Cost Management forecasts it"
            + (" (today is its first day: no forecast yet)." if self.now == current.first else ".")
        )
        refused = [r["subscription"] for r in rows if r["note"]]
        if refused:
            notes.append(f"Cost Management did not answer for {', '.join(refused)}: see the row's note.")
        columns = ["subscription", *[m.label for m in months], "budget", "% of budget", "forecast", "currency", "note"]
        labels = [m.label for m in months]

        return Section("cost", SECTIONS["cost"], _frame(rows, columns), notes, cost_plot(labels, self._short))

    # --- advisor
    def _advisor(self) -> Section:
        rows: list[dict[str, Any]] = []
        notes: list[str] = []
        seen: set[str] = set()
        for sub in self.params.subscription_ids:
            try:
                for rec in self.clients.advisor(sub).recommendations.list():
                    desc = getattr(rec, "short_description", None)
                    rows.append(
                        {
                            "subscription": sub,
                            "category": str(rec.category or ""),
                            "impact": str(rec.impact or ""),
                            "recommendation": str(getattr(desc, "problem", "") or rec.name),
                            "resource": str(getattr(rec, "impacted_value", "") or ""),
                            "id": str(rec.id or "").lower(),
                        }
                    )
                    seen.add(str(rec.id or "").lower())
            except Exception as exc:
                notes.append(f"Advisor did not answer for {sub}: {error_text(exc)}")
        before = {str(r.get("id") or "") for r in self._previous_rows("advisor_items")}
        grouped: dict[tuple[str, str], dict[str, Any]] = {}
        for r in rows:
            g = grouped.setdefault(
                (r["category"], r["impact"]),
                {"category": r["category"], "impact": r["impact"], "open": 0, "new since last report": 0},
            )
            g["open"] += 1
            g["new since last report"] += int(bool(before) and r["id"] not in before)
        resolved = len(before - seen) if before else 0
        notes.append(
            f"{len(rows)} open recommendation(s); resolved since the previous report: {resolved}."
            if before
            else f"{len(rows)} open recommendation(s); no previous report to compare with (new / resolved from next month)."
        )
        table = _frame(
            sorted(grouped.values(), key=lambda g: (g["category"], g["impact"])),
            ["category", "impact", "open", "new since last report"],
        )
        self.advisor_items = rows

        def plot(ax: Any, t: pd.DataFrame) -> None:
            cats = sorted(set(t["category"]))
            impacts = [i for i in ("High", "Medium", "Low") if i in set(t["impact"])] or sorted(set(t["impact"]))
            series = {
                i: [float(t[(t["category"] == c) & (t["impact"] == i)]["open"].sum()) for c in cats] for i in impacts
            }
            _bars(ax, cats, series, "category", "open recommendations")

        return Section("advisor", SECTIONS["advisor"], table, notes, plot)

    # --- defender
    def _defender(self) -> Section:
        rows: list[dict[str, Any]] = []
        notes: list[str] = []
        before = {str(r.get("subscription")): r.get("score %") for r in self._previous_rows("defender")}
        for sub in self.params.subscription_ids:
            row: dict[str, Any] = {"subscription": sub}
            sec = self.clients.security(sub)
            try:
                plans = list(sec.pricings.list(f"subscriptions/{sub}").value or [])
                on = sorted(
                    str(p.name) + (f" {p.sub_plan}" if getattr(p, "sub_plan", None) else "")
                    for p in plans
                    if str(p.pricing_tier) == "Standard"
                )
                row |= {"plans at Standard": ", ".join(on) or "none", "plans": f"{len(on)} of {len(plans)}"}
            except Exception as exc:
                row |= {"plans at Standard": "", "plans": ""}
                notes.append(f"Defender plans of {sub} not read: {error_text(exc)}")
            try:
                score = sec.secure_scores.get("ascScore")
                row |= {
                    "secure score": f"{score.current:g} of {score.max:g}",
                    "score %": round(100 * float(score.percentage or 0), 1),
                }
            except Exception as exc:
                row |= {"secure score": "", "score %": None}
                notes.append(f"Secure score of {sub} not read: {error_text(exc)}")
            row["previous score %"] = before.get(sub)
            rows.append(row)
        notes.append(
            "Azure keeps no history of the secure score; the trend is the previous report's score."
            if before
            else "Azure keeps no history of the secure score; the trend starts with this report."
        )

        def plot(ax: Any, t: pd.DataFrame) -> None:
            subs = self._short(t["subscription"])
            series = {"this report": [float(v or 0) for v in t["score %"].fillna(0)]}
            if t["previous score %"].notna().any():
                series = {"previous report": [float(v or 0) for v in t["previous score %"].fillna(0)], **series}
            _bars(ax, subs, series, "subscription", "secure score (%)")
            ax.set_ylim(0, 100)

        cols = ["subscription", "plans at Standard", "plans", "secure score", "score %", "previous score %"]
        return Section("defender", SECTIONS["defender"], _frame(rows, cols), notes, plot)

    # --- policy
    def _policy(self) -> Section:
        from azure.core.rest import HttpRequest

        from ..steps.policy import API_STATES

        baseline = PolicyBaseline()
        rows: list[dict[str, Any]] = []
        notes: list[str] = []
        before = {str(r.get("subscription")): r.get("non-compliant") for r in self._previous_rows("policy")}
        for sub in self.params.subscription_ids:
            mine = baseline.assignment_id(sub)
            row: dict[str, Any] = {"subscription": sub, "assignment": mine.rsplit("/", 1)[-1]}
            try:
                url = f"/subscriptions/{sub}/providers/Microsoft.PolicyInsights/policyStates/latest/summarize?api-version={API_STATES}"
                resp = self.clients.resource(sub).send_request(HttpRequest("POST", url))
                resp.raise_for_status()
                body = resp.json() if resp.content else {}
                entry = next(
                    (
                        e
                        for e in (body.get("value") or [{}])[0].get("policyAssignments") or []
                        if str(e.get("policyAssignmentId", "")).lower() == mine.lower()
                    ),
                    None,
                )
                if entry is None:
                    row |= {
                        "compliant": None,
                        "non-compliant": None,
                        "exempt": None,
                        "note": "not assigned or not evaluated yet",
                    }
                else:
                    counts = {
                        str(r["complianceState"]).lower(): int(r["count"])
                        for r in (entry.get("results") or {}).get("resourceDetails") or []
                    }
                    row |= {
                        "compliant": counts.get("compliant", 0),
                        "non-compliant": counts.get("noncompliant", 0),
                        "exempt": counts.get("exempt", 0),
                        "note": "",
                    }
            except Exception as exc:
                row |= {"compliant": None, "non-compliant": None, "exempt": None, "note": error_text(exc)}
            row["previous non-compliant"] = before.get(sub)
            rows.append(row)
        notes.append(
            "Resources per compliance state of the MSP's baseline assignment, as Policy Insights summarizes the latest evaluation"
            + (
                "; the previous report's non-compliant count beside it."
                if before
                else "; the trend starts with this report."
            )
        )

        def plot(ax: Any, t: pd.DataFrame) -> None:
            subs = self._short(t["subscription"])
            series = {k: [float(v or 0) for v in t[k].fillna(0)] for k in ("compliant", "non-compliant", "exempt")}
            _bars(ax, subs, series, "subscription", "resources")

        cols = ["subscription", "assignment", "compliant", "non-compliant", "exempt", "previous non-compliant", "note"]
        return Section("policy", SECTIONS["policy"], _frame(rows, cols), notes, plot)

    # --- backup
    def _resources_of(self, sub: str, rtype: str) -> list[Any]:
        return list(self.clients.resource(sub).resources.list(filter=f"resourceType eq '{rtype}'"))

    def _backup(self) -> Section:
        rows: list[dict[str, Any]] = []
        notes: list[str] = []
        start = datetime(self.month.first.year, self.month.first.month, self.month.first.day)
        end = datetime(self.month.last.year, self.month.last.month, self.month.last.day, 23, 59, 59)
        window = f"startTime eq '{start.strftime(JOB_TIME)}' and endTime eq '{end.strftime(JOB_TIME)}'"
        vaults = 0
        for sub in self.params.subscription_ids:
            try:
                found = self._resources_of(sub, VAULT_TYPE)
            except Exception as exc:
                notes.append(f"Recovery Services vaults of {sub} not listed: {error_text(exc)}")
                continue
            client = self.clients.backup(sub)
            for vault in found:
                vaults += 1
                rg = str(vault.id).split("/")[4]
                try:
                    items = list(client.backup_protected_items.list(vault.name, rg))
                    jobs = list(client.backup_jobs.list(vault.name, rg, filter=window))
                except Exception as exc:
                    notes.append(f"Vault {vault.name} of {sub} not read: {error_text(exc)}")
                    continue
                for item in items:
                    p = item.properties
                    source = str(getattr(p, "source_resource_id", "") or "")
                    name = str(getattr(p, "friendly_name", "") or source.rsplit("/", 1)[-1] or item.name.split(";")[-1])
                    mine = [j for j in jobs if str(j.properties.entity_friendly_name).lower() == name.lower()]
                    backups = [j for j in mine if j.properties.operation == "Backup"]
                    last = max(backups, key=lambda j: j.properties.start_time, default=None)
                    rows.append(
                        {
                            "vault": str(vault.name),
                            "item": name,
                            "subscription": sub,
                            "jobs in month": len(backups),
                            "failed in month": sum(1 for j in backups if j.properties.status == "Failed"),
                            "last job": f"{last.properties.start_time:%Y-%m-%d %H:%M}" if last else "",
                            "last job status": str(last.properties.status) if last else "no job in the month",
                        }
                    )
        if not vaults:
            notes.append("No Recovery Services vault in the customer's subscriptions.")
        failed = sum(r["failed in month"] for r in rows)
        notes.append(f"{len(rows)} protected item(s); {failed} failed backup job(s) in {self.month.label}.")

        def plot(ax: Any, t: pd.DataFrame) -> None:
            ok = [float(a - b) for a, b in zip(t["jobs in month"], t["failed in month"], strict=True)]
            _stacked(
                ax,
                list(t["item"]),
                {"succeeded": ok, "failed": [float(v) for v in t["failed in month"]]},
                f"backup jobs in {self.month.label}",
                "protected item",
            )

        cols = ["vault", "item", "subscription", "jobs in month", "failed in month", "last job", "last job status"]
        return Section("backup", SECTIONS["backup"], _frame(rows, cols), notes, plot)

    # --- patching
    def _patching(self) -> Section:
        rows: list[dict[str, Any]] = []
        notes: list[str] = []
        vms: list[tuple[str, Any]] = []
        for sub in self.params.subscription_ids:
            try:
                vms += [(sub, vm) for vm in self._resources_of(sub, VM_TYPE)]
            except Exception as exc:
                notes.append(f"Virtual machines of {sub} not listed: {error_text(exc)}")

        def assess(pair: tuple[str, Any]) -> dict[str, Any]:
            sub, vm = pair
            rg = str(vm.id).split("/")[4]
            row: dict[str, Any] = {"machine": str(vm.name), "subscription": sub}
            try:
                result = self.clients.compute(sub).virtual_machines.begin_assess_patches(rg, vm.name).result()
            except Exception as exc:
                return row | {"note": error_text(exc)}
            counts: dict[str, int] = {}
            for patch in result.available_patches or []:
                for c in patch.classifications or ["Unclassified"]:
                    counts[str(c)] = counts.get(str(c), 0) + 1
            started = result.start_date_time
            return row | {
                "critical and security": int(result.critical_and_security_patch_count or 0),
                "other": int(result.other_patch_count or 0),
                **counts,
                "reboot pending": bool(result.reboot_pending),
                "assessed": f"{started:%Y-%m-%d %H:%M}" if started else "",
                "note": "",
            }

        with ThreadPoolExecutor(max_workers=4) as pool:
            rows = list(pool.map(assess, vms))
        if not vms:
            notes.append("No virtual machine in the customer's subscriptions.")
        notes.append(
            "An assessment made now (assessPatches): the updates each machine misses today, by classification."
        )
        classes = sorted(
            {k for r in rows for k in r}
            - {"machine", "subscription", "critical and security", "other", "reboot pending", "assessed", "note"}
        )
        cols = [
            "machine",
            "subscription",
            "critical and security",
            "other",
            *classes,
            "reboot pending",
            "assessed",
            "note",
        ]
        table = _frame(rows, cols)
        for c in classes:
            table[c] = table[c].fillna(0).astype(int)

        def plot(ax: Any, t: pd.DataFrame) -> None:
            series = {c: [float(v) for v in t[c]] for c in classes}
            if series:
                _stacked(ax, list(t["machine"]), series, "missing updates", "machine")
            else:
                ax.text(0.5, 0.5, "no missing updates", ha="center", va="center", transform=ax.transAxes)
                ax.set_xlabel("missing updates")
                ax.set_ylabel("machine")

        return Section("patching", SECTIONS["patching"], table, notes, plot)

    # --- changes
    def _month_runs(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        for run_dir in self.store.runs():
            try:
                day = datetime.strptime(run_dir.name[:8], "%Y%m%d").date()
            except ValueError:
                continue
            if not self.month.holds(day) or not (run_dir / RESULTS).exists():
                continue
            yield run_dir, json.loads((run_dir / RESULTS).read_text())

    def _changes(self) -> Section:
        rows: list[dict[str, Any]] = []
        notes: list[str] = []
        drift_runs = []
        for run_dir, data in self._month_runs():
            if "-drift-" in run_dir.name or data.get("kind") == "drift":
                drift_runs.append((run_dir, data))
                continue
            for item in data.get("items") or []:
                for c in item.get("applied") or []:
                    rows.append(
                        {
                            "run": run_dir.name,
                            "stage": data.get("stage"),
                            "item": item.get("item_id"),
                            "action": c.get("action"),
                            "target": c.get("target"),
                            "when": str(item.get("finished_at") or "")[:16],
                        }
                    )
        notes.append(
            f"{len(rows)} change(s) applied by the runbook in {self.month.label} (from the customer's evidence runs)."
        )
        if not drift_runs:
            notes.append("Drift: no drift runs this month.")
        for run_dir, data in drift_runs:
            found = data.get("findings") or [
                i for i in data.get("items") or [] if i.get("status") in ("drifted", "open")
            ]
            accepted = data.get("accepted") or []
            notes.append(
                f"Drift run {run_dir.name}: {len(found)} drift finding(s), {len(accepted)} accepted deviation(s)"
                + "".join(
                    f"; accepted {a.get('finding', '')}: {a.get('reason', '')} (until {a.get('until') or 'no expiry'})"
                    for a in accepted
                )
            )

        def plot(ax: Any, t: pd.DataFrame) -> None:
            counts = t.groupby("item").size().sort_values()
            ax.barh(list(counts.index), [float(v) for v in counts.values])
            ax.set_xlabel("changes applied")
            ax.set_ylabel("checklist item")
            ax.tick_params(axis="y", labelsize=8)

        cols = ["run", "stage", "item", "action", "target", "when"]
        return Section("changes", SECTIONS["changes"], _frame(rows, cols), notes, plot, ylabel="changes applied")

    # --- the record
    def record(self) -> dict[str, Any]:
        sections = {k: s.to_dict() for k, s in self.sections.items()}
        if "advisor" in self.sections:
            sections["advisor_items"] = {"rows": [{"id": r["id"]} for r in self.advisor_items]}
        return {
            "customer": self.params.customer,
            "month": self.month.label,
            "made_on": f"{self.now}",
            "sections": sections,
        }

    def save(self) -> Path | None:
        """report.json into this run's evidence folder (None outside a run: stepping through by hand)."""
        if not self.run_id:
            return None
        folder = self.store.folder / self.run_id
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / RECORD
        path.write_text(json.dumps(self.record(), indent=2, default=str))
        return path

    def intro(self) -> None:
        """In the notebook: whose report, which month, which subscriptions, made when."""
        from IPython.display import Markdown, display

        p = self.params
        display(
            Markdown(
                f"**{p.tenant_name}** ({p.customer}, {p.tier}) · month **{self.month.label}** "
                f"({self.month.first} to {self.month.last}) · subscriptions: {', '.join(p.subscription_ids)} · "
                f"made on {self.now} · run {self.run_id or '(by hand: not archived)'}"
            )
        )

    def finish(self) -> None:
        """In the notebook: the record saved into the run's evidence, and one line per section."""
        from IPython.display import HTML, display

        path = self.save()
        display(HTML(self.summary().to_html(index=False)))
        print(f"report record: {path.name if path else '(by hand: not saved)'}")

    def summary(self) -> pd.DataFrame:
        """One line per section: rows, and its first note."""
        return _frame(
            [
                {"section": s.title, "rows": len(s.table), "note": s.notes[0] if s.notes else ""}
                for s in self.sections.values()
            ],
            ["section", "rows", "note"],
        )


def open_report(customer: str, month: str = "", run_id: str = "") -> MonthlyReport:
    """The report of `customer` (parameters/<customer>.yml) for `month` (YYYY-MM; '' = last month), with clients for
    its tenant (the sandbox or Azure, as its parameters say)."""
    from ..customer.connect import make_clients

    params = load(customer)
    m = month_of(month)
    return MonthlyReport(params, make_clients(params), m, run_id)
