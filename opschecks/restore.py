"""The monthly restore drill: pick a backup, fetch it, restore it, judge the counts."""

from __future__ import annotations

from dataclasses import dataclass, field

COLLECTIONS = ["biomaterial", "bundleManifest", "file", "process", "project", "protocol", "submissionEnvelope"]


@dataclass(frozen=True)
class RestoreSettings:
    database: str = "admin"
    collections: list[str] = field(default_factory=lambda: list(COLLECTIONS))
    # The team's verify script demands at least 100 submission envelopes; others must be non-empty.
    min_counts: dict[str, int] = field(default_factory=lambda: {"submissionEnvelope": 100})
    default_min_count: int = 1
    max_drop_fraction: float = 0.10  # Ingest data only grows
    image: str = "mongo:4.2"  # the major version production runs
