"""Small mongodump outputs written straight from mongo-tools' documented formats, for the restorer's tests.

Independent of the restorer and of the sandbox's writer: file names as
``mongodump/prepare.go`` ``outputPath`` makes them (Go ``url.PathEscape``, and
for long names 208 bytes + ``%24`` + base64url(SHA-1)), metadata as canonical
Extended JSON, and archives per ``common/archive/spec.md`` with a bit-by-bit
CRC-64 (Go ``hash/crc64``, ECMA table) in each namespace's EOF header.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import bson
from bson import Int64, json_util
from bson.json_util import CANONICAL_JSON_OPTIONS

MAGIC = bytes([0x6D, 0xE2, 0x99, 0x81])  # 0x8199e26d little-endian
TERMINATOR = b"\xff\xff\xff\xff"
_UNRESERVED = set(string.ascii_letters + string.digits + "-_.~" + "$&+:=@")  # PathEscape keeps these


def path_escape(name: str) -> str:
    return "".join(chr(b) if chr(b) in _UNRESERVED else f"%{b:02X}" for b in name.encode())


def file_stem(name: str) -> str:
    escaped = path_escape(name)
    if len(escaped) > 238:
        digest = base64.urlsafe_b64encode(hashlib.sha1(name.encode()).digest()).decode().rstrip("=")
        escaped = escaped[:208] + "%24" + digest
    return escaped


def crc64_go_ecma(data: bytes, crc: int = 0) -> int:
    """Go's crc64.Update(crc, MakeTable(ECMA), data), bit by bit."""
    crc ^= 2**64 - 1
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xC96C5795D7870F42 if crc & 1 else crc >> 1
    return crc ^ (2**64 - 1)


@dataclass
class Coll:
    """A collection to dump: its name, documents (dicts or raw bytes), metadata extras."""

    name: str
    docs: list[Any] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    indexes: list[dict[str, Any]] = field(default_factory=list)
    type: str = "collection"  # collection | view | timeseries

    def raw(self) -> list[bytes]:
        return [d if isinstance(d, bytes) else bson.encode(d) for d in self.docs]

    def metadata(self, db: str) -> str:
        meta = {"indexes": [{"v": 2, "key": {"_id": 1}, "name": "_id_"}, *self.indexes],
                "uuid": hashlib.md5(f"{db}.{self.name}".encode()).hexdigest(),
                "collectionName": self.name, "type": self.type}
        if self.options:
            meta["options"] = self.options
        return json_util.dumps(meta, json_options=CANONICAL_JSON_OPTIONS)

    def data_collection(self) -> str:
        return f"system.buckets.{self.name}" if self.type == "timeseries" else self.name


def write_directory(out: Path, colls: list[Coll], db: str = "admin", gz: bool = False) -> Path:
    """``mongodump --out out [--gzip]``; returns ``out/<db>``."""
    db_dir = out / db
    db_dir.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    for c in colls:
        meta = c.metadata(db).encode()
        (db_dir / f"{file_stem(c.name)}.metadata.json{ext}").write_bytes(gzip.compress(meta) if gz else meta)
        # A view gets its (empty) data file too: mongodump opens and closes every intent's BSON file before it
        # skips a view's data (mongodump.go dumpQueryToIntent).
        data = b"".join(c.raw()) if c.type != "view" else b""
        (db_dir / f"{file_stem(c.data_collection())}.bson{ext}").write_bytes(gzip.compress(data) if gz else data)
    return db_dir


Edit = Callable[[dict[str, Any]], dict[str, Any]]


def archive_bytes(colls: list[Coll], db: str = "admin", segment: int = 2, server_version: str = "7.0.14",
                  header: Edit | None = None, entry: Edit | None = None, namespace_header: Edit | None = None,
                  dbs: dict[str, str] | None = None) -> bytes:
    """``mongodump --archive``: prelude, then the collections' documents interleaved ``segment`` at a time.

    For hostile archives: ``header``, ``entry`` and ``namespace_header`` edit the archive header, each prelude
    entry and each namespace (and EOF) header before they are encoded; ``dbs`` puts a collection in another
    database (an archive of several databases, ``--db`` omitted).
    """
    dbs = dbs or {}
    keep: Edit = lambda doc: doc  # noqa: E731
    header, entry, namespace_header = header or keep, entry or keep, namespace_header or keep
    out = bytearray(MAGIC)
    out += bson.encode(header({"concurrent_collections": 4, "version": "0.1", "server_version": server_version,
                               "tool_version": "100.10.0"}))
    for c in colls:
        size = sum(len(r) for r in c.raw())
        listed = {"db": dbs.get(c.name, db), "collection": c.name, "metadata": c.metadata(db), "size": size}
        if c.type == "timeseries":
            listed["type"] = "timeseries"
        out += bson.encode(entry(listed))
    out += TERMINATOR
    pending = {c.data_collection(): c.raw() for c in colls}
    in_db = {c.data_collection(): dbs.get(c.name, db) for c in colls}
    crcs = dict.fromkeys(pending, 0)
    opened: set[str] = set()
    while pending:
        for name, docs in list(pending.items()):
            chunk, pending[name] = docs[:segment], docs[segment:]
            if chunk or name not in opened:  # an empty collection still gets one empty segment, as mongodump writes
                opened.add(name)
                out += bson.encode(namespace_header({"db": in_db[name], "collection": name, "EOF": False,
                                                     "CRC": Int64(0)}))
                for raw in chunk:
                    out += raw
                    crcs[name] = crc64_go_ecma(raw, crcs[name])
                out += TERMINATOR
            if not pending[name]:
                crc = crcs[name]
                out += bson.encode(namespace_header({"db": in_db[name], "collection": name, "EOF": True,
                                                     "CRC": Int64(crc - 2**64 if crc >= 2**63 else crc)}))
                out += TERMINATOR
                del pending[name]
    return bytes(out)
