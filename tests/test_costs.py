"""The month's bill against a loopback Cost Explorer speaking the AWS JSON protocol to a real boto3 client."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import boto3
import pytest

from opschecks.areas.aws_usage import costs
from opschecks.sandbox.cost_explorer import FakeCostExplorer

TODAY = dt.date(2026, 11, 25)
EC2, S3 = "Amazon Elastic Compute Cloud - Compute", "Amazon Simple Storage Service"


@pytest.fixture
def explorer() -> Iterator[FakeCostExplorer]:
    fake = FakeCostExplorer({"2026-09": {EC2: 1000.0, S3: 100.0}, "2026-10": {EC2: 1040.0, S3: 104.0}}, 200.0)
    fake.start()
    yield fake
    fake.stop()


def ce(fake: FakeCostExplorer):  # noqa: ANN201 (a boto3 client)
    return boto3.client("ce", endpoint_url=fake.url, region_name="us-east-1", aws_access_key_id="k",
                        aws_secret_access_key="s")


def test_a_steady_bill_passes_in_three_requests(explorer: FakeCostExplorer) -> None:
    bill = costs.read(ce(explorer), TODAY)
    assert (bill.before, bill.last, bill.months) == ({EC2: 1000.0, S3: 100.0}, {EC2: 1040.0, S3: 104.0},
                                                     ("2026-09", "2026-10"))
    assert explorer.requests == ["GetCostAndUsage", "GetCostAndUsage", "GetCostForecast"] and bill.requests == 3
    verdict = costs.judge(bill, 20.0, None, 10, "dev account 123")
    assert verdict.findings == []
    assert verdict.rows == [(EC2, "$1,000.00", "$1,040.00", "+4%"), (S3, "$100.00", "$104.00", "+4%"),
                            ("total", "$1,100.00", "$1,144.00", "+4%")]


def test_a_rise_above_the_threshold_is_USG301_naming_the_riser(explorer: FakeCostExplorer) -> None:
    explorer.monthly["2026-10"] = {EC2: 1000.0, S3: 600.0}
    verdict = costs.judge(costs.read(ce(explorer), TODAY), 20.0, None, 10, "dev account 123")
    assert [f.code for f in verdict.findings] == ["USG301"]
    assert verdict.findings[0].message.startswith("expected 2026-10 within 20% of 2026-09, it rose +45% "
                                                  "($1,100.00 -> $1,600.00; most: Amazon Simple Storage Service "
                                                  "$100.00 -> $600.00")


def test_a_forecast_above_budget_is_USG302(explorer: FakeCostExplorer) -> None:
    bill = costs.read(ce(explorer), TODAY)
    verdict = costs.judge(bill, 20.0, bill.to_date + 100.0, 10, "dev account 123")
    assert [f.code for f in verdict.findings] == ["USG302"]
    assert "the forecast is $" in verdict.findings[0].message


def test_no_costs_last_month_after_a_billed_month_is_USG303(explorer: FakeCostExplorer) -> None:
    explorer.monthly["2026-10"] = {}
    verdict = costs.judge(costs.read(ce(explorer), TODAY), 20.0, None, 10, "dev account 123")
    assert [f.code for f in verdict.findings] == ["USG303"]


def test_no_forecast_request_on_the_last_day_and_top_services_fold(explorer: FakeCostExplorer) -> None:
    bill = costs.read(ce(explorer), dt.date(2026, 11, 30))
    assert bill.forecast is None and explorer.requests.count("GetCostForecast") == 0
    rows = costs.judge(bill, 20.0, None, 1, "dev").rows
    assert rows[1] == ("1 other services", "$100.00", "$104.00", "")


def test_the_last_day_counts_todays_spend_against_the_budget(explorer: FakeCostExplorer) -> None:
    explorer.monthly["2026-11"] = {EC2: 3000.0}  # 100 a day
    bill = costs.read(ce(explorer), dt.date(2026, 11, 30))
    assert bill.to_date == pytest.approx(3000.0) and bill.forecast is None  # 29 days would be 2,900
    verdict = costs.judge(bill, 20.0, 2950.0, 10, "dev account 123")
    assert [f.code for f in verdict.findings] == ["USG302"]
    assert "$3,000.00 is spent to date (no forecast: today is the month's last day)" in verdict.findings[0].message


def test_to_date_and_forecast_do_not_overlap_mid_month(explorer: FakeCostExplorer) -> None:
    explorer.monthly["2026-11"] = {EC2: 3000.0}
    bill = costs.read(ce(explorer), TODAY)  # the 25th: 25 days to date, the forecast from the 26th
    assert bill.to_date == pytest.approx(2500.0) and bill.forecast == 200.0


def test_a_refund_month_is_USG304_not_a_pass(explorer: FakeCostExplorer) -> None:
    explorer.monthly["2026-09"] = {EC2: 40.0, "Refund": -1000.0}  # a net refund: -960
    verdict = costs.judge(costs.read(ce(explorer), TODAY), 20.0, None, 10, "dev account 123")
    assert [f.code for f in verdict.findings] == ["USG304"]
    assert "found $-960.00 (net refunds or credits): cannot judge the rise to $1,144.00" in verdict.findings[0].message


def test_a_forecast_not_yet_available_judges_the_spend_to_date(explorer: FakeCostExplorer) -> None:
    explorer.forecast_error = "DataUnavailableException"
    explorer.monthly["2026-11"] = {EC2: 3000.0}
    bill = costs.read(ce(explorer), TODAY)
    assert bill.forecast is None and "DataUnavailableException" in bill.no_forecast
    verdict = costs.judge(bill, 20.0, 2400.0, 10, "dev account 123")
    assert [f.code for f in verdict.findings] == ["USG302"]
    assert any("too little data yet" in row[0] for row in verdict.rows)


def test_a_bill_in_another_currency_is_USG305_against_a_usd_budget(explorer: FakeCostExplorer) -> None:
    explorer.unit = "CNY"
    verdict = costs.judge(costs.read(ce(explorer), TODAY), 20.0, 500.0, 10, "dev account 123")
    assert [f.code for f in verdict.findings] == ["USG305"]
    assert verdict.rows[-1] == ("total", "1,100.00 CNY", "1,144.00 CNY", "+4%")


def test_a_new_account_with_no_costs_yet_has_nothing_to_compare(explorer: FakeCostExplorer) -> None:
    explorer.monthly.clear()
    verdict = costs.judge(costs.read(ce(explorer), TODAY), 20.0, None, 10, "dev account 123")
    assert verdict.findings == [] and any(row[0].startswith("nothing to compare yet") for row in verdict.rows)
