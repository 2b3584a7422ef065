"""How fast the built-in restorer restores, and in how little memory, beside raw insert_many.

All load the same generated dump of 200,000 Ingest-shaped documents into
SecantusDB, run as its own process here (the sandbox runs it in-process, where
it would share the GIL with the client and its allocations would be traced as
the restorer's): the restorer reading, validating, counting and inserting the
dump; one ``insert_many`` of the same documents already in memory as raw BSON
(the issue's baseline); and ``insert_many`` of them in the restorer's batch size,
also from memory, which is what this server takes at best when reading the dump
costs nothing (the ceiling). Numbers go to benchmark.extra_info (no timed
assertions): documents per second of each, the ratios, and the restorer's peak
traced memory (tracemalloc, in a separate untimed pass since tracing slows
Python down).
"""

from __future__ import annotations

import datetime as dt
import gc
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import bson
import pytest
from bson import ObjectId
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient
from pymongo.database import Database

from opschecks.areas.restore import completeness, dumpformat, mongorestore
from opschecks.areas.restore.mongotarget import fresh_database_name
from opschecks.areas.restore.settings import RestoreSettings
from opschecks.sandbox.dumps import write_dump

DOCUMENTS = 200_000
COLLECTION = "submissionEnvelope"
ROUNDS = 3
COMPLETENESS_ROUNDS = 2  # each round restores 200,000 documents and scans them several times (CI time)


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


def test_builtin_restorer_vs_insert_many(benchmark, client: MongoClient, dump: mongorestore.Dump):
    """Restorer, raw single-stream insert_many and batched insert_many, alternating round by round.

    The machine is shared, so each restorer round is preceded (in pedantic's
    untimed setup) by the two insert_many runs of the same documents: all see
    the same load, and the ratios compare the best round of each.
    """
    with _bson_file(dump).open("rb") as fh:
        docs = list(bson.decode_file_iter(fh, CodecOptions(document_class=RawBSONDocument)))
    held_mib = round(sum(len(d.raw) for d in docs) / 2**20, 1)
    single: list[float] = []
    batched: list[float] = []
    names: list[str] = []

    def timed_insert(seconds: list[float], batch: int) -> None:
        name = fresh_database_name()
        started = time.perf_counter()
        for start in range(0, DOCUMENTS, batch):
            client[name][COLLECTION].insert_many(docs[start:start + batch], ordered=False)
        seconds.append(time.perf_counter() - started)
        assert client[name][COLLECTION].count_documents({}) == DOCUMENTS
        client.drop_database(name)

    def insert_many_round() -> tuple[tuple[Database], dict]:
        timed_insert(single, DOCUMENTS)
        timed_insert(batched, dumpformat.BATCH_DOCS)
        names.append(fresh_database_name())
        return (client[names[-1]],), {}

    phases: list[dict[str, float]] = []

    full_collections: list[int] = []

    def restorer_round(db: Database) -> mongorestore.Restored:
        before = gc.get_stats()[2]["collections"]
        restored = mongorestore.restore(db, dump)
        full_collections.append(gc.get_stats()[2]["collections"] - before)
        phases.append(restored.seconds)
        return restored

    try:
        restored = benchmark.pedantic(restorer_round, setup=insert_many_round, rounds=ROUNDS, iterations=1)
        assert restored.in_dump == restored.documents == {COLLECTION: DOCUMENTS}
        assert client[names[-1]][COLLECTION].count_documents({}) == DOCUMENTS
        docs.clear()  # the traced pass below should see the restorer's memory only

        traced = fresh_database_name()
        names.append(traced)
        tracemalloc.start()
        try:
            mongorestore.restore(client[traced], dump)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    finally:
        for name in names:
            client.drop_database(name)
    # Like for like: the restorer's documents phase (read, validate, count, insert) against insert_many of the
    # same documents; the whole restore adds the metadata's index (uuid.uuid_1), which insert_many does not build.
    documents = [p["documents"] for p in phases]
    benchmark.extra_info.update(
        documents=DOCUMENTS,
        dump_mib=round(_bson_file(dump).stat().st_size / 2**20, 1),
        rounds=ROUNDS,
        insert_many_docs_per_second=round(DOCUMENTS / min(single)),
        insert_many_held_in_memory_mib=held_mib,
        restorer_documents_docs_per_second=round(DOCUMENTS / min(documents)),
        ratio_to_insert_many=round(min(single) / min(documents), 2),
        ratio_per_round=[round(c / d, 2) for c, d in zip(single, documents)],
        batched_insert_many_docs_per_second=round(DOCUMENTS / min(batched)),
        ratio_to_batched_insert_many=round(min(batched) / min(documents), 2),
        restorer_with_indexes_docs_per_second=round(DOCUMENTS / benchmark.stats.stats.min),
        ratio_with_indexes=round(min(single) / benchmark.stats.stats.min, 2),
        index_build_seconds=round(min(p["indexes"] for p in phases), 1),
        peak_traced_memory_mib=round(peak / 2**20, 1),
        # Full (oldest-generation) collections of Python's cyclic GC during each restorer round, and how many
        # objects the process held: each full collection scans them all while holding the GIL.
        full_gc_collections_per_round=full_collections,
        gc_tracked_objects=len(gc.get_objects()),
    )


def test_completeness_queries_vs_the_restore(benchmark, client: MongoClient, dump: mongorestore.Dump):
    """What the completeness check (issue 27) adds to a drill: its queries on one restored collection of 200,000
    documents against a live one of the same 200,000, as a share of the restore of that collection.

    Round by round, pedantic's untimed setup restores the dump into a fresh database (timed here), then the
    benchmark times ``judge_collection`` on it: both on the same server under the same load. The target is a
    share under 5%.
    """
    start = dt.datetime.now(dt.timezone.utc)  # every generated _id (2019-2024) is below the cut
    cut = ObjectId.from_datetime(start)
    sample = RestoreSettings().completeness_sample
    live = fresh_database_name()
    names = [live]
    restores: list[float] = []
    judges: list[float] = []

    def restore_round() -> tuple[tuple[Database], dict]:
        names.append(fresh_database_name())
        started = time.perf_counter()
        mongorestore.restore(client[names[-1]], dump)
        restores.append(time.perf_counter() - started)
        return (client[names[-1]],), {}

    def judge_round(db: Database) -> completeness.Judged:
        started = time.perf_counter()
        judged = completeness.judge_collection(db[COLLECTION], client[live][COLLECTION], cut, start, sample)
        judges.append(time.perf_counter() - started)
        return judged

    try:
        mongorestore.restore(client[live], dump)
        judged = benchmark.pedantic(judge_round, setup=restore_round, rounds=COMPLETENESS_ROUNDS, iterations=1)
    finally:
        for name in names:
            client.drop_database(name)
    # The check did its whole work: every document counted on both sides, the whole sample found.
    assert (judged.restored_below, judged.live_below, judged.missing) == (DOCUMENTS, DOCUMENTS, 0)
    assert judged.sampled == sample and judged.sample_missing_count == 0 and judged.live_between == 0
    benchmark.extra_info.update(
        documents=DOCUMENTS,
        sample=sample,
        rounds=COMPLETENESS_ROUNDS,
        restore_seconds=round(min(restores), 2),
        completeness_seconds=round(min(judges), 3),
        completeness_share_of_restore=round(min(judges) / min(restores), 4),
        share_per_round=[round(j / r, 4) for j, r in zip(judges, restores)],
    )
