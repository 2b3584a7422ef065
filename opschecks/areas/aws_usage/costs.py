"""Monthly: the account's bill, from Cost Explorer — last full month against the month before, and this month's
forecast against the budget.

Three requests a run (Cost Explorer charges $0.01 per request): GetCostAndUsage for the two full months
grouped by SERVICE (its pages followed, which only very large accounts have), GetCostAndUsage for this
month to date (today's spend so far included: Cost Explorer's End is exclusive, so the period ends tomorrow),
and GetCostForecast from tomorrow to the month's end (none on its last day: there is no day left to forecast).
Amounts are UnblendedCost in the bill's own currency (``Unit``).

- USG301  last month's total rose more than ``cost_rise_percent`` over the month before (the services that
          rose most are named);
- USG302  this month (to date + forecast) is above ``monthly_budget_usd`` (when one is set);
- USG303  last month has no costs although the month before had: Cost Explorer is not seeing this account's bill;
- USG304  the month before totals zero or less (net refunds or credits): no positive baseline, so the rise
          cannot be judged (a percentage against it would be meaningless, e.g. -2500%, and pass);
- USG305  the bill is not in USD, so it cannot be held against the USD budget.

What it ignores on purpose: months before the last two; a new account with no costs in either full month
(nothing to compare yet: a row says so, the budget is still judged); a forecast Cost Explorer cannot make yet
(``DataUnavailableException``, an account's first weeks): the budget is then judged on the spend to date, and
the row says so.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from opschecks.findings import Finding
from opschecks.verdict import Verdict

COLUMNS = ("service", "month before", "last month", "change")
METRIC = "UnblendedCost"


@dataclass
class Bill:
    before: dict[str, float]  # service -> USD, the month before last
    last: dict[str, float]  # service -> USD, the last full month
    months: tuple[str, str]  # their names, "2026-09", "2026-10"
    to_date: float
    forecast: float | None  # tomorrow to the month's end; None on its last day or when unavailable
    requests: int
    unit: str = "USD"  # the currency Cost Explorer answered in
    no_forecast: str = ""  # why there is no forecast, for the row


def read(ce: Any, today: dt.date) -> Bill:
    this_month = today.replace(day=1)
    last = (this_month - dt.timedelta(days=1)).replace(day=1)
    before = (last - dt.timedelta(days=1)).replace(day=1)
    tomorrow = today + dt.timedelta(days=1)
    by_month: dict[str, dict[str, float]] = defaultdict(dict)
    units: set[str] = set()
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
                by_month[month][group["Keys"][0]] = _amount(group["Metrics"][METRIC], units)
        token = page.get("NextPageToken")
        if not token:
            break
    # This month through today: End is exclusive, so tomorrow; on the last day this is the whole month.
    page = ce.get_cost_and_usage(TimePeriod={"Start": this_month.isoformat(), "End": tomorrow.isoformat()},
                                 Granularity="MONTHLY", Metrics=[METRIC])
    requests += 1
    to_date = sum(_amount(r["Total"][METRIC], units) for r in page["ResultsByTime"] if METRIC in r["Total"])
    next_month = (this_month + dt.timedelta(days=32)).replace(day=1)
    forecast, no_forecast = None, "no forecast: today is the month's last day"
    if tomorrow < next_month:
        try:
            answer = ce.get_cost_forecast(TimePeriod={"Start": tomorrow.isoformat(), "End": next_month.isoformat()},
                                          Metric="UNBLENDED_COST", Granularity="MONTHLY")
            forecast, no_forecast = _amount(answer["Total"], units), ""
        except ClientError as exc:  # documented: too little history to forecast (new accounts, a month's first days)
            if exc.response.get("Error", {}).get("Code") != "DataUnavailableException":
                raise
            no_forecast = "no forecast: Cost Explorer has too little data yet (DataUnavailableException)"
        requests += 1
    months = (before.strftime("%Y-%m"), last.strftime("%Y-%m"))
    unit = ", ".join(sorted(units)) or "USD"
    return Bill(dict(by_month[months[0]]), dict(by_month[months[1]]), months, to_date, forecast, requests,
                unit, no_forecast)


def _amount(metric: dict, units: set[str]) -> float:
    units.add(metric.get("Unit") or "USD")
    return float(metric["Amount"])


def judge(bill: Bill, rise_percent: float, budget: float | None, top: int, where: str) -> Verdict:
    verdict = Verdict()
    money = _money(bill.unit)
    total_before, total_last = sum(bill.before.values()), sum(bill.last.values())
    services = sorted(set(bill.before) | set(bill.last), key=lambda s: -bill.last.get(s, 0.0))
    for service in services[:top]:
        verdict.rows.append((service, money(bill.before.get(service, 0.0)), money(bill.last.get(service, 0.0)),
                             _change(bill.before.get(service, 0.0), bill.last.get(service, 0.0))))
    rest = services[top:]
    if rest:
        verdict.rows.append((f"{len(rest)} other services", money(sum(bill.before.get(s, 0.0) for s in rest)),
                             money(sum(bill.last.get(s, 0.0) for s in rest)), ""))
    verdict.rows.append(("total", money(total_before), money(total_last), _change(total_before, total_last)))
    month_total = bill.to_date + (bill.forecast or 0.0)
    if bill.no_forecast:
        verdict.rows.append((f"this month: {money(bill.to_date)} to date; {bill.no_forecast}", "", "", ""))
    verdict.details.update(months=list(bill.months), before=round(total_before, 2), last=round(total_last, 2),
                           to_date=round(bill.to_date, 2), forecast_month=round(month_total, 2),
                           requests=bill.requests, currency=bill.unit)
    if total_before == 0 and total_last == 0:
        verdict.rows.append((f"nothing to compare yet: no costs in {bill.months[0]} or {bill.months[1]}", "", "", ""))
    elif total_last == 0:
        verdict.findings.append(Finding("USG303", where, f"expected costs for {bill.months[1]}, Cost Explorer "
                                        f"returned none (the month before: {money(total_before)})"))
    elif total_before <= 0:
        verdict.findings.append(Finding("USG304", where, f"expected a positive {bill.months[0]} to compare "
                                        f"{bill.months[1]} with, found {money(total_before)} (net refunds or "
                                        f"credits): cannot judge the rise to {money(total_last)}"))
    elif (total_last - total_before) / total_before * 100 > rise_percent:
        risers = sorted(services, key=lambda s: bill.before.get(s, 0.0) - bill.last.get(s, 0.0))[:3]
        named = ", ".join(f"{s} {money(bill.before.get(s, 0.0))} -> {money(bill.last.get(s, 0.0))}" for s in risers)
        verdict.findings.append(Finding("USG301", where, f"expected {bill.months[1]} within {rise_percent:g}% of "
                                        f"{bill.months[0]}, it rose {_change(total_before, total_last)} "
                                        f"({money(total_before)} -> {money(total_last)}; most: {named})"))
    if budget is not None and bill.unit != "USD":
        verdict.findings.append(Finding("USG305", where, f"expected the bill in USD to hold against the budget of "
                                        f"{_usd(budget)}, Cost Explorer answered in {bill.unit}"))
    elif budget is not None and month_total > budget:
        outlook = (f"the forecast is {_usd(month_total)} ({_usd(bill.to_date)} to date)" if not bill.no_forecast
                   else f"{_usd(bill.to_date)} is spent to date ({bill.no_forecast})")
        verdict.findings.append(Finding("USG302", where, f"expected this month within the budget of {_usd(budget)}, "
                                        f"{outlook}"))
    return verdict


def _money(unit: str) -> Callable[[float], str]:
    return _usd if unit == "USD" else (lambda amount: f"{amount:,.2f} {unit}")


def _usd(amount: float) -> str:
    return f"${amount:,.2f}"


def _change(before: float, after: float) -> str:
    if before == 0:
        return "new" if after else "-"
    return f"{(after - before) / before * 100:+.0f}%"
