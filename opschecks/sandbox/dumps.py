"""Real mongodump layouts and the backup tarballs the ingest-backup CronJob makes of them.

The CronJob runs ``mongodump --out /data/db/dump/<stamp>`` and then
``tar -czf <stamp>.tar.gz /data/db/dump/<stamp>``, so a tarball holds
``data/db/dump/<stamp>/admin/<collection>.bson`` and ``.metadata.json``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import random
import tarfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import bson
from bson import Binary, Int64, ObjectId, json_util
from bson.binary import UuidRepresentation
from bson.json_util import CANONICAL_JSON_OPTIONS

_CLASSES = {
    "biomaterial": "org.humancellatlas.ingest.biomaterial.Biomaterial",
    "bundleManifest": "org.humancellatlas.ingest.bundle.BundleManifest",
    "file": "org.humancellatlas.ingest.file.File",
    "process": "org.humancellatlas.ingest.process.Process",
    "project": "org.humancellatlas.ingest.project.Project",
    "protocol": "org.humancellatlas.ingest.protocol.Protocol",
    "submissionEnvelope": "org.humancellatlas.ingest.submission.SubmissionEnvelope",
}


CreatedAt = Callable[[int], "dt.datetime | None"]


def documents(collection: str, count: int, seed: int = 0,
              created_at: CreatedAt | None = None) -> Iterator[dict[str, Any]]:
    """Documents shaped like Ingest's Spring Data entities.

    Their ObjectId ``_id``s hold their creation time, as the driver makes them: a random moment of 2019-2024,
    or ``created_at(i)`` for the i-th document when it returns one (the sandbox's weekly growth)."""
    rng = random.Random(f"{collection}/{seed}")
    base = dt.datetime(2019, 1, 1, tzinfo=dt.timezone.utc)
    for i in range(count):
        created = base + dt.timedelta(minutes=rng.randrange(3_000_000))
        created = (created_at(i) if created_at else None) or created
        raw = rng.randbytes(12)
        doc: dict[str, Any] = {
            "_id": ObjectId(int(created.timestamp()).to_bytes(4, "big") + raw[4:]),
            "_class": _CLASSES.get(collection, "org.humancellatlas.ingest.core.MetadataDocument"),
            # Spring Data writes UUIDs in the Java legacy binary representation (subtype 3).
            "uuid": {"uuid": Binary.from_uuid(uuid.UUID(int=rng.getrandbits(128), version=4),
                                              UuidRepresentation.JAVA_LEGACY)},
            "submissionDate": created,
            "updateDate": created + dt.timedelta(hours=rng.randrange(1, 500)),
            "validationState": rng.choice(["Valid", "Valid", "Valid", "Invalid", "Draft"]),
            "isUpdate": False,
            "content": {
                "schema_type": collection.lower(),
                "describedBy": f"https://schema.humancellatlas.org/type/{collection.lower()}/9.2.0/{collection.lower()}",
                "provenance": {"document_id": str(uuid.UUID(int=rng.getrandbits(128), version=4))},
                "name": f"{collection}_{i}",
            },
        }
        if collection == "file":
            doc["fileName"] = f"SRR{rng.randrange(10**7):07d}_{i % 2 + 1}.fastq.gz"
            doc["cloudUrl"] = f"s3://org-hca-data-archive-upload-prod/{doc['content']['provenance']['document_id']}/{doc['fileName']}"
            doc["checksums"] = {"sha256": rng.randbytes(32).hex(), "crc32c": rng.randbytes(4).hex()}
        yield doc


def metadata(database: str, collection: str) -> dict[str, Any]:
    """The .metadata.json mongodump 100.x writes for a collection with Ingest's uuid index."""
    return {
        "indexes": [
            {"v": 2, "key": {"_id": 1}, "name": "_id_", "ns": f"{database}.{collection}"},
            {"v": 2, "key": {"uuid.uuid": 1}, "name": "uuid.uuid_1", "ns": f"{database}.{collection}"},
        ],
        "uuid": uuid.uuid5(uuid.NAMESPACE_URL, f"{database}.{collection}").hex,
        "collectionName": collection,
        "type": "collection",
    }


def write_dump(out: Path, counts: dict[str, int], database: str = "admin", seed: int = 0,
               compress: bool = False) -> Path:
    """Write a directory dump under ``out/<database>/`` as ``mongodump --out out [--gzip]`` does; returns ``out``.

    Collection names are percent-escaped in file names as mongodump does, and
    the metadata is canonical Extended JSON, as mongodump 100.x writes it.
    """
    db_dir = out / database
    db_dir.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if compress else open
    suffix = ".gz" if compress else ""
    for collection, count in counts.items():
        name = escape_collection(collection)
        with opener(db_dir / f"{name}.bson{suffix}", "wb") as fh:
            for doc in documents(collection, count, seed):
                fh.write(bson.encode(doc))
        with opener(db_dir / f"{name}.metadata.json{suffix}", "wb") as fh:
            fh.write(json_util.dumps(metadata(database, collection), json_options=CANONICAL_JSON_OPTIONS).encode())
    return out


def escape_collection(name: str) -> str:
    """A collection name as mongodump writes it in file names (Go's url.PathEscape)."""
    return quote(name, safe="$&+,:;=@")


def write_archive(path: Path, counts: dict[str, int], database: str = "admin", seed: int = 0,
                  compress: bool = False, segment: int = 500) -> Path:
    """Write ``mongodump --archive=path [--gzip]``: a prelude, then collections interleaved in segments."""
    opener = gzip.open if compress else open
    with opener(path, "wb") as fh:
        fh.write(_ARCHIVE_MAGIC)
        fh.write(bson.encode({"concurrent_collections": 4, "version": "0.1", "server_version": "4.2.24",
                              "tool_version": "100.5.1"}))
        for collection in counts:
            meta = json_util.dumps(metadata(database, collection), json_options=CANONICAL_JSON_OPTIONS)
            fh.write(bson.encode({"db": database, "collection": collection, "metadata": meta, "size": 0}))
        fh.write(_TERMINATOR)
        streams = {c: documents(c, n, seed) for c, n in counts.items()}
        crcs = dict.fromkeys(counts, 0)
        while streams:
            for collection, stream in list(streams.items()):
                chunk = [bson.encode(d) for _, d in zip(range(segment), stream)]
                if chunk:
                    fh.write(bson.encode({"db": database, "collection": collection, "EOF": False, "CRC": Int64(0)}))
                    for raw in chunk:
                        fh.write(raw)
                        crcs[collection] = _crc64(crcs[collection], raw)
                    fh.write(_TERMINATOR)
                if len(chunk) < segment:
                    fh.write(bson.encode({"db": database, "collection": collection, "EOF": True,
                                          "CRC": Int64(crcs[collection] - (1 << 64 if crcs[collection] >= 1 << 63 else 0))}))
                    fh.write(_TERMINATOR)
                    del streams[collection]
    return path


def tarball(root: Path, arcname: str) -> bytes:
    """The bytes of a ``.tar.gz`` of ``root`` stored under ``arcname`` (as ``tar -czf`` of a dump)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(root, arcname=arcname)
    return buf.getvalue()


_ARCHIVE_MAGIC = (0x8199E26D).to_bytes(4, "little")
_TERMINATOR = b"\xff\xff\xff\xff"


def _crc64_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0xC96C5795D7870F42 if crc & 1 else crc >> 1  # ECMA-182, reflected
        table.append(crc)
    return table


_CRC64 = _crc64_table()


def _crc64(crc: int, data: bytes) -> int:
    """Go's crc64.Update with the ECMA table, which mongodump uses for an archive namespace's CRC."""
    crc ^= 0xFFFFFFFFFFFFFFFF
    for byte in data:
        crc = _CRC64[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF


def backup_tarball(backup_stamp: str, counts: dict[str, int], database: str = "admin", seed: int = 0,
                   created_at: Callable[[str], CreatedAt | None] | None = None) -> bytes:
    """The bytes of ``<stamp>.tar.gz`` as the ingest-backup CronJob uploads it (``created_at(collection)``: see
    ``documents``)."""
    return backup_tarball_of(backup_stamp, {c: documents(c, n, seed, created_at(c) if created_at else None)
                                            for c, n in counts.items()}, database)


def backup_tarball_of(backup_stamp: str, docs: dict[str, Iterable[dict[str, Any]]], database: str = "admin") -> bytes:
    """``backup_tarball`` of the given documents per collection."""
    buf = io.BytesIO()
    prefix = f"data/db/dump/{backup_stamp}"
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=6) as tar:  # gzip's default, as tar -z
        for name in ("data", "data/db", "data/db/dump", prefix, f"{prefix}/{database}"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for collection, stream in docs.items():
            payload = b"".join(bson.encode(d) for d in stream)
            meta = json.dumps(metadata(database, collection)).encode()
            for name, data in ((f"{collection}.bson", payload), (f"{collection}.metadata.json", meta)):
                info = tarfile.TarInfo(f"{prefix}/{database}/{name}")
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
