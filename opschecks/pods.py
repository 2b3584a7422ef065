"""How a pod, Deployment or StatefulSet is judged healthy."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Waiver:
    pattern: str  # fnmatch pattern on the pod or workload name
    reason: str  # the finding reason it waives, or "*"
    expires: dt.date
    justification: str


@dataclass(frozen=True)
class PodSettings:
    restart_limit: int = 5
    restart_window_minutes: float = 60.0
    pending_grace_minutes: float = 10.0
    terminating_grace_minutes: float = 10.0
    page_size: int = 500
    waivers: list[Waiver] = field(default_factory=list)
