"""A loopback Cost Explorer (AWS JSON 1.1 protocol), for what moto does not serve: GetCostForecast.

It answers ``GetCostAndUsage`` (MONTHLY, grouped by SERVICE or not) and ``GetCostForecast`` from a table
of monthly costs per service, in the documented response shapes; boto3 reaches it through
``AWS_ENDPOINT_URL_COST_EXPLORER``. A period shorter than its month gets the month's cost pro rata by day (a
month spends evenly), so "to date" depends on the period's End as it does on the real service. Every request is
counted: Cost Explorer charges per request. ``forecast_error`` answers GetCostForecast with a documented error
(``DataUnavailableException``: too little history).
"""

from __future__ import annotations

import datetime as dt
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opschecks.sandbox.loopback import reply, serve, stop

TARGET = "AWSInsightsIndexService."


class FakeCostExplorer:
    def __init__(self, monthly: dict[str, dict[str, float]], forecast_total: float) -> None:
        self.monthly = monthly  # "YYYY-MM" -> service -> USD
        self.forecast_total = forecast_total  # the rest of the current month, USD
        self.requests: list[str] = []
        self.unit = "USD"
        self.forecast_error: str | None = None
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                operation = self.headers.get("X-Amz-Target", "").removeprefix(TARGET)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                fake.requests.append(operation)
                answer = {"GetCostAndUsage": fake._usage, "GetCostForecast": fake._forecast}.get(operation)
                status, payload = (400, {"__type": "UnknownOperationException"}) if answer is None else answer(body)
                reply(self, status, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(payload).encode())

            def log_message(self, *args: Any) -> None:
                pass

        self._server = serve(Handler, "fake-cost-explorer")

    def stop(self) -> None:
        stop(self._server)
        self._server = None

    def _usage(self, body: dict) -> tuple[int, dict]:
        start = dt.date.fromisoformat(body["TimePeriod"]["Start"])
        end = dt.date.fromisoformat(body["TimePeriod"]["End"])
        grouped = any(g.get("Key") == "SERVICE" for g in body.get("GroupBy", []))
        metric = body["Metrics"][0]
        results, month = [], start.replace(day=1)
        while month < end:
            following = (month + dt.timedelta(days=32)).replace(day=1)
            share = (min(following, end) - max(month, start)).days / (following - month).days
            costs = {s: usd * share for s, usd in self.monthly.get(month.strftime("%Y-%m"), {}).items()}
            period = {"Start": max(month, start).isoformat(), "End": min(following, end).isoformat()}
            amount = lambda usd: {metric: {"Amount": f"{usd:.10f}", "Unit": self.unit}}  # noqa: E731
            results.append({"TimePeriod": period, "Estimated": following > dt.date.today(),
                            "Total": {} if grouped else amount(sum(costs.values())),
                            "Groups": [{"Keys": [service], "Metrics": amount(usd)} for service, usd in costs.items()]
                            if grouped else []})
            month = following
        return 200, {"GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}] if grouped else [],
                     "ResultsByTime": results, "DimensionValueAttributes": []}

    def _forecast(self, body: dict) -> tuple[int, dict]:
        if self.forecast_error is not None:  # the JSON 1.1 error shape: botocore reads the code after the '#'
            return 400, {"__type": f"com.amazonaws.awsinsightsindexservice#{self.forecast_error}",
                         "Message": "Insufficient amount of historical data to generate a forecast."}
        total = f"{self.forecast_total:.10f}"
        return 200, {"Total": {"Amount": total, "Unit": self.unit},
                     "ForecastResultsByTime": [{"TimePeriod": body["TimePeriod"], "MeanValue": total}]}
