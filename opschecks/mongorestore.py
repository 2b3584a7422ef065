"""Restore a mongodump into MongoDB: the ``mongorestore`` binary when there is one, else a built-in restorer.

The built-in restorer reads what ``mongodump`` (100.x) writes:

- directory dumps, ``<db>/<collection>.bson`` and ``<collection>.metadata.json``,
  gzip'd (``--gzip``: ``.bson.gz``, ``.metadata.json.gz``) or not, with
  collection names percent-escaped as mongodump's ``url.PathEscape`` does;
- ``--archive`` files, gzip'd or not, in the format of mongo-tools'
  ``common/archive/spec.md`` (magic number, header, collection metadata,
  terminator, then interleaved namespace segments).

Documents stream through in batches as raw BSON (never decoded, never a whole
collection in memory). Indexes listed in the metadata are created after the
data, one at a time, so an index type the server refuses (text, hashed, ... on
some servers) is reported as a warning instead of failing the restore.
"""

from __future__ import annotations

import gzip
import subprocess
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

import bson
from bson import json_util
from bson.codec_options import CodecOptions
from bson.errors import InvalidBSON
from bson.raw_bson import RawBSONDocument
from pymongo.database import Database
from pymongo.errors import OperationFailure

ARCHIVE_MAGIC = (0x8199E26D).to_bytes(4, "little")
GZIP_MAGIC = b"\x1f\x8b"
TERMINATOR = b"\xff\xff\xff\xff"
BATCH_DOCS = 1000
BATCH_BYTES = 8 * 2**20  # well under the 48 MB a single insert message may carry
_RAW = CodecOptions(document_class=RawBSONDocument)
_SUFFIXES = ((".bson.gz", "data"), (".bson", "data"), (".metadata.json.gz", "meta"), (".metadata.json", "meta"))


class DumpError(Exception):
    """The dump inside the backup cannot be read or restored; the message names the file."""

    code = "RST012"


@dataclass(frozen=True)
class Dump:
    """A mongodump found in an extracted backup."""

    path: Path  # the --out directory (holding <database>/) or the --archive file
    database: str
    archive: bool
    gzip: bool


@dataclass
class Restored:
    documents: dict[str, int] = field(default_factory=dict)  # inserted per collection
    warnings: list[str] = field(default_factory=list)  # indexes/options the server refused


def locate(root: Path, database: str) -> Dump:
    """The dump of ``database`` under ``root``: a ``<database>/`` directory of .bson files, or an archive file."""
    for candidate in sorted(root.rglob(database)):
        if candidate.is_dir() and any(_split(f.name) for f in candidate.iterdir()):
            gz = any(f.name.endswith(".gz") for f in candidate.iterdir())
            return Dump(candidate.parent, database, archive=False, gzip=gz)
    for candidate in sorted(p for p in root.rglob("*") if p.is_file()):
        with candidate.open("rb") as fh:
            head = fh.read(4)
        if head == ARCHIVE_MAGIC:
            return Dump(candidate, database, archive=True, gzip=False)
        if head[:2] == GZIP_MAGIC:
            try:
                with gzip.open(candidate, "rb") as fh:
                    if fh.read(4) == ARCHIVE_MAGIC:
                        return Dump(candidate, database, archive=True, gzip=True)
            except (OSError, EOFError, zlib.error):
                continue
    raise DumpError(f"no mongodump of database {database!r} in the backup "
                    f"(expected {database}/<collection>.bson or a mongodump --archive file)")


def command(dump: Dump, path: str, to_db: str, connection: list[str]) -> list[str]:
    """The ``mongorestore`` command line restoring ``dump`` (at ``path`` where the binary runs) into ``to_db``."""
    args = [*connection, f"--nsInclude={dump.database}.*"]
    if to_db != dump.database:
        args += [f"--nsFrom={dump.database}.*", f"--nsTo={to_db}.*"]
    if dump.gzip:
        args.append("--gzip")
    args.append(f"--archive={path}" if dump.archive else f"--dir={path}")
    return args


def run_binary(args: list[str]) -> None:
    """Run a ``mongorestore`` command; a non-zero exit is a DumpError with the tool's last lines."""
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    check_exit(proc.returncode, proc.stdout + proc.stderr)


def check_exit(code: int, output: str) -> None:
    if code != 0:
        tail = " | ".join(line for line in output.strip().splitlines()[-3:])
        raise DumpError(f"mongorestore exited with {code}: {tail}")


def restore(db: Database, dump: Dump) -> Restored:
    """Restore ``dump`` into ``db`` with the built-in restorer."""
    if dump.archive:
        return _restore_archive(db, dump)
    return _restore_directory(db, dump.path / dump.database)


def _split(filename: str) -> tuple[str, str] | None:
    """(collection, "data"|"meta") for a dump file name, or None for anything else."""
    for suffix, kind in _SUFFIXES:
        if filename.endswith(suffix):
            return unquote(filename[: -len(suffix)]), kind
    return None


def _restore_directory(db: Database, db_dir: Path) -> Restored:
    files: dict[str, dict[str, Path]] = {}
    for path in sorted(db_dir.iterdir()):
        split = _split(path.name)
        if split and not split[0].startswith("system."):
            files.setdefault(split[0], {})[split[1]] = path
    result = Restored()
    for name, found in files.items():
        meta = _load_metadata(found["meta"]) if "meta" in found else {}
        _create(db, name, meta, result)
        if "data" in found:
            with _labelled(found["data"]), _open(found["data"]) as fh:
                inserter = _Inserter(db, name)
                for doc in bson.decode_file_iter(fh, _RAW):
                    inserter.add(doc)
                result.documents[name] = inserter.flush()
        _create_indexes(db, name, meta, result)
    return result


def _restore_archive(db: Database, dump: Dump) -> Restored:
    result = Restored()
    with _labelled(dump.path), _open(dump.path) as fh:
        if fh.read(4) != ARCHIVE_MAGIC:
            raise DumpError(f"{dump.path.name}: not a mongodump archive (bad magic number)")
        _read_document(fh)  # the header: format and tool versions
        metas: dict[str, dict[str, Any]] = {}
        while (entry := _read_document(fh)) is not None:
            if entry["db"] == dump.database and not entry["collection"].startswith("system."):
                metas[entry["collection"]] = _parse_metadata(entry.get("metadata") or "{}")
        for name, meta in metas.items():
            _create(db, name, meta, result)
        inserters: dict[str, _Inserter] = {}
        while (header := _read_document(fh, eof_ok=True)) is not None:
            ours = header["db"] == dump.database and not header["collection"].startswith("system.")
            if header.get("EOF"):
                if _read_document(fh) is not None:
                    raise DumpError(f"{dump.path.name}: namespace EOF of {header['collection']} not followed by a terminator")
                continue
            inserter = inserters.setdefault(header["collection"], _Inserter(db, header["collection"])) if ours else None
            while (doc := _read_document(fh, raw=True)) is not None:
                if inserter is not None:
                    inserter.add(doc)
        for name, inserter in inserters.items():
            result.documents[name] = inserter.flush()
    for name, meta in metas.items():
        _create_indexes(db, name, meta, result)
    return result


class _Inserter:
    """Inserts raw documents into one collection in bounded batches."""

    def __init__(self, db: Database, name: str) -> None:
        self.collection = db.get_collection(name, codec_options=_RAW)
        self.batch: list[RawBSONDocument] = []
        self.bytes = 0
        self.total = 0

    def add(self, doc: RawBSONDocument) -> None:
        self.batch.append(doc)
        self.bytes += len(doc.raw)
        if len(self.batch) >= BATCH_DOCS or self.bytes >= BATCH_BYTES:
            self._insert()

    def flush(self) -> int:
        if self.batch:
            self._insert()
        return self.total

    def _insert(self) -> None:
        # Unordered, as mongorestore inserts: the server may apply a batch in any order.
        self.collection.insert_many(self.batch, ordered=False)
        self.total += len(self.batch)
        self.batch, self.bytes = [], 0


def _read_document(fh: IO[bytes], raw: bool = False, eof_ok: bool = False) -> Any:
    """The next BSON document, None at a terminator (or, with ``eof_ok``, at the end of the file)."""
    head = fh.read(4)
    if head == TERMINATOR or (eof_ok and head == b""):
        return None
    if len(head) < 4:
        raise EOFError("archive ends in the middle of a document")
    size = int.from_bytes(head, "little", signed=True)
    if size < 5:
        raise InvalidBSON(f"document size {size} is invalid")
    body = fh.read(size - 4)
    if len(body) < size - 4:
        raise EOFError("archive ends in the middle of a document")
    data = head + body
    return RawBSONDocument(data) if raw else bson.decode(data)


def _create(db: Database, name: str, meta: dict[str, Any], result: Restored) -> None:
    """Create the collection (or view) with its dumped options, so empty collections exist too."""
    options = meta.get("options") or {}
    try:
        db.command({"create": name, **options})
    except OperationFailure as exc:
        if not options:
            raise
        result.warnings.append(f"{name}: server refused collection options {sorted(options)}: {_errmsg(exc)}")
        db.command({"create": name})


def _create_indexes(db: Database, name: str, meta: dict[str, Any], result: Restored) -> None:
    for spec in meta.get("indexes") or []:
        if spec.get("name") == "_id_":
            continue
        index = {k: v for k, v in spec.items() if k not in ("v", "ns")}
        try:
            db.command({"createIndexes": name, "indexes": [index]})
        except OperationFailure as exc:
            result.warnings.append(f"{name}: index {spec.get('name')} {dict(spec.get('key', {}))} refused by the server: {_errmsg(exc)}")


def _parse_metadata(text: str) -> dict[str, Any]:
    # Canonical Extended JSON v2 ({"$numberInt": "1"}, ...); key order matters for index keys.
    return json_util.loads(text) if text.strip() else {}


def _load_metadata(path: Path) -> dict[str, Any]:
    with _labelled(path), _open(path) as fh:
        return _parse_metadata(fh.read().decode())


def _open(path: Path) -> IO[bytes]:
    """Open a dump file, transparently un-gzipping; gzip is detected by content, as files may be renamed."""
    with path.open("rb") as probe:
        gz = probe.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if gz else path.open("rb")


@contextmanager
def _labelled(path: Path) -> Iterator[None]:
    """Turn a read error in a dump file into a DumpError naming the file."""
    try:
        yield
    except (InvalidBSON, EOFError, OSError, zlib.error, ValueError) as exc:
        # ValueError covers malformed metadata JSON (json.JSONDecodeError).
        raise DumpError(f"{path.name}: unreadable dump data: {exc or type(exc).__name__}") from None


def _errmsg(exc: OperationFailure) -> str:
    return (exc.details or {}).get("errmsg") or str(exc)
