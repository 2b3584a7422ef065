"""The built-in restorer on SecantusDB: every mongodump format, indexes, refusals, and clean targets."""

from __future__ import annotations

import json
import time
from pathlib import Path

import bson
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
import pytest
from pymongo import MongoClient

from opschecks.areas.restore import mongorestore, mongotarget
from opschecks.errors import Unreachable
from opschecks.sandbox.dumps import documents, write_archive, write_dump

COUNTS = {"project": 7, "submissionEnvelope": 1203, "odd/name x%": 4}


@pytest.fixture
def target(sandbox):
    with mongotarget.uri_target(sandbox.mongo_uri, mongotarget.fresh_database_name()) as t:
        yield t


def _dump(tmp_path: Path, fmt: str, counts: dict[str, int] = COUNTS) -> Path:
    if fmt.startswith("directory"):
        return write_dump(tmp_path / "out", counts, compress=fmt.endswith("gzip"))
    suffix = ".gz" if fmt.endswith("gzip") else ""
    return write_archive(tmp_path / f"admin.archive{suffix}", counts, compress=fmt.endswith("gzip"), segment=100)


@pytest.mark.parametrize("fmt", ["directory", "directory-gzip", "archive", "archive-gzip"])
def test_restores_each_format(tmp_path: Path, target, fmt: str):
    _dump(tmp_path, fmt)
    dump = mongorestore.locate(tmp_path, "admin")
    assert (dump.archive, dump.gzip) == (fmt.startswith("archive"), fmt.endswith("gzip"))

    restored = mongorestore.restore(target.client[target.database], dump)

    db = target.client[target.database]
    assert restored.documents == COUNTS
    assert restored.warnings == []
    assert {n: db[n].count_documents({}) for n in COUNTS} == COUNTS
    assert "uuid.uuid_1" in db["submissionEnvelope"].index_information()
    # Documents arrive byte for byte (Java legacy UUIDs, dates, nested content).
    expected = [bson.encode(d) for d in documents("project", 7)]
    got = db.get_collection("project", codec_options=CodecOptions(document_class=RawBSONDocument)).find()
    assert sorted(d.raw for d in got) == sorted(expected)


def test_refused_index_is_reported_not_fatal(tmp_path: Path, target):
    write_dump(tmp_path / "out", {"project": 5})
    meta_path = tmp_path / "out/admin/project.metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["indexes"] += [{"v": {"$numberInt": "2"}, "key": {"_fts": "text", "_ftsx": {"$numberInt": "1"}},
                         "name": "content_text", "weights": {"content.name": {"$numberInt": "1"}}},
                        {"v": {"$numberInt": "2"}, "key": {"submissionDate": {"$numberInt": "-1"}},
                         "name": "submissionDate_-1"}]
    meta_path.write_text(json.dumps(meta))

    restored = mongorestore.restore(target.client[target.database], mongorestore.locate(tmp_path, "admin"))

    assert restored.documents == {"project": 5}
    assert len(restored.warnings) == 1
    assert restored.warnings[0].startswith("project: index content_text ")
    assert "refused by the server: text indexes are not supported" in restored.warnings[0]
    assert "submissionDate_-1" in target.client[target.database]["project"].index_information()


def test_collection_with_metadata_only_is_created_empty(tmp_path: Path, target):
    write_dump(tmp_path / "out", {"project": 2, "protocol": 0})
    (tmp_path / "out/admin/protocol.bson").unlink()
    mongorestore.restore(target.client[target.database], mongorestore.locate(tmp_path, "admin"))
    db = target.client[target.database]
    assert "protocol" in db.list_collection_names()
    assert db["protocol"].count_documents({}) == 0


@pytest.mark.parametrize("fmt", ["directory", "directory-gzip", "archive", "archive-gzip"])
def test_truncated_dump_data_fails_naming_the_file(tmp_path: Path, target, fmt: str):
    path = _dump(tmp_path, fmt, {"submissionEnvelope": 300})
    data_file = path / "admin/submissionEnvelope.bson" if fmt == "directory" else \
        path / "admin/submissionEnvelope.bson.gz" if fmt == "directory-gzip" else path
    data_file.write_bytes(data_file.read_bytes()[:-777])
    with pytest.raises(mongorestore.DumpError) as err:
        mongorestore.restore(target.client[target.database], mongorestore.locate(tmp_path, "admin"))
    # A cut .bson is unreadable dump data; a cut archive is a corrupt archive.
    assert err.value.code == ("RST010" if fmt.startswith("archive") else "RST012")
    assert str(err.value).startswith(f"{data_file.name}")
    assert "truncated" in str(err.value) or "unreadable dump data" in str(err.value)


def test_no_dump_in_backup(tmp_path: Path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data/readme.txt").write_text("not a dump")
    with pytest.raises(mongorestore.DumpError, match=r"no mongodump of database 'admin' in the backup"):
        mongorestore.locate(tmp_path, "admin")


def test_binary_command_line(tmp_path: Path):
    directory = mongorestore.Dump(tmp_path, "admin", archive=False, gzip=True)
    assert mongorestore.command(directory, "/d", "drill_db", ["mongorestore", "--uri=mongodb://h"]) == [
        "mongorestore", "--uri=mongodb://h", "--nsInclude=admin.*", "--nsFrom=admin.*", "--nsTo=drill_db.*",
        "--gzip", "--dir=/d"]
    archive = mongorestore.Dump(tmp_path / "a", "admin", archive=True, gzip=False)
    assert mongorestore.command(archive, "/a", "admin", ["mongorestore"]) == [
        "mongorestore", "--nsInclude=admin.*", "--archive=/a"]


def test_uri_target_refuses_a_database_holding_data_and_leaves_it(sandbox):
    client = MongoClient(sandbox.mongo_uri)
    name = mongotarget.fresh_database_name()
    client[name]["keep"].insert_one({"precious": True})
    try:
        with pytest.raises(Unreachable, match=rf"refusing to restore into MongoDB 127\.0\.0\.1:\d+ database {name}: "
                                              r"it already holds data \(1 collections, e\.g\. keep\)"):
            with mongotarget.uri_target(sandbox.mongo_uri, name):
                pytest.fail("must not get here")
        assert client[name]["keep"].count_documents({}) == 1
    finally:
        client.drop_database(name)
        client.close()


def test_uri_target_drops_its_database_on_failure(sandbox, tmp_path: Path):
    name = mongotarget.fresh_database_name()
    write_dump(tmp_path / "out", {"project": 3})
    with pytest.raises(RuntimeError, match="boom"):
        with mongotarget.uri_target(sandbox.mongo_uri, name) as t:
            mongorestore.restore(t.client[t.database], mongorestore.locate(tmp_path, "admin"))
            assert name in t.client.list_database_names()
            raise RuntimeError("boom")
    with MongoClient(sandbox.mongo_uri) as client:
        assert name not in client.list_database_names()


def test_without_docker_or_uri_the_target_says_how_to_provide_one(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # discard port: nothing listens
    started = time.monotonic()
    assert mongotarget.docker_reachable() is False
    assert time.monotonic() - started < 3
    with pytest.raises(Unreachable) as err:
        with mongotarget.open_target("dev", "mongo:4.2", "admin", None, None):
            pytest.fail("must not get here")
    assert str(err.value) == ("no MongoDB to restore into: Docker is not reachable (start it, or set DOCKER_HOST: "
                              "scripts/podman-engine.sh sets up Podman) and no --mongo-uri URI or $OPSCHECKS_MONGO_URI was given")


def test_fresh_database_names_are_unique_and_valid():
    names = {mongotarget.fresh_database_name() for _ in range(50)}
    assert len(names) >= 45  # 46,656 names: a clash is refused by uri_target, never shared
    # Issue 26: no longer than "admin", so every namespace production holds fits the server's 255 bytes.
    assert all(mongotarget.DRILL_DATABASE.fullmatch(n) and len(n) <= len("admin") for n in names)
