"""Restore a mongodump into MongoDB: the ``mongorestore`` binary when there is one, else a built-in restorer.

The built-in restorer reads the dump with :mod:`opschecks.areas.restore.dumpformat` (directory
dumps and ``--archive`` files, gzip'd or not, to mongo-tools' specification)
and accounts for every namespace: :attr:`Restored.in_dump` holds how many
documents the dump has for each collection, :attr:`Restored.documents` how many
the server acknowledged, and whatever it does not restore is listed in
:attr:`Restored.not_restored` (users and roles unless asked, ``system.*``
namespaces) or :attr:`Restored.unrestorable` (the target refused, e.g. a
time-series collection) with the reason, never dropped in silence.

Documents stream through as raw BSON, validated by the reader: a reader thread
reads and decodes the next batches while the server inserts the previous ones
(pymongo releases the GIL while it waits), so memory stays bounded by a few
batches whatever the dump size. The reader's own CPU is kept small (large reads,
validation in short slices: see :func:`dumpformat.validated`) because it shares
the GIL with the inserts. (Parallel insertion connections, measured with
benchmarks/test_restore_speed.py, only contended on SecantusDB.)
Indexes listed in the metadata are created after the data, one at a time; an
index the server cannot build (text, hashed, ... on some servers) is a warning,
but a unique index the dumped data violates is an error.
"""

from __future__ import annotations

import datetime as dt
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import bson
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo.database import Database
from pymongo.errors import BulkWriteError, InvalidName, OperationFailure

from opschecks.areas.restore import dumpformat
from opschecks.areas.restore.dumpformat import Batch, Collection, CorruptArchive, DumpError, DumpReader
from opschecks.errors import Unreachable

__all__ = ["CorruptArchive", "Dump", "DumpError", "Restored", "command", "check_exit", "inventory", "locate",
           "restore", "run_binary", "ToolCannotRun"]

READ_AHEAD = 4  # batches decoded ahead of the inserts
_RAW = CodecOptions(document_class=RawBSONDocument)
_DUPLICATE_KEY = 11000


class ToolCannotRun(Unreachable):
    """mongorestore was not found, not executable or killed: an infrastructure failure, never the backup's."""


@dataclass(frozen=True)
class Dump:
    """A mongodump found in an extracted backup."""

    path: Path  # the --out directory (holding <database>/) or the --archive file
    database: str
    archive: bool
    gzip: bool
    restore_users: bool = False  # also restore system.users and system.roles (the built-in restorer)


@dataclass
class Restored:
    """What a restore did; ``in_dump`` is None when the binary restored (the drill then counts the dump itself)."""

    in_dump: dict[str, int] | None = None  # documents in the dump, per collection (real name)
    documents: dict[str, int] = field(default_factory=dict)  # inserted and acknowledged, per collection
    data_names: dict[str, str] = field(default_factory=dict)  # where each collection's documents live
    warnings: list[str] = field(default_factory=list)  # indexes/options the server refused
    notices: list[str] = field(default_factory=list)  # what the dump lacks that the restore went on without
    not_restored: dict[str, str] = field(default_factory=dict)  # collection -> why not (by design)
    unrestorable: dict[str, str] = field(default_factory=dict)  # collection -> why the target could not
    users: int = 0  # documents of system.users in the dump
    roles: int = 0  # documents of system.roles in the dump
    seconds: dict[str, float] = field(default_factory=dict)  # the built-in restorer's phases: documents, indexes
    restorer: str = "built-in restorer"  # which restorer ran, for the report and the ledger


def locate(root: Path, database: str) -> Dump:
    """The dump of ``database`` under ``root``: a ``<database>/`` directory of dump files, or an archive file.

    backup.sh writes ``data/db/dump/<stamp>/<database>/``; a backup holding more than one candidate is an
    error naming them all, since restoring the alphabetically first could drill the wrong data.
    """
    candidates: list[Dump] = []
    elsewhere: list[str] = []  # archives of other databases only
    for path in sorted(root.rglob("*")):
        if path.is_dir() and path.name == database and any(_dump_file(f.name) for f in path.iterdir()):
            gz = any(f.name.endswith(".gz") for f in path.iterdir())
            candidates.append(Dump(path.parent, database, archive=False, gzip=gz))
        elif path.is_file() and not _dump_file(path.name) and (gz := dumpformat.is_archive(path)) is not None:
            # An archive whose prelude lists other databases only is no dump of this one (restoring it would
            # find nothing to count); one whose prelude cannot be read stays a candidate, to be reported.
            listed = dumpformat.archive_databases(path)
            if listed and database not in listed:
                elsewhere.append(f"{path.relative_to(root)} is an archive of {', '.join(map(repr, sorted(listed)))} only")
                continue
            candidates.append(Dump(path, database, archive=True, gzip=gz))
    if not candidates:
        raise DumpError(f"no mongodump of database {database!r} in the backup (expected "
                        f"data/db/dump/<stamp>/{database}/<collection>.bson or a mongodump --archive file)"
                        + "".join(f"; {e}" for e in elsewhere))
    if len(candidates) > 1:
        found = ", ".join(str(_shown(c).relative_to(root)) for c in candidates)
        raise DumpError(f"the backup holds {len(candidates)} dumps of database {database!r}: {found}; "
                        "expected exactly one")
    return candidates[0]


def oplog_notice(dump: Dump) -> str | None:
    """A warning when the dump's ``oplog.bson`` (mongodump ``--oplog``, beside the database directories) is not
    whole documents: the drill restores one database without it, but a point-in-time restore would fail."""
    path = dump.path / "oplog.bson"
    if dump.archive or not path.is_file():
        return None
    try:
        with path.open("rb") as fh:
            for _ in dumpformat.DocumentStream(fh).runs("oplog.bson", DumpError, archive=False):
                pass
    except DumpError as exc:
        return (f"{exc}: a point-in-time restore (mongorestore --oplogReplay) of this backup would fail; the drill "
                f"restores {dump.database} without it")
    return None


def oplog_start(dump: Dump) -> dt.datetime | None:
    """The ``ts`` of the first entry of the dump's ``oplog.bson``, or None when it has none that says.

    mongodump ``--oplog`` notes the newest oplog entry before it reads a collection and dumps the oplog from that
    entry on, so its first entry is the source's last write before the dump began (a primary writes a no-op every
    10 s): the point in time the dump's data is from. Only the first document is read.
    """
    path = dump.path / "oplog.bson"
    if dump.archive or not path.is_file():
        return None  # an archive's oplog is a namespace inside it: not read here
    with path.open("rb") as fh:
        head = fh.read(4)
        size = int.from_bytes(head, "little") if len(head) == 4 else 0
        if not 5 <= size <= dumpformat.MAX_DOCUMENT:
            return None
        raw = head + fh.read(size - 4)
    try:
        ts = bson.decode(raw).get("ts")
    except (bson.InvalidBSON, ValueError):
        return None  # oplog_notice says why the file is broken
    return ts.as_datetime() if isinstance(ts, bson.Timestamp) and ts.time > 0 else None


def _shown(dump: Dump) -> Path:
    return dump.path if dump.archive else dump.path / dump.database


def _dump_file(name: str) -> bool:
    return name.endswith((".bson", ".bson.gz", ".metadata.json", ".metadata.json.gz"))


def command(dump: Dump, path: str, to_db: str, connection: list[str]) -> list[str]:
    """The ``mongorestore`` command line restoring ``dump`` (at ``path`` where the binary runs) into ``to_db``."""
    args = [*connection, f"--nsInclude={dump.database}.*"]
    if to_db != dump.database:
        args += [f"--nsFrom={dump.database}.*", f"--nsTo={to_db}.*"]
    if dump.gzip:
        args.append("--gzip")
    args.append(f"--archive={path}" if dump.archive else f"--dir={path}")
    return args


def run_binary(args: list[str], where: str) -> None:
    """Run a ``mongorestore`` command on this host; see ``check_exit``."""
    try:
        proc = subprocess.run(args, capture_output=True, text=True, check=False)
    except OSError as exc:  # vanished or not executable since it was found on PATH
        raise ToolCannotRun(f"mongorestore could not run {where}: {exc}") from None
    check_exit(proc.returncode, proc.stdout + proc.stderr, where)


def check_exit(code: int, output: str, where: str) -> None:
    """Judge mongorestore's exit status: a tool that never got to read the dump is not the backup's fault.

    126 (not executable), 127 (not found) and death by a signal (negative from
    subprocess, 128+N from a shell or a container exec) are ToolCannotRun: an
    infrastructure failure. Any other non-zero exit is the tool refusing the
    dump: a DumpError (RST012) with its last lines.
    """
    if code == 0:
        return
    tail = " | ".join(line for line in output.strip().splitlines()[-3:])
    if code in (126, 127) or code < 0 or code > 128:
        raise ToolCannotRun(f"mongorestore could not run {where} (exit {code}): {tail or 'no output'}; "
                            "nothing was learnt about the backup")
    raise DumpError(f"mongorestore exited with {code}: {tail}")


def inventory(dump: Dump) -> Restored:
    """Read the whole dump without restoring it (for the binary's restores): what it holds, per collection."""
    reader = dumpformat.inventory(_db_path(dump), dump.database, dump.archive)
    result = Restored(in_dump={})
    _account(reader, result)
    for coll in reader.collections.values():
        if coll.kind in ("users", "roles", "system"):
            result.not_restored[coll.name] = "left to mongorestore; not counted"
    return result


def restore(db: Database, dump: Dump) -> Restored:
    """Restore ``dump`` into ``db`` with the built-in restorer; DumpError names what could not be restored."""
    result = Restored(in_dump={})
    started = time.monotonic()
    with dumpformat.open_dump(_db_path(dump), dump.database, dump.archive) as reader:
        targets = _prepare(db, reader, dump.restore_users, result)
        inserter = _Inserter(db)
        with _read_ahead(reader.batches()) as batches:
            for batch in batches:
                target = targets.get(batch.collection.name)
                if target is not None:
                    inserter.insert(target, batch)
        result.documents = inserter.totals
        result.unrestorable |= inserter.refused
        _account(reader, result)
    indexing = time.monotonic()
    for coll in reader.collections.values():
        if coll.name in targets:
            _create_indexes(db, coll, targets[coll.name], result)
    for coll in reader.collections.values():
        if coll.kind == "view":
            _create(db, coll, result)
    result.seconds = {"documents": indexing - started, "indexes": time.monotonic() - indexing}
    return result


def _db_path(dump: Dump) -> Path:
    return dump.path if dump.archive else dump.path / dump.database


def _account(reader: DumpReader, result: Restored) -> None:
    """Fill what the dump holds and what was left out, from what the reader read."""
    assert result.in_dump is not None
    for coll in reader.collections.values():
        held = reader.counts.get(coll.name, 0)
        if coll.kind == "view":
            continue  # a view holds no documents: it is recreated from its metadata
        result.in_dump[coll.name] = held
        result.data_names[coll.name] = f"system.{coll.kind}" if coll.kind in ("users", "roles") else coll.data_name
        if coll.kind == "users":
            result.users += held
        elif coll.kind == "roles":
            result.roles += held
    for name in reader.other_files:
        result.not_restored[name] = "not a mongodump file"
    result.notices = list(reader.notices)


def _prepare(db: Database, reader: DumpReader, restore_users: bool, result: Restored) -> dict[str, str]:
    """Create the collections to restore; returns collection name -> namespace to insert its documents into."""
    targets: dict[str, str] = {}
    for coll in reader.collections.values():
        if coll.kind in ("users", "roles") and not restore_users:
            result.not_restored[coll.name] = "users and roles are not restored ([restore] restore_users = false)"
        elif coll.kind == "system":
            result.not_restored[coll.name] = "a system collection the server maintains itself; counted, not restored"
        elif coll.kind == "timeseries":
            try:
                db.command({"create": coll.name, **(coll.meta.get("options") or {})})
            except OperationFailure as exc:
                result.unrestorable[coll.name] = f"the server cannot create time-series collections: {_errmsg(exc)}"
            else:
                _target(db, coll, coll.data_name, targets, result)
        elif coll.kind in ("users", "roles"):
            namespace = f"system.{coll.kind}"  # also for a --db dump's $admin.system.users file
            try:
                db.command({"create": namespace})
            except OperationFailure as exc:
                # Real servers keep users and roles in admin only: a drill into a fresh database cannot hold them.
                result.unrestorable[coll.name] = f"the target refused {namespace}: {_errmsg(exc)}"
            else:
                targets[coll.name] = namespace
        elif coll.kind != "view":
            _create(db, coll, result)
            _target(db, coll, coll.name, targets, result)
    return targets


def _target(db: Database, coll: Collection, namespace: str, targets: dict[str, str], result: Restored) -> None:
    """Insert ``coll``'s documents into ``namespace``, which the server has just created, if pymongo can address it.

    The server takes names like 'a.' or 'a..b' (mongodump dumps them, mongorestore restores them), but pymongo
    refuses them client-side: this restorer cannot restore them, which is no fault of the dump (RST014).
    """
    try:
        db.get_collection(namespace)
    except InvalidName as exc:
        result.unrestorable[coll.name] = f"the built-in restorer cannot address {namespace!r} (pymongo: {exc}); " \
                                         "mongorestore can"
    else:
        targets[coll.name] = namespace


def _create(db: Database, coll: Collection, result: Restored) -> None:
    """Create the collection (or view) with its dumped options, so empty collections exist too."""
    options = coll.meta.get("options") or {}
    try:
        db.command({"create": coll.name, **options})
    except OperationFailure as exc:
        if not options or coll.kind == "view":
            raise DumpError(f"{coll.source}: the server refused to create {coll.kind} {coll.name}: "
                            f"{_errmsg(exc)}") from None
        result.warnings.append(f"{coll.name}: server refused collection options {sorted(options)}: {_errmsg(exc)}")
        try:
            db.command({"create": coll.name})
        except OperationFailure as again:
            raise DumpError(f"{coll.source}: the server refused to create collection {coll.name}: "
                            f"{_errmsg(again)}") from None


def _create_indexes(db: Database, coll: Collection, namespace: str, result: Restored) -> None:
    for spec in coll.meta.get("indexes") or []:
        if spec.get("name") == "_id_":
            continue
        index = {k: v for k, v in spec.items() if k not in ("v", "ns")}
        try:
            db.command({"createIndexes": namespace, "indexes": [index]})
        except OperationFailure as exc:
            if exc.code == _DUPLICATE_KEY:
                raise DumpError(f"{coll.source}: the dumped documents violate unique index {spec.get('name')} "
                                f"of {coll.name}: {_errmsg(exc)}") from None
            result.warnings.append(f"{coll.name}: index {spec.get('name')} {dict(spec.get('key', {}))} "
                                   f"refused by the server: {_errmsg(exc)}")


@contextmanager
def _read_ahead(batches: Iterator[Batch]) -> Iterator[Iterator[Batch]]:
    """Read and validate batches in a thread, ``READ_AHEAD`` ahead of the consumer.

    The thread stops (and closes the dump's files) when the consumer leaves, on
    success, error or Ctrl-C; a read error is raised in the consumer.
    """
    pipe: queue.Queue[Batch | BaseException | None] = queue.Queue(maxsize=READ_AHEAD)
    stop = threading.Event()

    def put(item: Batch | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                pipe.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not put(batch):
                    return
            put(None)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(exc)
        finally:
            batches.close()  # type: ignore[attr-defined]

    def consume() -> Iterator[Batch]:
        while (item := pipe.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    reader = threading.Thread(target=produce, name="dump-reader", daemon=True)
    reader.start()
    try:
        yield consume()
    finally:
        stop.set()
        reader.join()


class _Inserter:
    """Inserts batches, counting what the server acknowledged per collection."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.totals: dict[str, int] = {}
        self.refused: dict[str, str] = {}  # users/roles the target would not take: unrestorable, not a broken dump

    def insert(self, namespace: str, batch: Batch) -> None:
        name = batch.collection.name
        self.totals[name] = self.totals.get(name, 0) + self._insert(namespace, batch)

    def _insert(self, namespace: str, batch: Batch) -> int:
        collection = self.db.get_collection(namespace, codec_options=_RAW)
        if batch.collection.kind in ("users", "roles"):
            try:
                collection.insert_many(batch.documents, ordered=False)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors") or [{}]
                if all(e.get("code") == _DUPLICATE_KEY for e in errors):  # the dump's fault, as for any collection
                    raise _refused(batch, errors, exc) from None
                self.refused[batch.collection.name] = f"the target refused {namespace}: " \
                                                      f"{errors[0].get('errmsg', exc)}"
                return 0
            except OperationFailure as exc:  # only a server's own admin database may hold them
                self.refused[batch.collection.name] = f"the target refused {namespace}: {_errmsg(exc)}"
                return 0
            return len(batch.documents)
        try:
            # Unordered, as mongorestore inserts: the server may apply a batch in any order.
            collection.insert_many(batch.documents, ordered=False)
        except BulkWriteError as exc:
            raise _refused(batch, exc.details.get("writeErrors") or [{}], exc) from None
        except OperationFailure as exc:
            raise DumpError(f"{batch.collection.source}: the server refused documents of {batch.collection.name}: "
                            f"{_errmsg(exc)}") from None
        return len(batch.documents)


def _refused(batch: Batch, errors: list[dict], exc: BulkWriteError) -> DumpError:
    return DumpError(f"{batch.collection.source}: the server refused {len(errors)} of {len(batch.documents)} "
                     f"documents of {batch.collection.name}: {errors[0].get('errmsg', exc)}")


def _errmsg(exc: OperationFailure) -> str:
    return (exc.details or {}).get("errmsg") or str(exc)
