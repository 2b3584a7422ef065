"""How fast the built-in restorer restores, and in how little memory, beside raw insert_many as the ceiling.

Both restore the same generated dump of 200,000 Ingest-shaped documents into
SecantusDB, run as its own process here (the sandbox runs it in-process, where
it would share the GIL with the client and its allocations would be traced as
the restorer's). Numbers go to benchmark.extra_info (no timed assertions):
documents per second, and for the restorer its peak traced memory (tracemalloc,
measured in a second, untimed pass since tracing slows Python down).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import bson
import pytest
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient

from opschecks import mongorestore
from opschecks.mongotarget import fresh_database_name
from opschecks.sandbox.dumps import write_dump

DOCUMENTS = 200_000
COLLECTION = "submissionEnvelope"
_CEILING: dict[str, float] = {}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoClient]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port),
                               "--storage-path", str(tmp_path_factory.mktemp("secantus")), "--standalone",
                               "--log-level", "ERROR"])
    try:
        with MongoClient(f"mongodb://127.0.0.1:{port}", serverSelectionTimeoutMS=30_000) as mongo:
            mongo.admin.command("ping")
            yield mongo
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> mongorestore.Dump:
    out = write_dump(tmp_path_factory.mktemp("bench") / "out", {COLLECTION: DOCUMENTS})
    return mongorestore.locate(out, "admin")


def _bson_file(dump: mongorestore.Dump) -> Path:
    return dump.path / dump.database / f"{COLLECTION}.bson"


def test_insert_many_ceiling(benchmark, client: MongoClient, dump: mongorestore.Dump):
    with _bson_file(dump).open("rb") as fh:
        docs = list(bson.decode_file_iter(fh, CodecOptions(document_class=RawBSONDocument)))
    name = fresh_database_name("bench")
    try:
        benchmark.pedantic(lambda: client[name][COLLECTION].insert_many(docs, ordered=False), rounds=1, iterations=1)
        assert client[name][COLLECTION].count_documents({}) == DOCUMENTS
    finally:
        client.drop_database(name)
    seconds = benchmark.stats.stats.max
    _CEILING["docs_per_second"] = DOCUMENTS / seconds
    benchmark.extra_info.update(
        documents=DOCUMENTS,
        docs_per_second=round(DOCUMENTS / seconds),
        documents_held_in_memory_mib=round(sum(len(d.raw) for d in docs) / 2**20, 1),
    )


def test_builtin_restorer(benchmark, client: MongoClient, dump: mongorestore.Dump):
    timed, traced = fresh_database_name("bench"), fresh_database_name("bench")
    try:
        restored = benchmark.pedantic(lambda: mongorestore.restore(client[timed], dump), rounds=1, iterations=1)
        assert restored.documents == {COLLECTION: DOCUMENTS}
        assert client[timed][COLLECTION].count_documents({}) == DOCUMENTS

        tracemalloc.start()
        try:
            mongorestore.restore(client[traced], dump)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    finally:
        client.drop_database(timed)
        client.drop_database(traced)
    seconds = benchmark.stats.stats.max
    benchmark.extra_info.update(
        documents=DOCUMENTS,
        dump_mib=round(_bson_file(dump).stat().st_size / 2**20, 1),
        docs_per_second=round(DOCUMENTS / seconds),
        peak_traced_memory_mib=round(peak / 2**20, 1),
        fraction_of_insert_many_ceiling=round(DOCUMENTS / seconds / _CEILING["docs_per_second"], 2)
        if _CEILING else None,
    )
