"""The month's bill against a loopback Cost Explorer speaking the AWS JSON protocol to a real boto3 client."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import boto3
import pytest

from opschecks import costs
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


def test_no_costs_is_USG303(explorer: FakeCostExplorer) -> None:
    explorer.monthly.clear()
    verdict = costs.judge(costs.read(ce(explorer), TODAY), 20.0, None, 10, "dev account 123")
    assert [f.code for f in verdict.findings] == ["USG303"]


def test_no_forecast_request_on_the_last_day_and_top_services_fold(explorer: FakeCostExplorer) -> None:
    bill = costs.read(ce(explorer), dt.date(2026, 11, 30))
    assert bill.forecast is None and explorer.requests.count("GetCostForecast") == 0
    rows = costs.judge(bill, 20.0, None, 1, "dev").rows
    assert rows[1] == ("1 other services", "$100.00", "$104.00", "")
