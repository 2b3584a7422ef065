"""The sprint drill of the legacy upload service: set up, probe, tear down, prove nothing is left."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class UploadSettings:
    setup_command: list[str] = field(default_factory=list)
    teardown_command: list[str] = field(default_factory=list)
