"""A "restored" verdict to trust: every namespace accounted for, every broken dump a finding (issue 11).

Each dump is built here from mongodump's documented formats (tests/mongodump_spec.py), and every
expected count comes from the documents the test put in, never from the restorer.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import tarfile
import tracemalloc
import uuid
from pathlib import Path

import bson
import pytest
from bson import ObjectId, json_util

from opschecks.areas.restore import dumpformat, mongorestore, mongotarget, restore
from opschecks.areas.backups.backups import Backup
from opschecks.areas.restore.dumpformat import CorruptArchive, DumpError
from tests.mongodump_spec import (TERMINATOR, Coll, archive_bytes, crc64_go_ecma, file_stem, path_escape,
                                  write_directory)

SMALL = [Coll("project", [{"_id": i, "name": f"p{i}"} for i in range(3)]),
         Coll("file", [{"_id": i, "size": i * 10} for i in range(2)]),
         Coll("empty")]


@pytest.fixture
def target(sandbox):
    with mongotarget.uri_target(sandbox.mongo_uri, mongotarget.fresh_database_name()) as t:
        yield t


def _archive(tmp_path: Path, data: bytes, name: str = "admin.archive") -> mongorestore.Dump:
    path = tmp_path / name
    path.write_bytes(data)
    return mongorestore.Dump(path, "admin", archive=True, gzip=name.endswith(".gz"))


def _directory(tmp_path: Path, colls: list[Coll], gz: bool = False) -> mongorestore.Dump:
    write_directory(tmp_path / "out", colls, gz=gz)
    return mongorestore.Dump(tmp_path / "out", "admin", archive=False, gzip=gz)


# --- the spec helpers themselves ----------------------------------------------------------------------------

def test_spec_helpers_match_go():
    assert crc64_go_ecma(b"123456789") == 0x995DC9BBDF1939FA  # CRC-64/XZ check value (Go's crc64.ECMA)
    assert path_escape("a/b;c,d?e f$&+:=@") == "a%2Fb%3Bc%2Cd%3Fe%20f$&+:=@"
    assert dumpformat.file_stem("a/b;c,d?e f$&+:=@") == path_escape("a/b;c,d?e f$&+:=@")
    long = "x" * 250
    assert file_stem(long) == dumpformat.file_stem(long) and file_stem(long).startswith("x" * 208 + "%24")


# --- 2. a cut or corrupt --archive is always caught ---------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True], ids=["archive", "archive-gzip"])
def test_an_archive_cut_at_every_byte_offset_is_caught(tmp_path: Path, gz: bool):
    whole = archive_bytes(SMALL)
    whole = gzip.compress(whole) if gz else whole
    full = dumpformat.inventory(_archive(tmp_path, whole).path, "admin", True)
    assert full.counts == {"project": 3, "file": 2, "empty": 0}
    for cut in range(len(whole)):
        dump = _archive(tmp_path, whole[:cut])
        with pytest.raises(DumpError) as err:
            dumpformat.inventory(dump.path, "admin", True)
        assert err.value.code in ("RST010", "RST012"), (cut, err.value)
        assert str(err.value).startswith("admin.archive"), (cut, err.value)


def test_an_archive_cut_at_a_segment_boundary_names_the_unfinished_namespaces(tmp_path: Path, target):
    whole = archive_bytes(SMALL)
    boundaries = [i + 4 for i in range(len(whole)) if whole[i:i + 4] == TERMINATOR]
    assert len(boundaries) >= 6  # prelude end and every segment and EOF block
    for cut in boundaries[:-1]:
        with pytest.raises(CorruptArchive, match=r"ends before the EOF header of namespace admin\.") as err:
            mongorestore.restore(target.client[target.database], _archive(tmp_path, whole[:cut]))
        assert err.value.code == "RST010"
        target.client.drop_database(target.database)
    restored = mongorestore.restore(target.client[target.database], _archive(tmp_path, whole))
    assert restored.in_dump == restored.documents | {"empty": 0} == {"project": 3, "file": 2, "empty": 0}


def test_crc_mismatch_names_the_namespace(tmp_path: Path):
    whole = bytearray(archive_bytes(SMALL))
    at = whole.index(b"p1\x00")  # a string value inside project's data: still valid BSON after the change
    whole[at] = ord("q")
    with pytest.raises(CorruptArchive, match=r"admin\.archive namespace admin\.project: CRC mismatch"):
        dumpformat.inventory(_archive(tmp_path, bytes(whole)).path, "admin", True)


@pytest.mark.parametrize("tail", [b"junk", b"\x00", TERMINATOR, bson.encode({"db": "admin", "collection": "x"})],
                         ids=["junk", "one-byte", "terminator", "unlisted-namespace"])
def test_trailing_bytes_after_the_last_namespace_are_corruption(tmp_path: Path, tail: bytes):
    with pytest.raises(CorruptArchive) as err:
        dumpformat.inventory(_archive(tmp_path, archive_bytes(SMALL) + tail).path, "admin", True)
    assert err.value.code == "RST010" and str(err.value).startswith("admin.archive")


def _drop(key: str, collection: str | None = None):
    """A namespace-header edit: remove ``key`` (from ``collection``'s headers only, if given)."""
    return lambda h: {k: v for k, v in h.items() if k != key} if collection in (None, h["collection"]) else h


@pytest.mark.parametrize(("colls", "edits", "expected"), [
    # mongorestore's demultiplexer refuses a header without a collection; read as "admin.None" it matched a
    # collection called None, whose 2 documents then went uncounted (in the dump 0, restored 0: a pass).
    ([*SMALL, Coll("None", [{"_id": 1}, {"_id": 2}])], {"namespace_header": _drop("collection", "None")},
     r"^admin\.archive: a namespace header without a string db and collection"),
    (SMALL, {"namespace_header": lambda h: {**h, "db": 1}}, r"a namespace header without a string db"),
    (SMALL, {"namespace_header": lambda h: {**h, "EOF": int(h["EOF"])}}, r"and a boolean EOF: "),
    (SMALL, {"namespace_header": lambda h: {**h, "CRC": False} if h["EOF"] and h["collection"] == "empty" else h},
     r"^admin\.archive namespace admin\.empty: CRC mismatch: the EOF header says False"),  # False == 0 in Python
    (SMALL, {"entry": lambda e: {**e, "metadata": json_util.loads(e["metadata"])}},
     r"^admin\.archive \(prelude\): a collection entry whose 'metadata' is not a string \(found dict\)"),
    (SMALL, {"entry": lambda e: {**e, "size": str(e["size"])}}, r"a collection entry whose 'size' is not an integer"),
    (SMALL, {"entry": lambda e: {k: v for k, v in e.items() if k != "collection"}},
     r"a collection entry without a db and a collection"),
    (SMALL, {"header": lambda h: {**h, "version": 1}}, r"\(prelude\): the archive header whose 'version' is not a "
                                                      r"string \(found int\)"),
    ([*SMALL, Coll("project", SMALL[0].docs)], {},
     r"^admin\.archive namespace admin\.project: listed twice in the archive's prelude"),
    ([Coll("r", [{"_id": 1}], options={"timeseries": {"timeField": "t"}}, type="timeseries"),
      Coll("system.buckets.r", [{"_id": 1}])], {},  # its buckets would count under one name only
     r"namespace admin\.system\.buckets\.r: listed twice in the archive's prelude"),
], ids=["header-without-collection", "header-db-int", "header-eof-int", "crc-bool", "metadata-document",
        "size-string", "entry-without-collection", "header-version-int", "listed-twice", "time-series-and-buckets"])
def test_an_archive_of_the_wrong_shape_is_rst010_naming_it(tmp_path: Path, colls, edits, expected):
    dump = _archive(tmp_path, archive_bytes(colls, **edits))
    with pytest.raises(CorruptArchive, match=expected) as err:
        dumpformat.inventory(dump.path, "admin", True)
    assert err.value.code == "RST010"


def test_an_archive_of_several_databases_restores_one_and_checks_all(tmp_path: Path, target):
    others = [Coll("audit", [{"_id": i} for i in range(4)]), Coll("oplog", [{"_id": 1}])]
    dbs = {"audit": "other", "oplog": ""}  # mongodump --archive without --db, and --oplog's top-level namespace
    restored = mongorestore.restore(target.client[target.database],
                                    _archive(tmp_path, archive_bytes([*SMALL, *others], dbs=dbs)))
    assert restored.in_dump == {"project": 3, "file": 2, "empty": 0}
    assert {n: target.client[target.database][n].count_documents({}) for n in ("project", "file")} == \
        {"project": 3, "file": 2}
    bad_crc = archive_bytes([*SMALL, *others], dbs=dbs,
                            namespace_header=lambda h: {**h, "CRC": 1} if h["EOF"] and h["db"] == "other" else h)
    with pytest.raises(CorruptArchive, match=r"^admin\.archive namespace other\.audit: CRC mismatch"):
        dumpformat.inventory(_archive(tmp_path, bad_crc).path, "admin", True)


@pytest.mark.parametrize("tail", [b"\x00", b"\x00" * 512], ids=["one-zero", "zero-padding"])
@pytest.mark.parametrize("fmt", ["directory-gzip", "archive-gzip"])
def test_zeros_after_a_gzip_stream_are_refused_as_mongorestore_refuses_them(tmp_path: Path, fmt: str, tail: bytes):
    # Python's gzip module skips them (gzip FAQ 8); Go's gzip.Reader, which mongorestore uses, fails on them.
    if fmt == "archive-gzip":
        path, expected = _archive(tmp_path, gzip.compress(archive_bytes(SMALL)) + tail, "admin.archive.gz").path, \
            r"^admin\.archive\.gz: unreadable dump data: bytes after the end of the gzip stream \(starting 00"
    else:
        path = write_directory(tmp_path / "out", SMALL, gz=True)
        (path / "project.bson.gz").write_bytes((path / "project.bson.gz").read_bytes() + tail)
        expected = r"^project\.bson\.gz: unreadable dump data: bytes after the end of the gzip stream"
    with pytest.raises(DumpError, match=expected) as err:
        dumpformat.inventory(path, "admin", fmt == "archive-gzip")
    assert err.value.code == ("RST010" if fmt == "archive-gzip" else "RST012")


def test_gzip_members_back_to_back_are_one_stream(tmp_path: Path):
    # Go's gzip.Reader is multistream by default, as Python's: a file of two members is read whole.
    whole = archive_bytes(SMALL)
    two = gzip.compress(whole[:100]) + gzip.compress(whole[100:])
    assert dumpformat.inventory(_archive(tmp_path, two, "admin.archive.gz").path, "admin", True).counts == \
        {"project": 3, "file": 2, "empty": 0}


# --- 3. names from the metadata ------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["directory", "directory-gzip", "archive"])
def test_a_long_collection_name_restores_under_its_real_name(tmp_path: Path, target, fmt: str):
    name = "submissionEnvelope " + "é y " * 46  # 203 characters, 527 escaped: the file name is shortened
    colls = [Coll(name, [{"_id": i} for i in range(4)], indexes=[{"v": 2, "key": {"k": 1}, "name": "k_1"}])]
    if fmt == "archive":
        dump = _archive(tmp_path, archive_bytes(colls))
    else:
        dump = _directory(tmp_path, colls, gz=fmt.endswith("gzip"))
        assert {p.name.split(".")[0] for p in (tmp_path / "out/admin").iterdir()} == {file_stem(name)}
        assert "%24" in file_stem(name)
    restored = mongorestore.restore(target.client[target.database], dump)
    db = target.client[target.database]
    assert restored.in_dump == restored.documents == {name: 4}
    assert db[name].count_documents({}) == 4 and "k_1" in db[name].index_information()


def test_data_files_match_their_metadata_even_when_escaped_differently(tmp_path: Path, target):
    db_dir = write_directory(tmp_path / "out", [Coll("a,b", [{"_id": 1}, {"_id": 2}],
                                                     indexes=[{"v": 2, "key": {"k": 1}, "name": "k_1"}])])
    (db_dir / "a%2Cb.bson").rename(db_dir / "a,b.bson")  # mongodump escapes ','; an older writer did not
    restored = mongorestore.restore(target.client[target.database], mongorestore.Dump(tmp_path / "out", "admin",
                                                                                      False, False))
    assert restored.in_dump == restored.documents == {"a,b": 2}
    assert "k_1" in target.client[target.database]["a,b"].index_information()


def _add(name: str, data: bytes):
    return lambda db_dir: (db_dir / name).write_bytes(data)


R = Coll("r", [{"_id": 1}, {"_id": 2}], options={"timeseries": {"timeField": "t"}}, type="timeseries")


@pytest.mark.parametrize(("colls", "extra", "expected"), [
    # Each pair used to restore one file and drop the other in silence (in the dump 1, restored 1: a pass).
    (SMALL, _add("project.bson.gz", gzip.compress(bson.encode({"_id": 9}))),
     r"^project\.bson and project\.bson\.gz: two data files for one collection"),
    ([Coll("a,b", [{"_id": 1}, {"_id": 2}])], _add("a,b.bson", bson.encode({"_id": 9})),
     r"^a%2Cb\.bson and a,b\.bson: two data files for collection a,b"),
    ([R], _add("r.bson", bson.encode({"_id": 9})),
     r"^system\.buckets\.r\.bson and r\.bson: two data files for collection r"),
    (SMALL, _add("project.metadata.json.gz", gzip.compress(Coll("project").metadata("admin").encode())),
     r"^project\.metadata\.json and project\.metadata\.json\.gz: two metadata files for collection project"),
    (SMALL, _add("other.metadata.json", Coll("project").metadata("admin").encode()),
     r"^other\.metadata\.json and project\.metadata\.json: two metadata files for collection project"),
], ids=["bson-and-bson-gz", "escaped-and-not", "buckets-and-plain", "metadata-and-metadata-gz", "same-collectionName"])
def test_two_files_for_one_collection_are_rst012_naming_both(tmp_path: Path, colls, extra, expected):
    db_dir = write_directory(tmp_path / "out", colls)
    extra(db_dir)
    with pytest.raises(DumpError, match=expected) as err:
        dumpformat.inventory(db_dir, "admin", False)
    assert err.value.code == "RST012"


# --- 4. nothing skipped in silence ---------------------------------------------------------------------------

USERS = Coll("system.users", [{"_id": f"admin.u{i}", "user": f"u{i}", "db": "admin"} for i in range(3)])
ROLES = Coll("system.roles", [{"_id": "admin.r", "role": "r", "db": "admin", "privileges": [], "roles": []}])
VERSION = Coll("system.version", [{"_id": "authSchema", "currentVersion": 5}])
JS = Coll("system.js", [{"_id": "f", "value": bson.Code("function () { return 1; }")}])
VIEWS = Coll("system.views", [{"_id": "admin.v", "viewOn": "project", "pipeline": []}])
TS = Coll("readings", [{"_id": ObjectId(), "control": {"version": 1}, "meta": i} for i in range(5)],
          options={"timeseries": {"timeField": "t", "metaField": "m", "granularity": "seconds"}}, type="timeseries")


@pytest.mark.parametrize("fmt", ["directory", "archive"])
def test_system_namespaces_are_restored_or_listed(tmp_path: Path, target, fmt: str):
    colls = [*SMALL, USERS, ROLES, VERSION, JS, VIEWS, TS]
    dump = _archive(tmp_path, archive_bytes(colls)) if fmt == "archive" else _directory(tmp_path, colls)
    restored = mongorestore.restore(target.client[target.database], dump)
    db = target.client[target.database]
    assert restored.in_dump == {"project": 3, "file": 2, "empty": 0, "system.users": 3, "system.roles": 1,
                                "system.version": 1, "system.js": 1, "system.views": 1, "readings": 5}
    assert (restored.users, restored.roles) == (3, 1)
    assert set(restored.not_restored) == {"system.users", "system.roles", "system.version", "system.views"}
    assert "restore_users = false" in restored.not_restored["system.users"]
    assert restored.unrestorable == {}
    assert db["system.js"].count_documents({}) == 1
    assert db["system.buckets.readings"].count_documents({}) == 5  # the time-series buckets, as mongorestore does
    assert restored.data_names["readings"] == "system.buckets.readings"


@pytest.mark.parametrize("fmt", ["directory", "directory-gzip", "archive"])
def test_a_view_with_its_empty_data_file_is_recreated(tmp_path: Path, target, fmt: str):
    view = Coll("v", options={"viewOn": "project", "pipeline": [{"$match": {"_id": {"$gt": 0}}}]}, type="view")
    dump = _archive(tmp_path, archive_bytes([*SMALL, view])) if fmt == "archive" else \
        _directory(tmp_path, [*SMALL, view], gz=fmt.endswith("gzip"))
    restored = mongorestore.restore(target.client[target.database], dump)
    assert restored.in_dump == {"project": 3, "file": 2, "empty": 0}
    views = {c["name"]: c["options"] for c in target.client[target.database].list_collections(filter={"type": "view"})}
    assert views["v"]["viewOn"] == "project"
    assert target.client[target.database]["v"].count_documents({}) == 2


@pytest.mark.parametrize("fmt", ["directory", "archive"])
def test_documents_under_a_view_are_rst012_not_dropped(tmp_path: Path, fmt: str):
    # A view is recreated from its metadata; its documents were read, then left out of the dump's counts.
    view = Coll("v", [{"_id": 1}, {"_id": 2}], options={"viewOn": "project", "pipeline": []}, type="view")
    if fmt == "archive":
        path, expected = _archive(tmp_path, archive_bytes([*SMALL, view])).path, r"^admin\.archive namespace admin\.v: "
    else:
        path, expected = write_directory(tmp_path / "out", [*SMALL, view]), r"^v\.bson: "
        (path / "v.bson").write_bytes(b"".join(view.raw()))  # mongodump writes no data file for a view
    with pytest.raises(DumpError, match=expected + r"documents for v, which its metadata makes a view") as err:
        dumpformat.inventory(path, "admin", fmt == "archive")
    assert err.value.code == "RST012"


def test_users_and_roles_are_restored_when_asked(tmp_path: Path, target):
    dump = _directory(tmp_path, [*SMALL, USERS, ROLES])
    restored = mongorestore.restore(target.client[target.database],
                                    mongorestore.Dump(dump.path, "admin", False, False, restore_users=True))
    assert restored.not_restored == {}
    assert restored.documents["system.users"] == 3
    assert target.client[target.database]["system.users"].count_documents({}) == 3
    # A server that keeps roles in admin only refuses them in the drill's database: said, not silent.
    assert restored.unrestorable == {"system.roles": "the target refused system.roles: Invalid system namespace: "
                                                     f"{target.database}.system.roles"}


def test_a_duplicate_user_is_a_broken_dump_not_a_refusing_target(tmp_path: Path, target):
    # A duplicate _id is the dump's fault, for users as for any collection: RST012, not "the target refused" (RST014).
    twice = Coll("system.users", [*USERS.docs, USERS.docs[0]])
    dump = _directory(tmp_path, [*SMALL, twice])
    with pytest.raises(DumpError, match=r"^system\.users\.bson: the server refused 1 of 4 documents of "
                                        r"system\.users: .*duplicate key") as err:
        mongorestore.restore(target.client[target.database],
                             mongorestore.Dump(dump.path, "admin", False, False, restore_users=True))
    assert err.value.code == "RST012"


def test_a_time_series_collection_the_server_refuses_is_unrestorable_not_empty(tmp_path: Path, target):
    # SecantusDB creates time-series collections; options it refuses stand in for a server without them.
    refused = Coll("readings", TS.docs, options={"timeseries": "from a newer server"}, type="timeseries")
    restored = mongorestore.restore(target.client[target.database], _directory(tmp_path, [*SMALL, refused]))
    assert restored.in_dump["readings"] == 5
    assert restored.unrestorable["readings"].startswith("the server cannot create time-series collections: ")


# --- 5. every failure reaches a verdict ----------------------------------------------------------------------

def _bad_type_byte() -> bytes:
    raw = bytearray(bson.encode({"_id": 1, "a": 2}))
    raw[raw.index(b"a\x00") - 1] = 0x77  # no such BSON type
    return bytes(raw)


def _bad_cstring() -> bytes:
    raw = bytearray(bson.encode({"_id": 1, "ab": True}))
    raw[raw.index(b"ab\x00") + 2] = ord("c")  # the key's NUL is gone: the key runs into the value
    return bytes(raw)


@pytest.mark.parametrize(("colls", "fmt", "expected"), [
    ([Coll("project", [{"_id": 1}, _bad_type_byte()])], "directory", r"project\.bson: invalid BSON document: "),
    ([Coll("project", [_bad_cstring()])], "directory", r"project\.bson: invalid BSON document: "),
    ([Coll("project", [{"_id": 1}, _bad_type_byte()])], "archive",
     r"admin\.archive namespace admin\.project: invalid BSON document: "),
    ([Coll("project", [{"_id": 1}, {"_id": 1}])], "directory",
     r"project\.bson: the server refused 1 of 2 documents of project: .*duplicate key"),
    ([Coll("project", [{"_id": 1, "k": 1}, {"_id": 2, "k": 1}],
           indexes=[{"v": 2, "key": {"k": 1}, "name": "k_1", "unique": True}])], "directory",
     r"project\.bson: the dumped documents violate unique index k_1 of project: "),
    ([Coll(".hidden", [{"_id": 1}])], "directory",
     r"\.hidden\.bson: the server refused to create collection \.hidden: Collection names cannot start with '\.'"),
], ids=["bad-type-byte", "bad-cstring", "archive-bad-type-byte", "duplicate-id", "unique-index", "refused-collection"])
def test_broken_dump_content_is_one_rst012_naming_the_file(tmp_path: Path, target, colls, fmt, expected):
    dump = _archive(tmp_path, archive_bytes(colls)) if fmt == "archive" else _directory(tmp_path, colls)
    with pytest.raises(DumpError, match=expected) as err:
        mongorestore.restore(target.client[target.database], dump)
    assert err.value.code == "RST012"


@pytest.mark.parametrize("position", [0, 63, 64, 1000, dumpformat.BATCH_DOCS - 1, dumpformat.BATCH_DOCS + 7])
@pytest.mark.parametrize("fmt", ["directory", "archive"])
def test_an_invalid_document_anywhere_in_a_batch_is_rst012(tmp_path: Path, fmt: str, position: int):
    """Validation decodes a batch in slices (dumpformat.validated): a bad document in any slice, including
    the first and last of a batch and of the next batch, is found."""
    docs: list[dict | bytes] = [{"_id": i, "a": i} for i in range(dumpformat.BATCH_DOCS + 10)]
    docs[position] = _bad_type_byte()
    colls = [Coll("project", docs)]
    if fmt == "archive":
        dump = _archive(tmp_path, archive_bytes(colls))
        path, where = dump.path, r"admin\.archive namespace admin\.project"
    else:
        dump = _directory(tmp_path, colls)
        path, where = dump.path / "admin", r"project\.bson"
    with pytest.raises(DumpError, match=rf"^{where}: invalid BSON document: ") as err:
        dumpformat.inventory(path, "admin", fmt == "archive")
    assert err.value.code == "RST012"


@pytest.mark.parametrize("text", ["[]", '"x"', '{"indexes": {}}', '{"indexes": [{"name": "a"}]}',
                                  '{"options": []}', "{not json",
                                  # these were tracebacks: in the reader, or when the restore sent them
                                  '{"options": ' * 5000 + "{}" + "}" * 5000,
                                  '{"options": {"x": {"$oid": "zz"}}}',
                                  '{"options": {"x": {"$date": {"$numberLong": "99999999999999999999"}}}}',
                                  '{"options": {"a\\u0000b": 1}}',
                                  '{"options": {"capped": true, "size": 99999999999999999999}}',
                                  '{"indexes": [{"v": 2, "key": {"a\\u0000": 1}, "name": "a"}]}'],
                         ids=["list", "string", "indexes-object", "index-without-key", "options-list", "not-json",
                              "deep", "bad-oid", "huge-date", "nul-in-option", "huge-int", "nul-in-index-key"])
def test_metadata_of_the_wrong_shape_is_rst012(tmp_path: Path, text: str):
    dump = _directory(tmp_path, SMALL)
    (tmp_path / "out/admin/project.metadata.json").write_text(text)
    with pytest.raises(DumpError, match=r"^project\.metadata\.json: ") as err:
        dumpformat.inventory(tmp_path / "out/admin", "admin", False)
    assert err.value.code == "RST012"
    assert dump.database == "admin"


# --- 6. bounded memory on hostile input ----------------------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True])
def test_a_huge_length_prefix_is_refused_without_reading_on(tmp_path: Path, gz: bool):
    db_dir = write_directory(tmp_path / "out", SMALL, gz=gz)
    body = (2**31 - 1).to_bytes(4, "little") + b"\x00" * (40 * 2**20)  # claims 2 GiB, has 40 MiB
    name = "project.bson.gz" if gz else "project.bson"
    (db_dir / name).write_bytes(gzip.compress(body, compresslevel=1) if gz else body)
    tracemalloc.start()
    try:
        with pytest.raises(DumpError, match=rf"^{name}: 2147483647 is not a valid BSON document length"):
            dumpformat.inventory(db_dir, "admin", False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The reader reads ahead a batch's worth (and gzip one more), never what the length claims or the file holds.
    assert peak < 3 * dumpformat.BATCH_BYTES < 40 * 2**20


def test_a_document_just_over_the_limit_is_refused(tmp_path: Path):
    db_dir = write_directory(tmp_path / "out", [Coll("project", [{"_id": 1, "blob": b"x" * (16 * 2**20 + 2**14)}])])
    with pytest.raises(DumpError, match=r"not a valid BSON document length \(5 to 16793600 bytes\)"):
        dumpformat.inventory(db_dir, "admin", False)


def test_a_huge_metadata_file_is_refused_without_reading_it_all(tmp_path: Path):
    db_dir = write_directory(tmp_path / "out", SMALL)
    (db_dir / "project.metadata.json").write_bytes(b"{" + b" " * (17 * 2**20) + b"}")
    with pytest.raises(DumpError, match=r"^project\.metadata\.json: larger than 16793600 bytes"):
        dumpformat.inventory(db_dir, "admin", False)


# --- 7. the dump is found where backup.sh puts it ------------------------------------------------------------

def test_locate_takes_the_backup_layout_and_refuses_two_dumps(tmp_path: Path):
    write_directory(tmp_path / "data/db/dump/2026-03-01T00_00", SMALL)
    (tmp_path / "data/db/admin").mkdir(parents=True)  # mongod's directoryPerDB data files are no dump
    (tmp_path / "data/db/admin/collection-2-123.wt").write_bytes(b"WiredTiger")
    dump = mongorestore.locate(tmp_path, "admin")
    assert (dump.path, dump.archive) == (tmp_path / "data/db/dump/2026-03-01T00_00", False)

    write_directory(tmp_path / "data/db/dump/2026-02-28T00_00", SMALL)
    with pytest.raises(DumpError, match=r"the backup holds 2 dumps of database 'admin': "
                                        r"data/db/dump/2026-02-28T00_00/admin, data/db/dump/2026-03-01T00_00/admin; "
                                        r"expected exactly one"):
        mongorestore.locate(tmp_path, "admin")


def test_locate_refuses_a_directory_dump_beside_an_archive(tmp_path: Path):
    write_directory(tmp_path / "data/db/dump/2026-03-01T00_00", SMALL)
    (tmp_path / "data/db/dump/extra.archive.gz").write_bytes(gzip.compress(archive_bytes(SMALL)))
    with pytest.raises(DumpError, match=r"2 dumps of database 'admin': data/db/dump/2026-03-01T00_00/admin, "
                                        r"data/db/dump/extra\.archive\.gz"):
        mongorestore.locate(tmp_path, "admin")


def test_locate_passes_over_an_archive_of_other_databases(tmp_path: Path):
    # Taken as the dump, it held nothing to count: no verdict on the dump, only "missing" collections; and beside
    # the real dump it made the backup "ambiguous".
    (tmp_path / "data/db/dump").mkdir(parents=True)
    (tmp_path / "data/db/dump/other.archive").write_bytes(archive_bytes(SMALL, db="other",
                                                                        dbs={"file": "test"}))
    with pytest.raises(DumpError, match=r"^no mongodump of database 'admin' in the backup \(.*\); "
                                        r"data/db/dump/other\.archive is an archive of 'other', 'test' only$"):
        mongorestore.locate(tmp_path, "admin")
    write_directory(tmp_path / "data/db/dump/2026-03-01T00_00", SMALL)
    dump = mongorestore.locate(tmp_path, "admin")
    assert (dump.path, dump.archive) == (tmp_path / "data/db/dump/2026-03-01T00_00", False)
    # An archive whose prelude cannot be read is still a candidate: its corruption is the finding.
    (tmp_path / "data/db/dump/cut.archive").write_bytes(archive_bytes(SMALL)[:30])
    with pytest.raises(DumpError, match=r"2 dumps of database 'admin': data/db/dump/2026-03-01T00_00/admin, "
                                        r"data/db/dump/cut\.archive"):
        mongorestore.locate(tmp_path, "admin")


# --- 1 and 8. the drill accounts for every document ----------------------------------------------------------

def _tarball(root: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(root / "data", arcname="data")
    return buf.getvalue()


def _drill(sandbox, tmp_path: Path, colls: list[Coll], **settings) -> tuple[restore.Drill, list]:
    write_directory(tmp_path / "src/data/db/dump/2026-03-01T00_00", colls)
    s3 = sandbox.s3()
    bucket = f"trust-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    body = _tarball(tmp_path / "src")
    s3.put_object(Bucket=bucket, Key="dev/2026-03-01T00_00.tar.gz", Body=body)
    now = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    backup = Backup("dev/2026-03-01T00_00.tar.gz", now, now, len(body))
    config = restore.RestoreSettings(collections=["project", "file"], min_counts={}, **settings)
    with mongotarget.uri_target(sandbox.mongo_uri, mongotarget.fresh_database_name()) as t:
        result = restore.drill(s3, bucket, backup, t, config)
    return result, restore.judge(result, config, None)


def test_a_capped_collection_that_kept_fewer_documents_is_rst013(sandbox, tmp_path: Path):
    # More documents than one insert batch (5,000): SecantusDB trims a capped collection between inserts.
    capped = Coll("file", [{"_id": i} for i in range(5203)], options={"capped": True, "size": 2**20, "max": 700})
    result, findings = _drill(sandbox, tmp_path, [SMALL[0], capped])
    assert [(f.code, f.message) for f in findings] == [  # the target is named in the message, not in where
        ("RST013", f"admin.file: the dump holds 5,203 documents, 700 were restored into {result.target}")]
    assert restore.ledger_details(result, "dev", None, ["project", "file"])["in_dump"] == {"project": 3, "file": 5203}
    rows = restore.count_rows(result, restore.RestoreSettings(collections=["project", "file"]), None)
    assert restore.COUNT_COLUMNS[1:3] == ["documents in the dump", "restored count"]
    assert rows[:2] == [["project", 3, 3, None, None], ["file", 5203, 700, None, None]]


def test_a_healthy_drill_lists_what_it_did_not_restore(sandbox, tmp_path: Path):
    result, findings = _drill(sandbox, tmp_path, [*SMALL, USERS, ROLES, VERSION])
    assert findings == []
    rows = {r[0]: r for r in restore.count_rows(result, restore.RestoreSettings(collections=["project"]), None)}
    assert rows["system.users"][1:3] == [3, "not restored: users and roles are not restored "
                                            "([restore] restore_users = false)"]
    assert rows["empty"][1:3] == [0, 0]
    assert restore.users_and_roles(result, restore.RestoreSettings()) == (
        "3 users, 1 roles in the dump (not restored: [restore] restore_users = false)")


def test_an_unrestorable_time_series_collection_fails_the_drill(sandbox, tmp_path: Path):
    # SecantusDB creates time-series collections; options it refuses stand in for a server without them.
    refused = Coll("readings", TS.docs, options={"timeseries": "from a newer server"}, type="timeseries")
    result, findings = _drill(sandbox, tmp_path, [*SMALL, refused])
    assert [f.code for f in findings] == ["RST014"]
    assert findings[0].message.startswith(f"admin.readings: the drill could not restore its 5 documents into "
                                          f"{result.target}: ")
    assert result.broken is None


def test_a_collection_name_pymongo_refuses_is_one_rst014_line(sandbox, tmp_path: Path):
    # The server creates 'a.' and 'a..b' (mongodump dumps them, mongorestore restores them) but pymongo refuses
    # to address them: the restore ended in an InvalidName traceback.
    odd = [Coll("a.", [{"_id": 1}, {"_id": 2}]), Coll("a..b", [{"_id": 1}])]
    result, findings = _drill(sandbox, tmp_path, [*SMALL, *odd])
    by_name = {f.message.split(":")[0]: f for f in findings}
    assert sorted(by_name) == ["admin.a.", "admin.a..b"] and {f.code for f in findings} == {"RST014"}
    assert by_name["admin.a."].message.startswith(f"admin.a.: the drill could not restore its 2 documents into "
                                                  f"{result.target}: the built-in restorer cannot address 'a.' (pymongo: ")
    assert result.broken is None and result.in_dump == {"project": 3, "file": 2, "empty": 0, "a.": 2, "a..b": 1}


def test_the_drill_counts_collections_pymongo_cannot_address(target):
    # After a mongorestore binary restored 'a.', counting it with db["a."] raised InvalidName.
    db = target.client[target.database]
    for name, n in (("a.", 2), ("a..b", 1), ("plain", 3), ("empty", 0)):
        db.command({"create": name})
        if n:
            db.command({"insert": name, "documents": [{"_id": i} for i in range(n)]})
    assert restore.count(db, {"a.": "a.", "a..b": "a..b", "plain": "plain", "empty": "empty", "gone": "gone"}) == \
        {"a.": 2, "a..b": 1, "plain": 3, "empty": 0, "gone": None}


def test_broken_bson_in_a_backup_is_a_broken_verdict(sandbox, tmp_path: Path):
    result, findings = _drill(sandbox, tmp_path, [Coll("project", [{"_id": 1}, _bad_type_byte()])])
    assert [(f.code, f.message.split(":")[0]) for f in findings] == [("RST012", "project.bson")]
    assert restore.ledger_details(result, "dev", None, ["project", "file"])["verdict"] == "broken"


def test_the_longest_collection_name_admin_holds_restores_into_the_drill_database(sandbox, tmp_path: Path):
    # Issue 26: admin.<247 characters> is 253 bytes; under the old 41-character drill name it was 289, over the
    # server's 255, and the drill failed a healthy backup.
    longest = "c" * 247
    result, findings = _drill(sandbox, tmp_path, [*SMALL, Coll(longest, [{"_id": 1}, {"_id": 2}])])
    assert findings == [] and result.counts[longest] == result.in_dump[longest] == 2


def test_thousands_of_stray_namespaces_are_summarised_in_the_report_and_the_ledger():
    # Issue 26: 20,000 stray files in admin/ made 20,008 report rows and a 750 KB ledger record.
    stray = {f"stray{i:05d}": 0 for i in range(20_000)}
    taken = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    result = restore.Drill("b", Backup("dev/2026-03-01T00_00.tar.gz", taken, taken, 1),
                           restored=mongorestore.Restored(in_dump={"project": 3, **stray},
                                                          not_restored={"system.users": "users"}))
    result.counts = {"project": 3, "file": None, **stray}
    settings = restore.RestoreSettings(collections=["project", "file"])
    rows = restore.count_rows(result, settings, None)
    shown = restore.OTHERS_SHOWN
    assert len(rows) == 2 + shown + 1
    assert rows[2][0] == "stray00000" and rows[-1] == ["… and 19,951 more namespaces", 0, None, None, None]
    details = restore.ledger_details(result, "dev", None, settings.collections)
    assert details["counts"] == {"project": 3, "file": None, **dict(list(stray.items())[:shown])}
    assert len(details["in_dump"]) == 1 + shown and details["namespaces_left_out"] == 20_001 - shown
    assert len(json.dumps(details)) < 10_000
