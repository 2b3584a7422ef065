"""Monthly: the account's bill, from Cost Explorer — last full month against the month before, and this month's
forecast against the budget.

Three requests a run (Cost Explorer charges $0.01 per request): GetCostAndUsage for the two full months
grouped by SERVICE (its pages followed, which only very large accounts have), GetCostAndUsage for this
month to date, and GetCostForecast for the rest of this month. Amounts are UnblendedCost in USD.

- USG301  last month's total rose more than ``cost_rise_percent`` over the month before (the services that
          rose most are named);
- USG302  this month's forecast (to date + forecast) is above ``monthly_budget_usd`` (when one is set);
- USG303  Cost Explorer returned no costs for the two full months: nothing was judged.

What it ignores on purpose: credits and refunds (UnblendedCost before them), and months before the last two.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from opschecks.findings import Finding

COLUMNS = ("service", "month before", "last month", "change")
METRIC = "UnblendedCost"


@dataclass
class Bill:
    before: dict[str, float]  # service -> USD, the month before last
    last: dict[str, float]  # service -> USD, the last full month
    months: tuple[str, str]  # their names, "2026-09", "2026-10"
    to_date: float
    forecast: float | None  # the rest of this month; None on its last day
    requests: int


@dataclass
class Verdict:
    rows: list[tuple] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def read(ce: Any, today: dt.date) -> Bill:
    this_month = today.replace(day=1)
    last = (this_month - dt.timedelta(days=1)).replace(day=1)
    before = (last - dt.timedelta(days=1)).replace(day=1)
    by_month: dict[str, dict[str, float]] = defaultdict(dict)
    requests, token = 0, None
    while True:
        page = ce.get_cost_and_usage(TimePeriod={"Start": before.isoformat(), "End": this_month.isoformat()},
                                     Granularity="MONTHLY", Metrics=[METRIC],
                                     GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"}],
                                     **({"NextPageToken": token} if token else {}))
        requests += 1
        for result in page["ResultsByTime"]:
            month = result["TimePeriod"]["Start"][:7]
            for group in result.get("Groups", []):
                by_month[month][group["Keys"][0]] = float(group["Metrics"][METRIC]["Amount"])
        token = page.get("NextPageToken")
        if not token:
            break
    to_date = 0.0
    if today > this_month:
        page = ce.get_cost_and_usage(TimePeriod={"Start": this_month.isoformat(), "End": today.isoformat()},
                                     Granularity="MONTHLY", Metrics=[METRIC])
        requests += 1
        to_date = sum(float(r["Total"][METRIC]["Amount"]) for r in page["ResultsByTime"])
    next_month = (this_month + dt.timedelta(days=32)).replace(day=1)
    forecast = None
    if (next_month - today).days > 1:  # a forecast needs at least a day ahead
        answer = ce.get_cost_forecast(TimePeriod={"Start": today.isoformat(), "End": next_month.isoformat()},
                                      Metric="UNBLENDED_COST", Granularity="MONTHLY")
        requests += 1
        forecast = float(answer["Total"]["Amount"])
    months = (before.strftime("%Y-%m"), last.strftime("%Y-%m"))
    return Bill(dict(by_month[months[0]]), dict(by_month[months[1]]), months, to_date, forecast, requests)


def judge(bill: Bill, rise_percent: float, budget: float | None, top: int, where: str) -> Verdict:
    verdict = Verdict()
    total_before, total_last = sum(bill.before.values()), sum(bill.last.values())
    services = sorted(set(bill.before) | set(bill.last), key=lambda s: -bill.last.get(s, 0.0))
    for service in services[:top]:
        verdict.rows.append((service, _usd(bill.before.get(service, 0.0)), _usd(bill.last.get(service, 0.0)),
                             _change(bill.before.get(service, 0.0), bill.last.get(service, 0.0))))
    rest = services[top:]
    if rest:
        verdict.rows.append((f"{len(rest)} other services", _usd(sum(bill.before.get(s, 0.0) for s in rest)),
                             _usd(sum(bill.last.get(s, 0.0) for s in rest)), ""))
    verdict.rows.append(("total", _usd(total_before), _usd(total_last), _change(total_before, total_last)))
    month_total = bill.to_date + (bill.forecast or 0.0)
    verdict.details.update(months=list(bill.months), before=round(total_before, 2), last=round(total_last, 2),
                           to_date=round(bill.to_date, 2), forecast_month=round(month_total, 2),
                           requests=bill.requests)
    if total_before == 0 and total_last == 0:
        verdict.findings.append(Finding("USG303", where, f"expected costs for {bill.months[0]} and {bill.months[1]}, "
                                        "Cost Explorer returned none"))
        return verdict
    if total_before > 0 and (total_last - total_before) / total_before * 100 > rise_percent:
        risers = sorted(services, key=lambda s: bill.before.get(s, 0.0) - bill.last.get(s, 0.0))[:3]
        named = ", ".join(f"{s} {_usd(bill.before.get(s, 0.0))} -> {_usd(bill.last.get(s, 0.0))}" for s in risers)
        verdict.findings.append(Finding("USG301", where, f"expected {bill.months[1]} within {rise_percent:g}% of "
                                        f"{bill.months[0]}, it rose {_change(total_before, total_last)} "
                                        f"({_usd(total_before)} -> {_usd(total_last)}; most: {named})"))
    if budget is not None and month_total > budget:
        verdict.findings.append(Finding("USG302", where, f"expected this month within the budget of {_usd(budget)}, "
                                        f"the forecast is {_usd(month_total)} ({_usd(bill.to_date)} to date)"))
    return verdict


def _usd(amount: float) -> str:
    return f"${amount:,.2f}"


def _change(before: float, after: float) -> str:
    if before == 0:
        return "new" if after else "-"
    return f"{(after - before) / before * 100:+.0f}%"
