"""Read what ``mongodump`` (100.x) writes, to its specification, trusting nothing.

Two layouts (mongo-tools ``mongodump/prepare.go`` and ``common/archive/spec.md``):

- a directory ``<db>/``: ``<file>.bson`` and ``<file>.metadata.json`` per
  collection (``.gz`` with ``--gzip``). ``<file>`` is the collection name
  escaped as Go's ``url.PathEscape`` does; a name escaping to more than 238
  bytes is cut to 208 bytes plus ``%24`` and the URL-safe base64 SHA-1 of the
  real name, which only the metadata's ``collectionName`` then holds. A
  time-series collection's data is in ``system.buckets.<name>.bson``.
- an ``--archive``: magic number, header, one metadata document per namespace,
  a terminator, then interleaved segments (namespace header, documents,
  terminator); every namespace ends with an EOF header carrying the CRC-64
  (Go's ``crc64.ECMA`` table, i.e. CRC-64/XZ) of all its documents' bytes.

:class:`DumpReader` lists the collections first (:attr:`DumpReader.collections`),
then streams their documents in validated batches (:meth:`DumpReader.batches`),
counting every document it hands out. Every problem is a :class:`DumpError`
naming the file or namespace: bad BSON (checked by decoding each document), a
document over MongoDB's size limit (refused before it is read), metadata of the
wrong shape, two files for one collection, documents under a view, bytes after a
gzip stream, and for archives a missing EOF header, a CRC mismatch, a namespace
the prelude does not list or lists twice, a header or entry mongorestore could
not decode, or bytes after the end.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import struct
import zlib
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, unquote

import bson
from bson import json_util
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.errors import BSONError
from bson.raw_bson import RawBSONDocument
from fastcrc import crc64

ARCHIVE_MAGIC = (0x8199E26D).to_bytes(4, "little")
GZIP_MAGIC = b"\x1f\x8b"
TERMINATOR = b"\xff\xff\xff\xff"
# MongoDB's BSONObjMaxUserSize is 16 MiB; the server allows 16 KiB more internally. A length prefix beyond
# that is corruption, refused before reading a byte of the body.
MAX_DOCUMENT = 16 * 2**20 + 16 * 2**10
# A batch is one insert round trip, and each round trip hands the GIL between the reading and inserting threads:
# 5,000 small documents per batch restored faster than 1,000 (benchmarks/test_restore_speed.py; docs/restore.md),
# while the byte limit keeps memory at a few batches of 4 MiB whatever the documents' size.
BATCH_DOCS = 5000
BATCH_BYTES = 4 * 2**20
_RAW = CodecOptions(document_class=RawBSONDocument)
# Validation decodes every value; a valid date beyond Python's datetime range stays an integer (DatetimeMS) and
# passes, and the others become datetimes in C, cheaper than DatetimeMS objects in Python.
_CHECK = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_AUTO)
_LENGTH = struct.Struct("<i")
_VALIDATE_DOCS = 64
_DATA = (".bson.gz", ".bson")
_META = (".metadata.json.gz", ".metadata.json")
_NAME_LIMIT, _NAME_PREFIX = 238, 208  # mongodump's outputPath


class DumpError(Exception):
    """The dump cannot be read or restored; the message names the file or namespace."""

    code = "RST012"


class CorruptArchive(DumpError):
    """A mongodump --archive is truncated or corrupt (missing EOF header, CRC mismatch, trailing bytes)."""

    code = "RST010"


@dataclass
class Collection:
    """One namespace of the dumped database, as the dump describes it."""

    name: str  # the real collection name
    kind: str  # collection | view | timeseries | users | roles | system
    meta: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # where its data is, for messages: a file name or "<archive> namespace <db>.<name>"
    data_name: str = ""  # the namespace its documents are stored under (system.buckets.<name> for time-series)


@dataclass
class Batch:
    collection: Collection
    documents: list[RawBSONDocument]


def file_stem(name: str) -> str:
    """The file name mongodump gives collection ``name`` (without extension)."""
    escaped = quote(name, safe="$&+:=@")  # Go's url.PathEscape: '/', ';', ',' and '?' are escaped too
    if len(escaped.encode()) <= _NAME_LIMIT:
        return escaped
    digest = base64.urlsafe_b64encode(hashlib.sha1(name.encode()).digest()).rstrip(b"=").decode()
    return escaped.encode()[:_NAME_PREFIX].decode(errors="ignore") + "%24" + digest


def open_maybe_gzip(path: Path) -> IO[bytes]:
    """Open a dump file, un-gzipping when it is gzip'd (by content: files may be renamed)."""
    with path.open("rb") as probe:
        gz = probe.read(2) == GZIP_MAGIC
    fh = path.open("rb")
    return _Gunzip(fh) if gz else fh  # type: ignore[return-value]


class _Gunzip:
    """A gzip stream read as Go's ``gzip.Reader`` (mongorestore's) reads it: members back to back, nothing after.

    Python's gzip module skips zero bytes after a member (gzip FAQ 8) where Go fails with "invalid header",
    so a zero-padded ``.bson.gz`` or archive would restore here and not with mongorestore. zlib checks each
    member's CRC-32 and length; output is produced at most as much as asked for (plus one chunk), so a
    gzip bomb never fills memory.
    """

    CHUNK = 2**16

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._input = b""  # compressed bytes read but not yet given to zlib
        self._buf, self._pos = b"", 0
        self._end = False

    def read(self, size: int = -1) -> bytes:
        want = size if size >= 0 else 2**62
        if len(self._buf) - self._pos < want and not self._end:
            self._fill(want)
        out = self._buf[self._pos:self._pos + want]
        self._pos += len(out)
        return out

    def _fill(self, want: int) -> None:
        parts, have = [self._buf[self._pos:]], len(self._buf) - self._pos
        while have < want and not self._end:
            data = self._z.unconsumed_tail or self._input or self._raw.read(self.CHUNK)
            self._input = b""
            if not data:
                raise EOFError("Compressed file ended before the end-of-stream marker was reached")
            chunk = self._z.decompress(data, min(max(want - have, self.CHUNK), 2**30))
            parts.append(chunk)
            have += len(chunk)
            if self._z.eof:
                self._next_member()
        self._buf, self._pos = b"".join(parts), 0

    def _next_member(self) -> None:
        rest = self._z.unused_data
        while len(rest) < 2 and (more := self._raw.read(self.CHUNK)):
            rest += more
        if not rest:
            self._end = True
        elif rest[:2] == GZIP_MAGIC:  # another member: Go's reader is multistream by default, as Python's
            self._z, self._input = zlib.decompressobj(16 + zlib.MAX_WBITS), rest
        else:
            raise gzip.BadGzipFile(f"bytes after the end of the gzip stream (starting {rest[:8].hex()}); "
                                   "mongorestore would refuse the file")

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> _Gunzip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def is_archive(path: Path) -> bool | None:
    """None if ``path`` is not a mongodump archive, else whether it is gzip'd."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
        if head == ARCHIVE_MAGIC:
            return False
        if head[:2] == GZIP_MAGIC:
            with open_maybe_gzip(path) as fh:
                return True if fh.read(4) == ARCHIVE_MAGIC else None
    except (OSError, EOFError, zlib.error):
        pass
    return None


def parse_metadata(text: str, where: str) -> dict[str, Any]:
    """A metadata document (canonical Extended JSON v2), checked for the shape mongodump writes."""
    if not text.strip():
        return {}
    try:
        meta = json_util.loads(text)
    # A bad $oid or $date is a BSONError, nesting thousands deep a RecursionError: all the file's fault.
    except (ValueError, BSONError, TypeError, OverflowError, RecursionError) as exc:
        raise DumpError(f"{where}: metadata is not valid Extended JSON: {exc}") from None
    problem = _metadata_problem(meta)
    if problem:
        raise DumpError(f"{where}: not a mongodump metadata document: {problem}")
    try:
        # The options and indexes go to the server as BSON: a key with a NUL byte or an integer beyond 64 bits
        # would fail in the client, mid-restore. mongodump wrote them from BSON, so such metadata is corrupt.
        bson.encode(meta)
    except (BSONError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise DumpError(f"{where}: metadata that cannot be BSON: {exc}") from None
    return meta


def _metadata_problem(meta: Any) -> str | None:
    if not isinstance(meta, dict):
        return f"expected an object, found {type(meta).__name__}"
    for key, kind in (("options", dict), ("indexes", list), ("collectionName", str), ("type", str)):
        if key in meta and not isinstance(meta[key], kind):
            return f"{key!r} should be {'an object' if kind is dict else 'a list' if kind is list else 'a string'}"
    for index in meta.get("indexes") or []:
        if not isinstance(index, dict) or not isinstance(index.get("key"), dict) or not index["key"] \
                or not isinstance(index.get("name"), str):
            return f"index {index!r} lacks a 'key' object or a 'name'"
    return None


def classify(name: str, meta: dict[str, Any]) -> str:
    kind = meta.get("type")
    if kind == "timeseries" or "timeseries" in (meta.get("options") or {}):
        return "timeseries"
    if kind == "view" or "viewOn" in (meta.get("options") or {}):
        return "view"
    if name in ("system.users", "$admin.system.users"):
        return "users"
    if name in ("system.roles", "$admin.system.roles"):
        return "roles"
    if name.startswith(("system.", "$admin.")) and name != "system.js":
        return "system"
    return "collection"


def validated(run: bytes, where: str) -> list[RawBSONDocument]:
    """A run's documents as RawBSONDocument, after a full decode proved each is valid BSON.

    The run comes from :meth:`DocumentStream.run`, so its length prefixes are already checked. It is decoded
    ``_VALIDATE_DOCS`` documents at a time: decoding a whole batch keeps thousands of decoded documents alive
    at once, the cyclic GC promotes them to its oldest generation, and that triggers full collections, which
    scan the whole heap (in a big process such as a long pytest session, long enough to stall the inserts;
    benchmarks/test_restore_speed.py).
    """
    view = memoryview(run)
    start = end = count = 0
    try:
        while end < len(run):
            end += _LENGTH.unpack_from(run, end)[0]
            count += 1
            if count % _VALIDATE_DOCS == 0 or end >= len(run):
                bson.decode_all(view[start:end], _CHECK)  # in C; raises on a bad type byte, bad UTF-8, ...
                start = end
    except (BSONError, ValueError, OverflowError, TypeError) as exc:
        raise DumpError(f"{where}: invalid BSON document: {exc}") from None
    return bson.decode_all(run, _RAW)


class DocumentStream:
    """A stream of length-prefixed documents, cut into runs of whole documents in a few large reads.

    Reading document by document (two ``read`` calls each) was a fifth of the reader's CPU, which shares the
    GIL with the inserts (benchmarks/test_restore_speed.py); here a run's boundaries are found with one
    ``unpack_from`` per document in reads of ``BATCH_BYTES``. Every length is checked before its body is asked
    for, so a corrupt length never makes the stream buffer more than a read plus one document of MongoDB's
    maximum size, whatever the length claims.
    """

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self._buf, self._pos = b"", 0

    def read(self, size: int) -> bytes:
        """Like a file's read: fewer than ``size`` bytes only at the end of the data."""
        self._fill(size)
        out = self._buf[self._pos:self._pos + size]
        self._pos += len(out)
        return out

    def runs(self, where: str, error: type[DumpError], archive: bool) -> Iterator[bytes]:
        """Every run up to the end of the data or, in an ``archive``, up to a terminator (left unread)."""
        while run := self.run(where, error, archive):
            yield run

    def run(self, where: str, error: type[DumpError], archive: bool, limit: int = BATCH_DOCS) -> bytes:
        """The next whole documents (at most ``limit``, and BATCH_BYTES unless one document is larger);
        ``b""`` at the end of the data or, in an ``archive``, before a terminator."""
        used = count = 0
        buf, at = self._buf, self._pos
        while count < limit and used < BATCH_BYTES:
            if at + used + 4 > len(buf):
                if not self._fill(used + 4):
                    if len(self._buf) - self._pos == used:
                        break
                    raise _truncated(where, error)
                buf, at = self._buf, self._pos
            size = _LENGTH.unpack_from(buf, at + used)[0]
            if size == -1 and archive:  # a segment's terminator
                break
            if size < 5 or size > MAX_DOCUMENT:
                raise error(f"{where}: {size} is not a valid BSON document length "
                            f"(5 to {MAX_DOCUMENT} bytes); the data is corrupt")
            if at + used + size > len(buf):
                if not self._fill(used + size):
                    raise _truncated(where, error)
                buf, at = self._buf, self._pos
            if buf[at + used + size - 1] != 0:
                raise error(f"{where}: a BSON document does not end with a NUL byte; the data is corrupt")
            used += size
            count += 1
        out = self._buf[self._pos:self._pos + used]
        self._pos += used
        return out

    def document(self, where: str, error: type[DumpError]) -> bytes:
        """An archive's next header or prelude entry; ``b""`` at the end of the data or before a terminator."""
        return self.run(where, error, archive=True, limit=1)

    def _fill(self, size: int) -> bool:
        """Whether ``size`` bytes from the current position are (now) in the buffer."""
        have = len(self._buf) - self._pos
        if have >= size:
            return True
        parts = [self._buf[self._pos:]] if have else []
        while have < size and (chunk := self._fh.read(max(BATCH_BYTES, size - have))):
            parts.append(chunk)
            have += len(chunk)
        self._buf, self._pos = parts[0] if len(parts) == 1 else b"".join(parts), 0
        return have >= size

    def close(self) -> None:
        self._fh.close()


class DumpReader:
    """Reads one database's dump: a directory ``<db>/`` or an archive file."""

    def __init__(self, path: Path, database: str, archive: bool) -> None:
        self.path, self.database, self.archive = path, database, archive
        self.collections: dict[str, Collection] = {}  # by real name
        self.counts: dict[str, int] = {}  # documents read so far, by real name
        self.other_files: list[str] = []  # files in <db>/ that are no part of a dump
        self.notices: list[str] = []  # what the dump lacks that the restore goes on without, for the report
        self._archive_version: tuple[int, int] = (0, 0)
        self.databases: set[str] = set()  # the databases an archive's prelude lists
        if archive:
            self._fh = DocumentStream(_labelled_open(path, path.name, CorruptArchive))
            try:
                self._read_prelude()
            except BaseException:
                self._fh.close()
                raise
        else:
            self._scan_directory()

    # --- directory dumps ---------------------------------------------------------------------------------

    def _scan_directory(self) -> None:
        data: dict[str, Path] = {}
        for path in sorted(self.path.iterdir()):
            if path.name.endswith(_META):
                stem = path.name[: -len(next(s for s in _META if path.name.endswith(s)))]
                with _reading(path.name), open_maybe_gzip(path) as fh:
                    text = _read_bounded(fh, path.name)
                with _reading(path.name):
                    meta = parse_metadata(text.decode(), path.name)
                name = meta.get("collectionName") or unquote(stem)
                self._claim(name, path)
                self.collections[name] = Collection(name, classify(name, meta), meta, source=path.name)
            elif path.name.endswith(_DATA):
                stem = path.name[: -len(next(s for s in _DATA if path.name.endswith(s)))]
                if stem in data:  # x.bson beside x.bson.gz: restoring either would drop the other in silence
                    raise DumpError(f"{data[stem].name} and {path.name}: two data files for one collection; "
                                    "the dump is ambiguous")
                data[stem] = path
            else:
                self.other_files.append(path.name)
        self._files: dict[str, Path] = {}
        by_name = {unquote(stem): stem for stem in data}  # for writers that escape a few characters less
        for coll in self.collections.values():
            names = [f"system.buckets.{coll.name}", coll.name] if coll.kind == "timeseries" else [coll.name]
            for name in names:
                stem = file_stem(name) if file_stem(name) in data else by_name.get(name)
                if stem in data:
                    self._attach(coll, data.pop(stem), buckets=name != coll.name)
                    break
        for stem, path in data.items():  # data without metadata: mongodump --collection to a file, old dumps
            name = unquote(stem)
            if name.startswith("system.buckets.") or "%24" in stem and len(stem) > _NAME_PREFIX:
                raise DumpError(f"{path.name}: no metadata file names the collection this data belongs to")
            if name in self.collections:  # a,b.bson beside a%2Cb.bson, r.bson beside time-series r's buckets
                raise DumpError(f"{self.collections[name].source} and {path.name}: two data files for "
                                f"collection {name}; the dump is ambiguous")
            coll = Collection(name, classify(name, {}), source=path.name)
            self.collections[name] = coll
            self._attach(coll, path)
            self.notices.append(f"{path.name}: no metadata file: restored without its indexes and collection options")
        for coll in self.collections.values():
            coll.data_name = coll.data_name or coll.name

    def _claim(self, name: str, path: Path) -> None:
        """Refuse a second metadata file for one collection (x.metadata.json beside x.metadata.json.gz, or two
        files whose collectionName is the same): one would silently replace the other."""
        if name in self.collections:
            raise DumpError(f"{self.collections[name].source} and {path.name}: two metadata files for collection "
                            f"{name}; the dump is ambiguous")

    def _attach(self, coll: Collection, path: Path, buckets: bool = False) -> None:
        coll.source = path.name
        coll.data_name = f"system.buckets.{coll.name}" if buckets else coll.name
        self._files[coll.name] = path

    def _directory_batches(self) -> Iterator[Batch]:
        for name, path in self._files.items():
            coll = self.collections[name]
            self.counts[name] = 0
            with _reading(path.name), open_maybe_gzip(path) as fh:
                for run in DocumentStream(fh).runs(path.name, DumpError, archive=False):
                    yield self._batch(coll, run, path.name)

    def _batch(self, coll: Collection, run: bytes, where: str) -> Batch:
        if coll.kind == "view":  # the restore recreates a view from its metadata: these would vanish uncounted
            raise DumpError(f"{where}: documents for {coll.name}, which its metadata makes a view (a view holds "
                            "none); the dump is inconsistent")
        docs = validated(run, where)
        self.counts[coll.name] = self.counts.get(coll.name, 0) + len(docs)
        return Batch(coll, docs)

    # --- archives ------------------------------------------------------------------------------------------

    def _read_prelude(self) -> None:
        where = f"{self.path.name} (prelude)"
        with _reading(self.path.name, CorruptArchive):
            if self._fh.read(4) != ARCHIVE_MAGIC:
                raise DumpError(f"{self.path.name}: not a mongodump archive (bad magic number)")
            if not (raw := self._fh.document(where, CorruptArchive)):
                raise CorruptArchive(f"{where}: no archive header after the magic number; the archive is "
                                     "truncated or corrupt")
            header = _decode(raw, where)
            if problem := _fields_problem(header, _HEADER_FIELDS):
                raise CorruptArchive(f"{where}: the archive header {problem}; the archive is corrupt")
            self._archive_version = _version(header.get("server_version"))
            self._expected: dict[str, Collection | None] = {}  # data namespace -> ours, or None (other db)
            while raw := self._fh.document(where, CorruptArchive):
                entry = _decode(raw, where)
                db, name = entry.get("db"), entry.get("collection")
                # mongorestore decodes each entry into typed fields: a missing name or a field of another
                # type (a metadata document instead of its JSON text) is an archive it cannot read.
                problem = _fields_problem(entry, _ENTRY_FIELDS)
                if problem or not isinstance(db, str) or not isinstance(name, str) or not name:
                    raise CorruptArchive(f"{where}: a collection entry {problem or 'without a db and a collection'}: "
                                         f"{_shorten(entry)}; the archive is corrupt")
                label = f"{self.path.name} namespace {db}.{name}"
                meta = parse_metadata(entry.get("metadata", ""), label)
                kind = "timeseries" if entry.get("type") == "timeseries" else classify(name, meta)
                # Before 8.3 a time-series collection's data is stored, and archived, as system.buckets.<name>.
                data_name = f"system.buckets.{name}" if kind == "timeseries" and self._archive_version < (8, 3) else name
                coll = Collection(name, kind, meta, source=f"{self.path.name} namespace {db}.{data_name}",
                                  data_name=data_name)
                # Listed twice (or a time-series collection beside its own system.buckets entry), one entry's
                # documents would be counted under the other's name, or not at all.
                if f"{db}.{data_name}" in self._expected or db == self.database and name in self.collections:
                    raise CorruptArchive(f"{label}: listed twice in the archive's prelude (data namespace "
                                         f"{db}.{data_name}); the archive is corrupt")
                self.databases.add(db)
                if db == self.database:
                    self.collections[name] = coll
                self._expected[f"{db}.{data_name}"] = coll if db == self.database else None
            if self._fh.read(4) != TERMINATOR:
                raise _truncated(where, CorruptArchive)

    def _archive_batches(self) -> Iterator[Batch]:
        fh, name = self._fh, self.path.name
        crcs: dict[str, int] = {}
        closed: set[str] = set()
        by_data = {c.data_name: c for c in self.collections.values()}
        with _reading(name, CorruptArchive), closing(fh):
            while raw := fh.document(f"{name} (namespace header)", CorruptArchive):
                header = _decode(raw, name)
                # As mongorestore's demultiplexer: a header must name its namespace (a header without a
                # collection must never match a collection some entry happens to call "None").
                if not isinstance(header.get("db"), str) or not isinstance(header.get("collection"), str) \
                        or not header["collection"] or not isinstance(header.get("EOF", False), bool):
                    raise CorruptArchive(f"{name}: a namespace header without a string db and collection and a "
                                         f"boolean EOF: {_shorten(header)}; the archive is corrupt")
                ns = f"{header['db']}.{header['collection']}"
                if ns not in self._expected:
                    raise CorruptArchive(f"{name}: data for namespace {ns}, which the archive's prelude does not list")
                if ns in closed:
                    raise CorruptArchive(f"{name}: namespace {ns} continues after its EOF header")
                where = f"{name} namespace {ns}"
                coll = by_data.get(header.get("collection")) if header.get("db") == self.database else None
                if coll is not None:
                    self.counts.setdefault(coll.name, 0)
                if header.get("EOF") is True:
                    if fh.read(4) != TERMINATOR:
                        raise CorruptArchive(f"{where}: the EOF header is not followed by a terminator")
                    crc = crcs.get(ns, 0)
                    expected = header.get("CRC")
                    if not isinstance(expected, int) or isinstance(expected, bool) or expected % 2**64 != crc:
                        raise CorruptArchive(f"{where}: CRC mismatch: the EOF header says {expected}, the data "
                                             f"has {crc - 2**64 if crc >= 2**63 else crc}")
                    closed.add(ns)
                    continue
                crc = crcs.get(ns, 0)
                for run in fh.runs(where, CorruptArchive, archive=True):
                    crc = crc64.xz(run, crc)
                    if coll is not None:
                        yield self._batch(coll, run, where)
                if fh.read(4) != TERMINATOR:
                    raise _truncated(where, CorruptArchive)
                crcs[ns] = crc
            if fh.read(4):  # document() stops only at the end or before a terminator
                raise CorruptArchive(f"{name}: a terminator where a namespace header should be; "
                                     "the archive is corrupt")
            unfinished = sorted(set(self._expected) - closed)
            if unfinished:
                raise CorruptArchive(f"{name}: the archive ends before the EOF header of namespace "
                                     f"{', '.join(unfinished[:5])}{' ...' if len(unfinished) > 5 else ''}; "
                                     "it is truncated")

    # --- both -----------------------------------------------------------------------------------------------

    def batches(self) -> Iterator[Batch]:
        """Every document of the dumped database, validated, in batches; counts them in :attr:`counts`."""
        return self._archive_batches() if self.archive else self._directory_batches()

    def close(self) -> None:
        if self.archive:
            self._fh.close()


@contextmanager
def open_dump(path: Path, database: str, archive: bool) -> Iterator[DumpReader]:
    reader = DumpReader(path, database, archive)
    try:
        yield reader
    finally:
        reader.close()


def archive_databases(path: Path) -> set[str] | None:
    """The databases an archive's prelude lists; None if the prelude cannot be read (the restore will say why)."""
    try:
        with open_dump(path, "", archive=True) as reader:
            return reader.databases
    except DumpError:
        return None


def inventory(path: Path, database: str, archive: bool) -> DumpReader:
    """Read the whole dump without restoring it: its collections and the documents each holds."""
    with open_dump(path, database, archive) as reader:
        for _ in reader.batches():
            pass
    return reader


def _read_bounded(fh: IO[bytes], where: str) -> bytes:
    """A whole metadata file, at most MAX_DOCUMENT bytes (an archive carries it inside one BSON document)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := fh.read(2**16):  # small reads: read(n) would allocate n bytes up front
        size += len(chunk)
        if size > MAX_DOCUMENT:
            raise DumpError(f"{where}: larger than {MAX_DOCUMENT} bytes; not a mongodump metadata file")
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(raw: bytes, where: str) -> dict[str, Any]:
    try:
        return bson.decode(raw)
    except (BSONError, ValueError, OverflowError, TypeError) as exc:
        raise DumpError(f"{where}: invalid BSON document: {exc}") from None


# Field types of the archive header and of the prelude's entries (common/archive/spec.md), when present.
_HEADER_FIELDS: dict[str, type] = {"concurrent_collections": int, "version": str, "server_version": str,
                                   "tool_version": str}
_ENTRY_FIELDS: dict[str, type] = {"db": str, "collection": str, "metadata": str, "size": int, "type": str}


def _fields_problem(doc: dict[str, Any], fields: dict[str, type]) -> str | None:
    for key, kind in fields.items():
        if key in doc and (not isinstance(doc[key], kind) or isinstance(doc[key], bool)):
            return f"whose {key!r} is not {'a string' if kind is str else 'an integer'} (found {type(doc[key]).__name__})"
    return None


def _shorten(doc: dict[str, Any]) -> str:
    text = repr(doc)
    return text if len(text) <= 200 else text[:200] + "..."


def _version(text: Any) -> tuple[int, int]:
    try:
        major, minor = str(text).split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return (0, 0)


def _truncated(where: str, error: type[DumpError]) -> DumpError:
    return error(f"{where}: the data ends in the middle of a document; it is truncated")


def _labelled_open(path: Path, label: str, error: type[DumpError]) -> IO[bytes]:
    with _reading(label, error):
        return open_maybe_gzip(path)


@contextmanager
def _reading(label: str, error: type[DumpError] = DumpError) -> Iterator[None]:
    """Turn a read error (I/O, gzip) into a DumpError naming the file."""
    try:
        yield
    except DumpError:
        raise
    except (EOFError, OSError, zlib.error, UnicodeDecodeError) as exc:
        # gzip.BadGzipFile is an OSError; a cut .gz ends in EOFError.
        raise error(f"{label}: unreadable dump data: {exc or type(exc).__name__}") from None
