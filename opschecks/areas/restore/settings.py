"""The restore drill's settings (``[env.<name>.restore]``) and the collections it drills, a leaf."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_MAX_EXPANSION_RATIO = 100.0  # gzip reaches at most ~1032x; BSON dumps compress 3-15x


COLLECTIONS = ["biomaterial", "bundleManifest", "file", "process", "project", "protocol", "submissionEnvelope"]


@dataclass(frozen=True)
class RestoreSettings:
    database: str = "admin"
    collections: list[str] = field(default_factory=lambda: list(COLLECTIONS))
    # The team's verify script demands at least 100 submission envelopes; others must be non-empty.
    min_counts: dict[str, int] = field(default_factory=lambda: {"submissionEnvelope": 100})
    default_min_count: int = 1
    max_drop_fraction: float = 0.10  # Ingest data only grows
    restore_users: bool = False  # restore admin.system.users/roles too (else they are counted and listed)
    image: str = "mongo:4.2"  # the major version production runs
    # Longest wait for one answer from the drill's MongoDB (an insert batch, an index build, a count): one that
    # accepts connections but stops answering fails the drill in one line instead of hanging it.
    server_timeout_s: float = 600.0
    # A backup whose members declare more than this many times its compressed size is refused before extraction
    # (RST011): a decompression bomb must not fill the disk. Real dumps compress 3-15x; gzip reaches ~1032x.
    max_expansion_ratio: float = DEFAULT_MAX_EXPANSION_RATIO
    # backup.sh names the dump directory and the key after the same moment; a dump directory stamped further
    # than this from the key is a dump of another day under this key's name (RST015).
    dump_stamp_tolerance_hours: float = 3.0
    # Completeness against the live database (opschecks.areas.restore.completeness, RST016-RST019): a read-only
    # user's URI; unset, the report says "not configured". Its password may come from $<live_password_env>.
    live_uri: str = ""
    live_database: str = ""  # default: ``database``
    live_password_env: str = "OPSCHECKS_LIVE_MONGO_PASSWORD"
    completeness_sample: int = 1000  # live _ids below the cut required in the backup, per collection
    content_age_tolerance_hours: float = 1.0  # RST018: live documents this much newer than the backup's newest
