"""Real mongodump layouts and the backup tarballs the ingest-backup CronJob makes of them.

The CronJob runs ``mongodump --out /data/db/dump/<stamp>`` and then
``tar -czf <stamp>.tar.gz /data/db/dump/<stamp>``, so a tarball holds
``data/db/dump/<stamp>/admin/<collection>.bson`` and ``.metadata.json``.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bson
from bson import Binary, ObjectId
from bson.binary import UuidRepresentation

_CLASSES = {
    "biomaterial": "org.humancellatlas.ingest.biomaterial.Biomaterial",
    "bundleManifest": "org.humancellatlas.ingest.bundle.BundleManifest",
    "file": "org.humancellatlas.ingest.file.File",
    "process": "org.humancellatlas.ingest.process.Process",
    "project": "org.humancellatlas.ingest.project.Project",
    "protocol": "org.humancellatlas.ingest.protocol.Protocol",
    "submissionEnvelope": "org.humancellatlas.ingest.submission.SubmissionEnvelope",
}


def stamp(moment: dt.datetime) -> str:
    """The backup's timestamp as the CronJob writes it: 2026-11-25T00_00."""
    return moment.strftime("%Y-%m-%dT%H_%M")


def documents(collection: str, count: int, seed: int = 0) -> Iterator[dict[str, Any]]:
    """Documents shaped like Ingest's Spring Data entities."""
    rng = random.Random(f"{collection}/{seed}")
    base = dt.datetime(2019, 1, 1, tzinfo=dt.timezone.utc)
    for i in range(count):
        created = base + dt.timedelta(minutes=rng.randrange(3_000_000))
        doc: dict[str, Any] = {
            "_id": ObjectId(rng.randbytes(12)),
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


def write_dump(out: Path, counts: dict[str, int], database: str = "admin", seed: int = 0) -> Path:
    """Write a directory dump under ``out/<database>/`` as ``mongodump --out out`` does; returns ``out``."""
    db_dir = out / database
    db_dir.mkdir(parents=True, exist_ok=True)
    for collection, count in counts.items():
        with (db_dir / f"{collection}.bson").open("wb") as fh:
            for doc in documents(collection, count, seed):
                fh.write(bson.encode(doc))
        (db_dir / f"{collection}.metadata.json").write_text(json.dumps(metadata(database, collection)))
    return out


def backup_tarball(backup_stamp: str, counts: dict[str, int], database: str = "admin", seed: int = 0) -> bytes:
    """The bytes of ``<stamp>.tar.gz`` as the ingest-backup CronJob uploads it."""
    buf = io.BytesIO()
    prefix = f"data/db/dump/{backup_stamp}"
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=6) as tar:  # gzip's default, as tar -z
        for name in ("data", "data/db", "data/db/dump", prefix, f"{prefix}/{database}"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for collection, count in counts.items():
            payload = b"".join(bson.encode(d) for d in documents(collection, count, seed))
            meta = json.dumps(metadata(database, collection)).encode()
            for name, data in ((f"{collection}.bson", payload), (f"{collection}.metadata.json", meta)):
                info = tarfile.TarInfo(f"{prefix}/{database}/{name}")
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
