"""Alerts: one concise message per run with failures, posted to a Slack-compatible incoming webhook.

The payload is ``{"text": ...}``, which Slack, Mattermost and Rocket.Chat
accept. Sending never raises: a failure to send is returned as one line for
the caller to log, because an alert must never hide or change a test outcome.
A 429 or 5xx answer is retried (``MAX_ATTEMPTS``, with back-off or the
answer's ``Retry-After``) within ``timeout_s`` for the whole send, so a slow
webhook never holds the run's end longer than that; the line quotes the
webhook's own error body (Slack's ``invalid_payload``, ``channel_is_archived``).
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request

from opschecks.record.attention import Attention, terminal_lines
from opschecks.redact import Redactor
from opschecks.record.settings import WEBHOOK_ENV_VAR

MAX_LISTED = 10  # failures listed by name; the rest are counted
MAX_REASON = 300  # characters of each line
MAX_ATTEMPTS = 4  # posts of one alert: the first and up to 3 retries of a 429 or 5xx
FIRST_BACKOFF_S = 0.25  # doubled after each retry without Retry-After
MAX_BODY = 200  # characters of the webhook's error body quoted in the line


def message(attention: Attention, where: str, report_link: str | None, redactor: Redactor) -> dict[str, str]:
    """The webhook payload for one run, grouped as the report's Needs attention is (new first), the top
    ``MAX_LISTED`` findings named; ``where`` says who ran it (user@host, run id)."""
    icon = ":red_circle:" if attention.alarming else ":large_green_circle:"
    lines = [f"{icon} opschecks: {attention.headline} ({where})"]
    lines += [_short(line) for line in terminal_lines(attention, MAX_LISTED)[1:]]
    if report_link:
        lines.append(f"Report: {report_link}")
    return {"text": redactor.text("\n".join(lines))}


def _short(line: str) -> str:
    """One finding's line, cut between words when it is longer than MAX_REASON."""
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 1].rsplit(" ", 1)[0] + "…"


def send(url: str, payload: dict[str, str], timeout_s: float) -> str | None:
    """POST ``payload``; None when delivered, else one line saying why not (the URL itself is never shown).
    ``timeout_s`` bounds the whole send, retries and waits included."""
    try:
        # Request() itself raises ValueError on a malformed URL ("unknown url type"): inside the try, too.
        request = urllib.request.Request(url, data=json.dumps(payload).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        if request.type not in ("http", "https"):
            raise ValueError(request.type)
    except ValueError:
        return f"webhook URL is not an http(s) URL: check ${WEBHOOK_ENV_VAR} or [alerts] webhook_url"
    started = time.monotonic()
    deadline, backoff = started + timeout_s, FIRST_BACKOFF_S
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with urllib.request.urlopen(request, timeout=max(deadline - time.monotonic(), 0.01)) as response:
                response.read()
            return None
        except urllib.error.HTTPError as exc:
            problem = f"webhook answered HTTP {exc.code} {exc.reason}{_body(exc)}"
            if exc.code != 429 and exc.code < 500:
                return problem  # the payload or the channel is wrong: the same post would fail again
            retry_after = _retry_after(exc)
            wait = retry_after if retry_after is not None else backoff
            backoff *= 2
            # Half of what is left at most, so the next attempt still has time to be answered.
            wait = min(wait, (deadline - time.monotonic()) / 2)
            if attempt == MAX_ATTEMPTS or wait <= 0:
                break
            time.sleep(wait)
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return f"webhook unreachable: {reason if isinstance(reason, str) else f'{type(reason).__name__}: {reason}'}"
    return f"{problem} (gave up after {attempt} attempts in {time.monotonic() - started:.1f} s, timeout_s {timeout_s:g})"


def _body(exc: urllib.error.HTTPError) -> str:
    """': <the body>' in one line (Slack answers errors as plain text: 'invalid_payload'), or '' when empty."""
    try:
        text = " ".join(exc.read(MAX_BODY * 4).decode("utf-8", "replace").split())
    except OSError:
        return ""
    return f": {text[:MAX_BODY]}" if text else ""


def _retry_after(exc: urllib.error.HTTPError) -> float | None:
    """The answer's Retry-After in seconds (Slack sends seconds; an HTTP date or nonsense counts as absent)."""
    try:
        seconds = float(exc.headers.get("Retry-After", ""))
    except (TypeError, ValueError):
        return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None
