"""The pods area's settings (``[env.<name>.pods]``), a leaf but for the one waiver model."""

from __future__ import annotations

from dataclasses import dataclass, field

from opschecks.waivers import Waiver

@dataclass(frozen=True)
class PodSettings:
    restart_limit: int = 5
    restart_window_minutes: float = 60.0
    pending_grace_minutes: float = 10.0
    terminating_grace_minutes: float = 10.0
    ready_grace_seconds: float = 120.0  # a starting or restarted pod whose readiness probe has not passed yet
    partial_completion_grace_minutes: float = 60.0  # a Job pod with some containers done, others still running
    rollout_grace_minutes: float = 10.0  # a rolling update within maxUnavailable (progressDeadlineSeconds' default)
    page_size: int = 500
    # The one waiver model (opschecks/waivers.py): `resource` is a pattern on the pod or workload name or on
    # "<namespace>/<name>"; `rules` are finding codes (POD001) or reasons (CrashLoopBackOff, Init:*).
    waivers: list[Waiver] = field(default_factory=list)
    waivers_file: str = ""  # more of them, in a waivers file (relative to the config file), as usage's
