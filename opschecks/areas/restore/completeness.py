"""Is the backup complete? The restored data held against the live database (issue 27).

Ingest's entities have ObjectId ``_id``s, whose first four bytes are their creation time. With
``cut = ObjectId.from_datetime(dump start)``, every document that exists in the live database now and was
created before the dump started existed when the dump ran, so it must be in the backup:

- RST016 completeness: ``restored.count({_id: {$lt: cut}}) < live.count({_id: {$lt: cut}})``: the backup lacks
  documents (both counts come from the ``_id`` index). Deletions after the dump only lower the live count, so
  they never cause a false red.
- RST017 containment: a random sample (``completeness_sample``) of live ``_id``s, those below the cut, is not all in the
  restored database (a loss offset by deletions, which counts hide); up to ten missing ids are named.
- RST018 content age: live holds documents created between the restored collection's newest ``_id`` and the
  dump start, more than ``content_age_tolerance_hours`` apart: the backup is stale by that gap.
- RST019 the live database could not be reached or answered an error (one line naming its hosts); the drill's
  restore verdict stands.

The live database is only read: ``aggregate`` (count, ``$sample`` then ``$project: {_id: 1}``) and ``find`` of
one ``_id``. Documents whose ``_id`` is not an ObjectId are not judged; they are listed with their counts.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from bson import ObjectId
from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import PyMongoError
from pymongo.uri_parser import parse_uri

from opschecks.findings import Finding

if TYPE_CHECKING:
    from opschecks.areas.restore.restore import Drill
    from opschecks.areas.restore.settings import RestoreSettings

PASSWORD_ENV_VAR = "OPSCHECKS_LIVE_MONGO_PASSWORD"  # default of [restore] live_password_env
MISSING_SHOWN = 10
_ANY_OBJECT_ID = {"$gte": ObjectId("0" * 24), "$lte": ObjectId("f" * 24)}  # type bracketing: ObjectIds only
# Every BSON type an _id can have but an ObjectId: a $type list the _id index answers (``$not`` would scan).
_NOT_OBJECT_ID = {"_id": {"$type": ["double", "string", "object", "binData", "bool", "date", "null", "regex", "int",
                                    "timestamp", "long", "decimal", "minKey", "maxKey", "javascript", "symbol"]}}


@dataclass
class Judged:
    """One collection held against the live database."""

    restored_below: int = 0  # restored documents with an ObjectId _id below the cut
    live_below: int | None = None
    sampled: int = 0
    sample_missing: list[str] = field(default_factory=list)  # the first MISSING_SHOWN
    sample_missing_count: int = 0
    newest_restored: str | None = None  # ISO time of the newest ObjectId _id restored
    content_age_h: float | None = None  # dump start - newest_restored
    live_between: int = 0  # live documents created after newest_restored and before the cut
    stale_h: float | None = None  # newest live creation time below the cut - newest_restored
    not_judged: int = 0  # restored documents whose _id is not an ObjectId
    not_judged_live: int = 0

    @property
    def missing(self) -> int:
        return max((self.live_below or 0) - self.restored_below, 0)


@dataclass
class Completeness:
    state: str  # "not configured", "judged", "unreachable"
    dump_start: dt.datetime
    dump_start_from: str  # which evidence gave the dump start
    live: str = ""  # MongoDB hosts and database, no credentials
    error: str = ""
    collections: dict[str, Judged] = field(default_factory=dict)


def dump_start(result: Drill) -> tuple[dt.datetime, str]:
    """When the dump started, from the backup's own evidence first: its oplog.bson's first entry (the source's
    last write before the dump began), else its directory's stamp, else the key's timestamp.

    Never the restored data's newest ``_id``: that would make every stale backup look fresh (RST018 holds the
    newest ``_id`` against this start). An archive's prelude holds no time, so it is not evidence.
    """
    if result.oplog_start is not None:
        return result.oplog_start, f"the first entry of the dump's oplog.bson ({result.dump_dir}/oplog.bson)"
    if result.dump_taken is not None:
        return result.dump_taken, f"the dump directory's stamp ({result.dump_dir})"
    return result.backup.taken, f"the backup key's timestamp ({result.backup.key})"


def live_uri(settings: RestoreSettings) -> str:
    """``live_uri`` with the password from ``$<live_password_env>`` when the URI names a user but no password."""
    uri = settings.live_uri
    password = os.environ.get(settings.live_password_env or PASSWORD_ENV_VAR)
    parts = urlsplit(uri)
    if password and "@" in parts.netloc:
        userinfo, hosts = parts.netloc.rsplit("@", 1)
        if ":" not in userinfo:
            return urlunsplit(parts._replace(netloc=f"{userinfo}:{quote(password, safe='')}@{hosts}"))
    return uri


def where_live(settings: RestoreSettings) -> str:
    database = settings.live_database or settings.database
    try:
        hosts = ",".join(f"{h}:{p}" for h, p in parse_uri(settings.live_uri, connect_timeout=1)["nodelist"])
    except Exception:  # noqa: BLE001 (a URI pymongo refuses is reported by connect below)
        hosts = urlsplit(settings.live_uri).hostname or "?"
    return f"MongoDB {hosts} database {database}"


@contextmanager
def live_database(settings: RestoreSettings, api_timeout_s: float) -> Iterator[Database]:
    """The live database, every wait (server selection, connect, each answer) bounded by the env's
    ``api_timeout_s``: its queries answer from the ``_id`` index, so a longer wait is a hung server."""
    timeout_ms = int(api_timeout_s * 1000)
    client: MongoClient = MongoClient(live_uri(settings), serverSelectionTimeoutMS=timeout_ms,
                                      connectTimeoutMS=timeout_ms, socketTimeoutMS=timeout_ms,
                                      appname="opschecks-restore-completeness")
    try:
        yield client[settings.live_database or settings.database]
    finally:
        client.close()


def check(result: Drill, restored: Database, settings: RestoreSettings, api_timeout_s: float) -> Completeness:
    """Hold each configured collection of the restored database against the live one."""
    start, source = dump_start(result)
    if not settings.live_uri:
        return Completeness("not configured", start, source)
    found = Completeness("judged", start, source, live=where_live(settings))
    cut = ObjectId.from_datetime(start)
    try:
        with live_database(settings, api_timeout_s) as live:
            # No listCollections: a custom role granting only ``find`` on the Ingest collections suffices.
            for name in settings.collections:
                if result.counts.get(name) is None:
                    continue  # not restored: RST001 says so
                found.collections[name] = judge_collection(restored[name], live[name], cut, start,
                                                           settings.completeness_sample)
    except PyMongoError as exc:
        detail = " ".join(str(exc).split(", Timeout:")[0].split(" (configured timeouts:")[0].split())
        found.state = "unreachable"
        found.error = f"{detail} (waited up to {api_timeout_s:g} s per answer: the env's api_timeout_s sets the wait)"
    return found


def judge_collection(restored: Collection, live: Collection, cut: ObjectId, start: dt.datetime,
                     sample: int) -> Judged:
    below = {"_id": {"$lt": cut}}  # compares with ObjectIds only (BSON type bracketing)
    judged = Judged(restored_below=restored.count_documents(below),
                    not_judged=restored.count_documents(_NOT_OBJECT_ID))
    newest = _newest(restored, _ANY_OBJECT_ID)
    if newest is not None:
        judged.newest_restored = newest.generation_time.isoformat()
        judged.content_age_h = round((start - newest.generation_time).total_seconds() / 3600, 2)
    judged.live_below = live.count_documents(below)
    judged.not_judged_live = live.count_documents(_NOT_OBJECT_ID)
    if sample > 0 and judged.live_below:
        # $sample first: MongoDB's random cursor, cheap on any size; those at or past the cut are then dropped.
        ids = [d["_id"] for d in live.aggregate([{"$sample": {"size": sample}}, {"$match": below},
                                                 {"$project": {"_id": 1}}])]
        held = set(restored.distinct("_id", {"_id": {"$in": ids}})) if ids else set()
        missing = sorted(i for i in ids if i not in held)
        judged.sampled, judged.sample_missing_count = len(ids), len(missing)
        judged.sample_missing = [str(i) for i in missing[:MISSING_SHOWN]]
    if newest is not None:
        after = {"_id": {"$gt": newest, "$lt": cut}}
        judged.live_between = live.count_documents(after)
        live_newest = _newest(live, {"$gt": newest, "$lt": cut}) if judged.live_between else None
        if live_newest is not None:
            judged.stale_h = round((live_newest.generation_time - newest.generation_time).total_seconds() / 3600, 2)
    return judged


def _newest(collection: Collection, condition: dict[str, Any]) -> ObjectId | None:
    # The hint walks the _id index from its end; without it a server may sort the matches (SecantusDB did, 4x slower).
    doc = collection.find_one({"_id": condition}, {"_id": 1}, sort=[("_id", -1)], hint="_id_")
    return doc["_id"] if doc else None


def findings(found: Completeness, where: str, env: str, settings: RestoreSettings) -> list[Finding]:
    if found.state == "unreachable":
        return [Finding("RST019", where, f"{env}: the live database {found.live} did not answer the completeness "
                                         f"check: {found.error}")]
    out = []
    db = settings.database
    for name, j in found.collections.items():
        if j.missing:
            out.append(Finding("RST016", where, f"{env} {db}.{name}: the backup lacks {j.missing:,} documents: the "
                                                f"live database holds {j.live_below:,} created before the dump start "
                                                f"({found.dump_start:%Y-%m-%d %H:%M} UTC), the backup {j.restored_below:,}"))
        if j.sample_missing_count:
            out.append(Finding("RST017", where, f"{env} {db}.{name}: {j.sample_missing_count:,} of {j.sampled:,} "
                                                f"sampled live documents created before the dump start are not in the "
                                                f"backup: {', '.join(j.sample_missing)}"))
        if j.stale_h is not None and j.stale_h > settings.content_age_tolerance_hours:
            out.append(Finding("RST018", where, f"{env} {db}.{name}: the backup is stale by {j.stale_h:,.1f} h: its "
                                                f"newest document was created {j.newest_restored}, the live database "
                                                f"holds {j.live_between:,} created after it and before the dump start "
                                                f"(at most {settings.content_age_tolerance_hours:g} h allowed)"))
    return out


COLUMNS = ["collection", "restored before the cut", "live before the cut", "missing", "sample checked",
           "content age (h)", "note"]


def rows(found: Completeness, settings: RestoreSettings) -> list[list[Any]]:
    """The report's completeness table (``COLUMNS``)."""
    if found.state == "not configured":
        return [["(all)", None, None, None, None, None,
                 "not configured: set [restore] live_uri to hold the backup against the live database"]]
    if found.state == "unreachable":
        return [["(all)", None, None, None, None, None, f"live database unreachable: {found.error}"]]
    out = []
    for name, j in found.collections.items():
        notes = []
        if not j.live_below and j.restored_below:
            notes.append("the live database holds none before the cut (a wrong live_database?)")
        if j.not_judged or j.not_judged_live:
            notes.append(f"not judged for completeness: {j.not_judged:,} restored and {j.not_judged_live:,} live "
                         "documents whose _id is not an ObjectId")
        if j.sample_missing_count:
            notes.append(f"{j.sample_missing_count:,} sampled ids missing")
        if j.stale_h is not None:
            notes.append(f"stale by {j.stale_h:,.1f} h")
        out.append([name, j.restored_below, j.live_below, j.missing if j.live_below is not None else None,
                    j.sampled, j.content_age_h, "; ".join(notes) or None])
    return out


def not_judged(found: Completeness) -> list[str]:
    """Collections (some of) whose documents were not judged, for the report's drill table."""
    return [f"{name}: {j.not_judged:,} restored / {j.not_judged_live:,} live documents (_id not an ObjectId)"
            for name, j in found.collections.items() if j.not_judged or j.not_judged_live]


def ledger_details(found: Completeness) -> dict[str, Any]:
    return {
        "completeness": {
            "state": found.state,
            "dump_start": found.dump_start.isoformat(),
            "dump_start_from": found.dump_start_from,
            "live": found.live,
            "error": found.error,
            "collections": {name: asdict(j) | {"missing": j.missing} for name, j in found.collections.items()},
        },
        "content_age_h": {name: j.content_age_h for name, j in found.collections.items()},
    }
