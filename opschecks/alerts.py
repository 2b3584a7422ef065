"""Alerts: one concise message per run with failures, posted to a Slack-compatible incoming webhook.

The payload is ``{"text": ...}``, which Slack, Mattermost and Rocket.Chat
accept. Sending never raises: a failure to send is returned as one line for
the caller to log, because an alert must never hide or change a test outcome.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass

from opschecks.attention import Attention, terminal_lines
from opschecks.redact import Redactor

WEBHOOK_ENV_VAR = "OPSCHECKS_WEBHOOK_URL"
REPORT_URL_ENV_VAR = "OPSCHECKS_REPORT_URL"
MAX_LISTED = 10  # failures listed by name; the rest are counted
MAX_REASON = 300  # characters of each line


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


def message(attention: Attention, where: str, report_link: str | None, redactor: Redactor) -> dict[str, str]:
    """The webhook payload for one run, grouped as the report's Needs attention is (new first), the top
    ``MAX_LISTED`` findings named; ``where`` says who ran it (user@host, run id)."""
    icon = ":red_circle:" if attention.failed else ":large_green_circle:"
    lines = [f"{icon} opschecks: {attention.headline} ({where})"]
    lines += [_short(line) for line in terminal_lines(attention, MAX_LISTED)[1:]]
    if report_link:
        lines.append(f"Report: {report_link}")
    return {"text": redactor.text("\n".join(lines))}


def _short(line: str) -> str:
    """One finding's line, cut between words when it is longer than MAX_REASON."""
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 1].rsplit(" ", 1)[0] + "…"


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
