"""Alerts: one concise message per run with failures, posted to a Slack-compatible incoming webhook.

The payload is ``{"text": ...}``, which Slack, Mattermost and Rocket.Chat
accept. Sending never raises: a failure to send is returned as one line for
the caller to log, because an alert must never hide or change a test outcome.
"""

from __future__ import annotations

import re

import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

from opschecks.redact import Redactor

WEBHOOK_ENV_VAR = "OPSCHECKS_WEBHOOK_URL"
REPORT_URL_ENV_VAR = "OPSCHECKS_REPORT_URL"
MAX_LISTED = 10  # failures listed by name; the rest are counted
MAX_REASON = 200  # characters of each failure's reason


@dataclass(frozen=True)
class AlertSettings:
    webhook_url: str | None = None  # ${OPSCHECKS_WEBHOOK_URL} wins, so CI can inject it as a secret
    notify_on_success: bool = False  # also post when every check passed
    report_url: str | None = None  # where readers find the report (${OPSCHECKS_REPORT_URL} wins); else its path
    timeout_s: float = 5.0

    def url(self) -> str | None:
        return os.environ.get(WEBHOOK_ENV_VAR) or self.webhook_url

    def report_link(self, report_path: str | None) -> str | None:
        return os.environ.get(REPORT_URL_ENV_VAR) or self.report_url or report_path


@dataclass(frozen=True)
class Failure:
    check: str
    env: str  # "-" when the failure is not tied to one environment (a collection error)
    reason: str


def message(failures: Sequence[Failure], total: int, where: str, report_link: str | None,
            redactor: Redactor) -> dict[str, str]:
    """The webhook payload for one run; ``where`` says who ran it (user@host, run id)."""
    if failures:
        lines = [f":red_circle: opschecks: {len(failures)} of {total} checks failed ({where})"]
        for f in failures[:MAX_LISTED]:
            lines.append(f"• [{f.env}] {f.check}: {_short(f.reason.removeprefix(f'[{f.env}] '))}")
        if len(failures) > MAX_LISTED:
            lines.append(f"… and {len(failures) - MAX_LISTED} more")
    else:
        lines = [f":large_green_circle: opschecks: all {total} checks passed ({where})"]
    if report_link:
        lines.append(f"Report: {report_link}")
    return {"text": redactor.text("\n".join(lines))}


def _short(reason: str) -> str:
    """The reason on one line, its lines (the findings) whole: as many as fit, then how many more."""
    lines = [line.strip() for line in reason.strip().splitlines() if line.strip()]
    # "3 findings:" is only a count: the first finding is quoted whatever the room, or the alert names none.
    counted = 1 if lines and re.fullmatch(r"\d+ findings?:", lines[0]) else 0
    kept: list[str] = []
    for line in lines:
        if len(kept) > counted and len(" ".join([*kept, line])) > MAX_REASON:
            return f"{' '.join(kept)} (+{len(lines) - len(kept)} more)"
        kept.append(line)
    text = " ".join(kept)
    # One line longer than the limit on its own: cut between words.
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1].rsplit(" ", 1)[0] + "…"


def send(url: str, payload: dict[str, str], timeout_s: float) -> str | None:
    """POST ``payload``; None when delivered, else one line saying why not (the URL itself is never shown)."""
    try:
        # Request() itself raises ValueError on a malformed URL ("unknown url type"): inside the try, too.
        request = urllib.request.Request(url, data=json.dumps(payload).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        if request.type not in ("http", "https"):
            raise ValueError(request.type)
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        return f"webhook answered HTTP {exc.code} {exc.reason}"
    except ValueError:
        return f"webhook URL is not an http(s) URL: check ${WEBHOOK_ENV_VAR} or [alerts] webhook_url"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"webhook unreachable: {reason if isinstance(reason, str) else f'{type(reason).__name__}: {reason}'}"
    return None
