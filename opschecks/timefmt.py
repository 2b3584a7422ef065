"""Durations as the checks show them, one format for every area (pods, nodes): as kubectl shows ages."""

from __future__ import annotations

import datetime as dt


def age(delta: dt.timedelta) -> str:
    """45s, 12m, 5h, 3d: seconds below 2 minutes, minutes below 2 hours, hours below 2 days (36 h is "36h")."""
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 2 * 3600:
        return f"{seconds // 60}m"
    if seconds < 2 * 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"
