"""The monthly restore drill: pick a backup, fetch it, restore it, judge the counts.

One drill per environment: choose a backup not drilled before (per the
ledger), download and extract it (opschecks.areas.restore.archive), restore it into a
MongoDB target (opschecks.areas.restore.mongotarget, opschecks.areas.restore.mongorestore), count the
collections and judge them here.

A backup counts as drilled once a drill reached a verdict about it (restored
and counted, or found broken); a drill that could not reach S3 or MongoDB
leaves it in the pool.

Finding codes:

- RST001 a configured collection is missing after the restore
- RST002 a collection holds fewer documents than its minimum
- RST003 a count fell by more than ``max_drop_fraction`` below the last passed drill
  of the same environment whose backup is not newer (Ingest data only grows)
- RST004 nothing to drill: no backups, every backup drilled, or ``--restore-key`` not a backup of the env
- RST010 the backup is truncated, corrupt, or not the size of the S3 object
- RST011 the backup holds an unsafe member (absolute path, ``..``, link, device, a path twice) or expands
  beyond ``max_expansion_ratio``
- RST012 the dump inside cannot be restored (unreadable BSON/metadata, a document or index the server
  refuses, mongorestore failed, no dump or more than one found)
- RST013 a collection in the dump holds a different number of documents than the restore left on the server
- RST014 part of the dump could not be restored on this target (e.g. time-series collections)
- RST015 the dump directory's stamp is more than ``dump_stamp_tolerance_hours`` from the backup key's:
  a dump of another day under this key's name
- RST016-RST019 the backup held against the live database: documents it lacks, sampled ids it lacks, stale
  content, live database unreachable (opschecks.areas.restore.completeness)

Every namespace of the dump is accounted for: its documents in the dump,
what the server holds after the restore, or why it was not restored.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymongo.database import Database

from opschecks.areas.restore import archive, mongorestore, orphans
from opschecks.areas.backups.backups import STAMP_FORMAT, Backup
from opschecks.findings import Finding, fail_on
from opschecks.record.ledger import Record
from opschecks.areas.restore.settings import RestoreSettings

if TYPE_CHECKING:
    from opschecks.areas.restore.mongotarget import MongoTarget


TEMP_PREFIX = "opschecks-restore-"  # the drill's temp dirs (download, extracted dump) under $TMPDIR


@dataclass
class Drill:
    """What one drill did and found; ``broken`` is set when the backup itself could not be restored."""

    bucket: str
    backup: Backup
    target: str = ""
    counts: dict[str, int | None] = field(default_factory=dict)  # on the server after the restore; None: absent
    restored: mongorestore.Restored = field(default_factory=mongorestore.Restored)  # what the dump held
    durations: dict[str, float] = field(default_factory=dict)  # seconds: download, extract, restore
    warnings: list[str] = field(default_factory=list)
    broken: Finding | None = None
    notes: list[str] = field(default_factory=list)  # what the drill cleaned up beside its own work
    dump_dir: str = ""  # the restored dump, relative to the extracted backup (data/db/dump/<stamp>)
    dump_taken: dt.datetime | None = None  # the stamp in dump_dir's path; None: it has none
    oplog_start: dt.datetime | None = None  # the first ts of the dump's oplog.bson (mongodump --oplog); None: none

    @property
    def in_dump(self) -> dict[str, int]:
        return self.restored.in_dump or {}

    def compared(self) -> list[str]:
        """The dump's collections whose documents must all be on the server."""
        skipped = self.restored.not_restored.keys() | self.restored.unrestorable.keys()
        return [name for name in self.in_dump if name not in skipped]

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.backup.key}"


def drilled_keys(history: Sequence[Record]) -> set[str]:
    return {r.details["key"] for r in history if r.details.get("verdict") and "key" in r.details}


def choose(backups: Sequence[Backup], drilled: set[str], rng: random.Random, where: str,
           pinned: str | None = None) -> Backup:
    """``pinned`` if given (even if drilled before), else a random backup not yet drilled; RST004 otherwise."""
    if pinned is not None:
        match = [b for b in backups if b.key == pinned]
        if not match:
            fail_on([Finding("RST004", where, f"--restore-key {pinned} is not among the {len(backups)} backups here "
                                              "(select its environment with --env)")])
        return match[0]
    if not backups:
        fail_on([Finding("RST004", where, "no .tar.gz backups found to drill")])
    fresh = [b for b in backups if b.key not in drilled]
    if not fresh:
        fail_on([Finding("RST004", where, f"all {len(backups)} backups have been drilled already "
                                          "(pin one with --restore-key to drill it again)")])
    return rng.choice(fresh)


def drill(s3: Any, bucket: str, backup: Backup, target: MongoTarget, settings: RestoreSettings,
          progress: Callable[[int], None] | None = None) -> Drill:
    """Download, extract and restore ``backup`` into ``target``, then count; the temp dir is always removed."""
    result = Drill(bucket=bucket, backup=backup, target=target.where,
                   notes=[f"removed {name}, left by a killed run" for name in orphans.sweep_temp_dirs(TEMP_PREFIX)])
    with orphans.owned_temp_dir(TEMP_PREFIX) as work:
        tarball = work / "backup.tar.gz"
        try:
            with _timed(result, "download"):
                archive.download(s3, bucket, backup.key, tarball, progress)
            with _timed(result, "extract"):
                archive.extract(tarball, work / "extracted", settings.max_expansion_ratio)
            tarball.unlink()  # halve the disk the drill needs
            dump = replace(mongorestore.locate(work / "extracted", settings.database),
                           restore_users=settings.restore_users)
            result.dump_dir = dump.path.relative_to(work / "extracted").as_posix()
            result.dump_taken = dump_stamp(dump.path.relative_to(work / "extracted"))
            result.oplog_start = mongorestore.oplog_start(dump)
            with _timed(result, "restore"):
                restored = target.restore(dump, work)
            if restored.in_dump is None:  # the mongorestore binary restored: count the dump ourselves
                restored = replace(mongorestore.inventory(dump), restorer=restored.restorer)
            oplog = mongorestore.oplog_notice(dump)
            if oplog:
                restored = replace(restored, notices=[*restored.notices, oplog])
        except (archive.BrokenArchive, mongorestore.DumpError) as exc:
            result.broken = Finding(exc.code, result.url, str(exc))
            return result
    result.restored = restored
    result.warnings = restored.warnings
    names = {name: name for name in settings.collections}
    names |= {name: restored.data_names.get(name, name) for name in result.compared()}
    result.counts = count(target.client[target.database], names)
    return result


def dump_stamp(relative: Path) -> dt.datetime | None:
    """The UTC moment in the innermost component of ``relative`` named like a stamp (data/db/dump/<stamp>)."""
    for part in reversed(relative.parts):
        try:
            return dt.datetime.strptime(part, STAMP_FORMAT).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            continue
    return None


def stamp_warning(result: Drill) -> str | None:
    """Why the dump's day could not be compared with the key's (no stamp in its path), for the report."""
    if result.dump_dir and result.dump_taken is None:
        return (f"the dump directory {result.dump_dir} has no <YYYY-MM-DDTHH_MM> stamp: "
                "not checked against the key's date")
    return None


def drill_warnings(result: Drill) -> list[str]:
    """The report's warning rows: no stamp to check, what the dump lacked; the first ``OTHERS_SHOWN``, then a count."""
    found = [w for w in [stamp_warning(result), *result.restored.notices] if w]
    more = [f"… and {len(found) - OTHERS_SHOWN:,} more warnings"] if len(found) > OTHERS_SHOWN else []
    return found[:OTHERS_SHOWN] + more


def count(db: Database, namespaces: dict[str, str]) -> dict[str, int | None]:
    """Documents on the server per collection (``namespaces``: collection -> namespace holding its documents)."""
    present = set(db.list_collection_names())
    return {name: _count(db, ns) if ns in present else None for name, ns in namespaces.items()}


def _count(db: Database, namespace: str) -> int:
    """count_documents' pipeline, sent as a command: pymongo's Collection refuses names the server takes
    ('a.', 'a..b'), which mongorestore restores and the drill must still count."""
    reply = db.command({"aggregate": namespace, "pipeline": [{"$group": {"_id": 1, "n": {"$sum": 1}}}],
                        "cursor": {}})
    batch = reply["cursor"]["firstBatch"]
    return int(batch[0]["n"]) if batch else 0


def previous_drill(history: Sequence[Record], key: str) -> Record | None:
    """The newest passed drill of a backup no newer than ``key``: its counts are a floor for this one's."""
    for record in history:  # newest first
        if record.outcome == "passed" and record.details.get("counts") and record.details.get("key", "") <= key:
            return record
    return None


def judge(result: Drill, settings: RestoreSettings, previous: Record | None) -> list[Finding]:
    if result.broken is not None:
        return [result.broken]
    before = previous.details["counts"] if previous else {}
    # The backup is the finding's subject: the target (a per-run database or container) is not, or the same broken
    # backup drilled twice could never be "still failing"; the findings about the target name it in their message.
    where = result.url
    findings = []
    if result.dump_taken is not None:
        apart = abs(result.dump_taken - result.backup.taken)
        if apart > dt.timedelta(hours=settings.dump_stamp_tolerance_hours):
            findings.append(Finding(
                "RST015", where, f"the dump directory {result.dump_dir} is stamped {apart.total_seconds() / 3600:,.1f} h "
                                 f"from the key's {result.backup.taken:%Y-%m-%d %H:%M} UTC (at most "
                                 f"{settings.dump_stamp_tolerance_hours:g} h allowed): a dump of another day"))
    if result.oplog_start is not None:
        # The oplog says when the dumped data is from, whatever the directory or the key are named: a dump of a
        # lagging secondary or a stale volume, run and named tonight, is caught here.
        apart = abs(result.oplog_start - result.backup.taken)
        if apart > dt.timedelta(hours=settings.dump_stamp_tolerance_hours):
            findings.append(Finding(
                "RST015", where, f"the dump's oplog.bson begins at {result.oplog_start:%Y-%m-%d %H:%M:%S} UTC, "
                                 f"{apart.total_seconds() / 3600:,.1f} h from the key's "
                                 f"{result.backup.taken:%Y-%m-%d %H:%M} UTC (at most "
                                 f"{settings.dump_stamp_tolerance_hours:g} h allowed): data of another day "
                                 "(a lagging secondary, a stale volume)"))
    for name in result.compared():
        held, restored = result.in_dump[name], result.counts.get(name)
        if restored != held:
            findings.append(Finding("RST013", where, f"{settings.database}.{name}: the dump holds {held:,} documents, "
                                                     f"{restored or 0:,} were restored into {result.target}"))
    for name, why in result.restored.unrestorable.items():
        findings.append(Finding("RST014", where, f"{settings.database}.{name}: the drill could not restore its "
                                                 f"{result.in_dump.get(name, 0):,} documents into {result.target}: {why}"))
    for name in settings.collections:
        restored = result.counts.get(name)
        minimum = settings.min_counts.get(name, settings.default_min_count)
        if restored is None:
            findings.append(Finding("RST001", where, f"collection {settings.database}.{name} is missing"))
        elif restored < minimum:
            findings.append(Finding("RST002", where, f"{name} has {restored} documents, expected at least {minimum}"))
        elif before.get(name) and restored < before[name] * (1 - settings.max_drop_fraction):
            drop = 1 - restored / before[name]
            findings.append(Finding(
                "RST003", where,
                f"{name} has {restored} documents, {drop:.0%} fewer than the {before[name]} of the drill of "
                f"{previous.details['key']} on {previous.started:%Y-%m-%d} (at most {settings.max_drop_fraction:.0%} allowed)"))
    return findings


# Namespaces beyond the configured collections named in the report and the ledger; the rest are counted in one
# row / one number, so a dump of 20,000 stray files makes neither a 20,008-row table nor a 750 KB ledger record.
OTHERS_SHOWN = 50

COUNT_COLUMNS = ["collection", "documents in the dump", "restored count", "previous drilled count", "change"]


def count_rows(result: Drill, settings: RestoreSettings, previous: Record | None) -> list[list[Any]]:
    """Report rows (``COUNT_COLUMNS``): the configured collections, then every other namespace of the dump."""
    before = previous.details["counts"] if previous else {}
    rows = []
    others = sorted(n for n in result.in_dump if n not in settings.collections)
    extra = [n for n in result.restored.not_restored if n not in result.in_dump]
    left_out = [*others, *extra][OTHERS_SHOWN:]
    others, extra = others[:OTHERS_SHOWN], extra[:max(OTHERS_SHOWN - len(others), 0)]
    for name in [*settings.collections, *others]:
        now, then = result.counts.get(name), before.get(name)
        change = None
        if now is not None and then:
            change = f"{now - then:+d} ({(now - then) / then:+.1%})"
        why = result.restored.not_restored.get(name) or result.restored.unrestorable.get(name)
        shown: Any = f"not restored: {why}" if why else "missing" if now is None and not result.broken else now
        rows.append([name, result.in_dump.get(name), shown, then, change])
    for name in extra:
        rows.append([name, None, f"not restored: {result.restored.not_restored[name]}", None, None])
    if left_out:
        held = sum(result.in_dump.get(n, 0) for n in left_out)
        rows.append([f"… and {len(left_out):,} more namespaces", held, None, None, None])
    return rows


def users_and_roles(result: Drill, settings: RestoreSettings) -> str:
    """``3 users, 2 roles in the dump (not restored)`` for the report."""
    r = result.restored
    state = "restored" if settings.restore_users else "not restored: [restore] restore_users = false"
    return f"{r.users} users, {r.roles} roles in the dump ({state})"


def ledger_details(result: Drill, env: str, previous: Record | None, collections: Sequence[str]) -> dict[str, Any]:
    """What the ledger keeps of a drill: which backup, the verdict, counts and durations.

    Per namespace, ``collections`` (the configured ones, which later drills compare with) and the first
    ``OTHERS_SHOWN`` others are kept; ``namespaces_left_out`` counts the rest.
    """
    names = sorted({*result.in_dump, *result.counts, *result.restored.not_restored, *result.restored.unrestorable}
                   - set(collections))
    kept = {*collections, *names[:OTHERS_SHOWN]}
    bounded = lambda d: {k: v for k, v in d.items() if k in kept}  # noqa: E731 (four dicts, one rule)
    return {
        "env": env,
        "key": result.backup.key,
        "bucket": result.bucket,
        "size": result.backup.size,
        "target": result.target,
        "dump_dir": result.dump_dir,
        "oplog_start": result.oplog_start.isoformat() if result.oplog_start else None,
        "restorer": result.restored.restorer,
        "verdict": "broken" if result.broken else "restored",
        "counts": bounded(result.counts),
        "in_dump": bounded(result.in_dump),
        "not_restored": bounded(result.restored.not_restored),
        "unrestorable": bounded(result.restored.unrestorable),
        "namespaces_left_out": len(names[OTHERS_SHOWN:]),
        "users": result.restored.users,
        "roles": result.restored.roles,
        "durations": {k: round(v, 3) for k, v in result.durations.items()},
        "index_warnings": result.warnings,
        "previous_key": previous.details["key"] if previous else None,
    }


@contextmanager
def _timed(result: Drill, step: str) -> Iterator[None]:
    start = time.monotonic()
    try:
        yield
    finally:
        result.durations[step] = time.monotonic() - start
