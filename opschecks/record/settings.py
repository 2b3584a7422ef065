"""The record-keeping's settings (``[ledger]``, ``[cadence]``, ``[alerts]``), a leaf but for the schema's error and the codes' severities."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opschecks.code import SEVERITIES
from opschecks.schema import ConfigError

WEBHOOK_ENV_VAR = "OPSCHECKS_WEBHOOK_URL"


REPORT_URL_ENV_VAR = "OPSCHECKS_REPORT_URL"


@dataclass(frozen=True)
class AlertSettings:
    webhook_url: str | None = None  # ${OPSCHECKS_WEBHOOK_URL} wins, so CI can inject it as a secret
    notify_on_success: bool = False  # also post when every check passed
    report_url: str | None = None  # where readers find the report (${OPSCHECKS_REPORT_URL} wins); else its path
    timeout_s: float = 5.0
    min_severity: str = "info"  # post a failing run only when a finding weighs at least this (opschecks/code.py)

    def __post_init__(self) -> None:
        if self.min_severity not in SEVERITIES:
            raise ConfigError(f"alerts.min_severity: expected one of {', '.join(SEVERITIES)}, "
                              f"found {self.min_severity!r}")

    def url(self) -> str | None:
        return os.environ.get(WEBHOOK_ENV_VAR) or self.webhook_url

    def report_link(self, report_path: str | None) -> str | None:
        return os.environ.get(REPORT_URL_ENV_VAR) or self.report_url or report_path


@dataclass(frozen=True)
class CadenceSettings:
    sprint_days: int = 14
    sprint_start: dt.date = dt.date(2024, 1, 1)  # the first day of any sprint (a Monday, for the team)
    timezone: str = "UTC"  # where days, months and sprints begin: the zone the team's schedules run in

    def __post_init__(self) -> None:
        if self.sprint_days < 1:
            raise ConfigError(f"cadence.sprint_days: expected at least 1 day, found {self.sprint_days}")
        try:
            self.zone
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"cadence.timezone: expected an IANA time zone such as 'Europe/London', "
                              f"found {self.timezone!r}") from None

    @property
    def zone(self) -> dt.tzinfo:
        # UTC needs no time zone database (a slim image may have none); any other zone reads it.
        return dt.timezone.utc if self.timezone == "UTC" else ZoneInfo(self.timezone)


@dataclass(frozen=True)
class LedgerSettings:
    path: str = "reports/ledger.sqlite"  # always written: the local history, and the fallback when S3 fails
    s3_uri: str | None = None  # s3://bucket/prefix: the shared store that CI and laptops write to
    aws_profile: str | None = None  # for the shared store; None: the default credential chain
    aws_region: str | None = None

    def __post_init__(self) -> None:
        if self.s3_uri is not None and not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?", self.s3_uri):
            raise ConfigError(f"ledger.s3_uri: expected s3://bucket/prefix, found {self.s3_uri!r}")
