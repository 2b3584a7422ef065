"""The checks' clock: UTC now, or later by ``OPSCHECKS_CLOCK_SHIFT_DAYS`` on the sandbox.

The shift lets the sandbox be seeded, checked and recorded "30 days later"
(or any day) in one consistent time, to prove the sandbox stays green on any
day. It moves only the clock of the checks, the sandbox's seeding and the
ledger's timestamps; the pytest plugin refuses it outside the sandbox, where
a shifted clock would judge real backups and pods against the wrong day.
"""

from __future__ import annotations

import datetime as dt
import os
from urllib.parse import urlsplit

from opschecks.schema import ConfigError

SHIFT_VAR = "OPSCHECKS_CLOCK_SHIFT_DAYS"


def shift() -> dt.timedelta:
    """The configured shift (zero when unset); a value that is not a number of days is a ConfigError."""
    raw = os.environ.get(SHIFT_VAR, "").strip()
    if not raw:
        return dt.timedelta(0)
    try:
        return dt.timedelta(days=float(raw))
    except ValueError:
        raise ConfigError(f"{SHIFT_VAR}={raw!r}: expected a number of days, e.g. 30") from None


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) + shift()


def refuse_outside_sandbox(sandbox: bool) -> None:
    """ConfigError when the clock is shifted for a run that is not on the sandbox: neither ``--sandbox`` nor
    AWS pointed at loopback (as ``python -m opschecks sandbox`` exports it). A real run judges today."""
    shifted = shift()
    on_loopback = urlsplit(os.environ.get("AWS_ENDPOINT_URL", "")).hostname == "127.0.0.1"
    if shifted and not sandbox and not on_loopback:
        raise ConfigError(f"{SHIFT_VAR} shifts the checks' clock and is only for the sandbox "
                         "(--sandbox, or python -m opschecks sandbox): unset it for a real run")
