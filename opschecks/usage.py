"""AWS usage: the backup bucket's growth in CloudWatch, and allocated-but-unused resources."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UsageSettings:
    window_days: int = 90
