"""Endpoints that did not answer in this run, so later calls to them fail at once instead of waiting again.

A silent endpoint (it accepts the connection and never answers, or never accepts it) costs each call two
timeouts; a run's checks all call the same AWS endpoint and Kubernetes API, so one dead endpoint made a
day's checks take minutes of waiting for the same answer. The first call that gives up records the endpoint
(``scheme://host:port``) with its one line; every later call to it in this process fails with that line and
when it went silent. The registry is per process (each xdist worker learns on its own) and is emptied when a
pytest session starts, so an in-process run never inherits another's verdict.
"""

from __future__ import annotations

import datetime as dt
import threading
from urllib.parse import urlsplit

from opschecks.errors import NotTriedAgain

_DEFAULT_PORTS = {"http": 80, "https": 443}
_lock = threading.Lock()
_silent: dict[str, tuple[str, str]] = {}  # endpoint -> (its line, HH:MM:SS UTC when it went silent)


def endpoint(url: str) -> str:
    """``scheme://host:port`` of ``url``, with the scheme's default port made explicit."""
    parts = urlsplit(url)
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
    return f"{parts.scheme}://{parts.hostname}:{port}"


def record(url: str, line: str) -> None:
    """Remember that ``url``'s endpoint did not answer; the first line recorded is the one repeated."""
    with _lock:
        _silent.setdefault(endpoint(url), (line, f"{dt.datetime.now(dt.timezone.utc):%H:%M:%S}"))


def refuse_if_silent(url: str, kubernetes: bool = False) -> None:
    """Raise NotTriedAgain when ``url``'s endpoint already did not answer in this run."""
    with _lock:
        known = _silent.get(endpoint(url))
    if known is not None:
        line, when = known
        raise NotTriedAgain(f"{line} (did not answer at {when} UTC, not tried again)", kubernetes=kubernetes)


def forget() -> None:
    """A new run: every endpoint gets its chance again."""
    with _lock:
        _silent.clear()
