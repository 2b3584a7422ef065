"""The backup's tar layer read strictly (issue 26): archives written here byte by byte, not with tarfile.

The writer follows POSIX ustar (512-byte headers, octal fields, the checksum summed with its own field as
8 spaces) and pax extended headers (``"%d %s=%s\\n"``, the length counting itself), so that the archives
test opschecks.areas.restore.tarscan against the format rather than against tarfile's idea of it.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import NamedTuple

import bson
import pytest

from opschecks.areas.restore import archive
from opschecks.sandbox.dumps import documents, metadata
from opschecks.sandbox.seed import backup_counts
from tests.test_restore_drill import Drill, drill  # noqa: F401  (the drill fixture)

pytest_plugins = ["pytester"]
BLOCK = 512
STAMP = "2026-03-01T00_00"
DB_DIR = f"data/db/dump/{STAMP}/admin"


def _octal(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


def header(name: bytes, size: int = 0, kind: bytes = b"0", mtime: bytes | None = None) -> bytes:
    """A ustar header; ``mtime`` replaces the 12-byte field as given (e.g. GNU base-256)."""
    assert len(name) <= 100
    h = bytearray(BLOCK)
    h[0:100] = name.ljust(100, b"\0")
    h[100:108] = _octal(0o755 if kind == b"5" else 0o644, 8)
    h[108:116] = _octal(1000, 8)
    h[116:124] = _octal(1000, 8)
    h[124:136] = _octal(size, 12)
    h[136:148] = mtime if mtime is not None else _octal(1_772_323_200, 12)
    h[148:156] = b" " * 8
    h[156:157] = kind
    h[257:263] = b"ustar\0"
    h[263:265] = b"00"
    h[148:156] = b"%06o\0 " % sum(h)
    assert len(h) == BLOCK, "a field overflowed its width"
    return bytes(h)


def pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % BLOCK)


def pax(**records: bytes) -> bytes:
    """A pax extended header ('x') holding ``records``."""
    body = b""
    for key, value in records.items():
        rest = b" " + key.encode() + b"=" + value + b"\n"
        length = len(rest) + 1
        while length != len(rest) + len(str(length)):  # the length counts its own digits
            length = len(rest) + len(str(length))
        body += str(length).encode() + rest
    return header(b"PaxHeaders/x", len(body), b"x") + pad(body)


def entry(name: str | bytes, data: bytes | None = None, **pax_records: bytes) -> bytes:
    """One member: a directory when ``data`` is None (name ending in '/'), else a regular file."""
    raw = name.encode() if isinstance(name, str) else name
    ext = pax(**pax_records) if pax_records else b""
    if data is None:
        return ext + header(raw, 0, b"5")
    return ext + header(raw, len(data), b"0") + pad(data)


END = bytes(2 * BLOCK)


def tar(*members: bytes, end: bytes = END) -> bytes:
    body = b"".join(members) + end
    return body + bytes(-len(body) % 10240)  # tar's 20-block records


class Layout(NamedTuple):
    members: list[bytes]
    offsets: list[int]  # of each member's header
    names: list[str]


def dump_members(counts: dict[str, int]) -> Layout:
    """The members backup.sh's tarball holds: the directories down to admin/, then .bson and metadata per collection."""
    members = [entry(p + "/") for p in ("data", "data/db", "data/db/dump", f"data/db/dump/{STAMP}", DB_DIR)]
    names = ["data/", "data/db/", "data/db/dump/", f"data/db/dump/{STAMP}/", f"{DB_DIR}/"]
    for collection, count in counts.items():
        payload = b"".join(bson.encode(d) for d in documents(collection, count))
        for name, data in ((f"{collection}.bson", payload),
                           (f"{collection}.metadata.json", json.dumps(metadata("admin", collection)).encode())):
            members.append(entry(f"{DB_DIR}/{name}", data))
            names.append(f"{DB_DIR}/{name}")
    offsets = [sum(len(m) for m in members[:i]) for i in range(len(members))]
    return Layout(members, offsets, names)


COUNTS = {"project": 3, "submissionEnvelope": 5}


def _extract(tmp_path: Path, raw_tar: bytes, **kwargs: float) -> Path:
    src = tmp_path / "b.tar.gz"
    src.write_bytes(gzip.compress(raw_tar))
    out = tmp_path / "out"
    archive.extract(src, out, **kwargs)
    return out


def _refused(tmp_path: Path, raw_tar: bytes, error: type[Exception] = archive.BrokenArchive,
             **kwargs: float) -> str:
    with pytest.raises(error) as err:
        _extract(tmp_path, raw_tar, **kwargs)
    out = tmp_path / "out"
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*")), "nothing extracted before the refusal"
    return f"{getattr(err.value, 'code', 'infra')} {err.value}"


def test_the_writer_makes_a_backup_the_drill_extracts(tmp_path: Path):
    layout = dump_members(COUNTS)
    out = _extract(tmp_path, tar(*layout.members, entry(f"{DB_DIR}/long", b"x", path=f"{DB_DIR}/{'n' * 150}".encode(),
                                                        mtime=b"1772323200.5")))
    assert sorted(p.name for p in (out / DB_DIR).iterdir()) == sorted(
        [*(f"{c}.bson" for c in COUNTS), *(f"{c}.metadata.json" for c in COUNTS), "n" * 150])


# --- 1. a header that fails its checksum, or a zeroed or garbage header, before the end marker ------------------

def _flip(raw: bytes, at: int) -> bytes:
    return raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1:]


def _replace_block(raw: bytes, at: int, block: bytes) -> bytes:
    return raw[:at] + block + raw[at + BLOCK:]


@pytest.mark.parametrize("victim", [1, 6, -1], ids=["directory", "first-bson", "last-member"])
def test_a_header_failing_its_checksum_is_rst010_at_its_offset(tmp_path: Path, victim: int):
    layout = dump_members(COUNTS)
    at = layout.offsets[victim]
    message = _refused(tmp_path, _flip(tar(*layout.members), at + 3))  # a byte of the name
    assert message.startswith(f"RST010 the backup is truncated or corrupt: the member header at byte {at} fails "
                              "its checksum")


def test_a_zeroed_header_in_the_middle_is_rst010_at_its_offset(tmp_path: Path):
    layout = dump_members(COUNTS)
    at = layout.offsets[6]  # project.metadata.json: its data follows
    message = _refused(tmp_path, _replace_block(tar(*layout.members), at, bytes(BLOCK)))
    assert message == (f"RST010 the backup is truncated or corrupt: a zero block at byte {at} where a member header "
                       "was expected, followed by more data (a zeroed or lost header)")


def test_two_zeroed_blocks_in_the_middle_are_not_the_end(tmp_path: Path):
    """A zeroed directory header and the next header: tarfile sees the end marker and stops without a word."""
    layout = dump_members(COUNTS)
    at = layout.offsets[4]
    raw = tar(*layout.members)
    raw = raw[:at] + bytes(2 * BLOCK) + raw[at + 2 * BLOCK:]
    message = _refused(tmp_path, raw)
    assert message == (f"RST010 the backup is truncated or corrupt: data at byte {at + 2 * BLOCK}, after the "
                       "end-of-archive marker (a zeroed header before it?)")


def test_a_garbage_header_is_rst010_at_its_offset(tmp_path: Path):
    layout = dump_members(COUNTS)
    at = layout.offsets[7]
    garbage = bytes((i * 37 + 11) % 256 for i in range(BLOCK))
    message = _refused(tmp_path, _replace_block(tar(*layout.members), at, garbage))
    assert message.startswith(f"RST010 the backup is truncated or corrupt: the member header at byte {at} fails "
                              "its checksum")


# --- 2. a tar stream without its end-of-archive marker is truncated ---------------------------------------------

@pytest.mark.parametrize("end", [b"", bytes(BLOCK)], ids=["no-zero-block", "one-zero-block"])
def test_a_stream_ending_at_a_member_boundary_is_truncated(tmp_path: Path, end: bytes):
    layout = dump_members(COUNTS)
    raw = b"".join(layout.members) + end  # a valid gzip stream of an unfinished tar stream
    message = _refused(tmp_path, raw)
    assert message.startswith(f"RST010 the backup is truncated or corrupt: the tar stream ends at byte {len(raw)} ")
    assert message.endswith("truncated (no end-of-archive marker)")


def test_a_stream_ending_inside_a_member_is_truncated(tmp_path: Path):
    layout = dump_members(COUNTS)
    raw = b"".join(layout.members)[: layout.offsets[-1] + BLOCK + 10]
    message = _refused(tmp_path, raw)
    assert message.startswith(f"RST010 the backup is truncated or corrupt: the tar stream ends at byte {len(raw)} "
                              f"inside member '{layout.names[-1]}' (header at byte {layout.offsets[-1]}")


# --- 3. a path twice --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("second", "shown", "first"), [
    (entry(f"{DB_DIR}/project.bson", b"other"), f"{DB_DIR}/project.bson", f"file '{DB_DIR}/project.bson'"),
    (entry(f"./{DB_DIR}/project.bson", b"other"), f"./{DB_DIR}/project.bson", f"file '{DB_DIR}/project.bson'"),
    (entry(f"data/db//dump/{STAMP}/admin/project.bson", b"x"), f"data/db//dump/{STAMP}/admin/project.bson",
     f"file '{DB_DIR}/project.bson'"),
    (entry(f"{DB_DIR}/project.bson/"), f"{DB_DIR}/project.bson/", f"file '{DB_DIR}/project.bson'"),
    (entry("data/db"), "data/db", "directory 'data/db/'"),
], ids=["same", "dot-slash", "double-slash", "file-then-directory", "directory-then-file"])
def test_a_path_twice_is_refused_naming_it(tmp_path: Path, second: bytes, shown: str, first: str):
    layout = dump_members(COUNTS)
    at = sum(len(m) for m in layout.members)
    message = _refused(tmp_path, tar(*layout.members, second), archive.UnsafeArchive)
    key = shown.replace("//", "/").removeprefix("./").rstrip("/")
    assert message == (f"RST011 refused archive member {shown!r} at byte {at}: the path {key!r} is already the "
                       f"{first} at byte {layout.offsets[layout.names.index(first.split(chr(39))[1])]}")


# --- 4. what made tarfile crash, and the space it needs --------------------------------------------------------

def _gnu_longname(name: bytes) -> bytes:
    return header(b"././@LongLink", len(name) + 1, b"L") + pad(name + b"\0")


@pytest.mark.parametrize(("member", "expected"), [
    (entry(f"{DB_DIR}/x", b"1", path=f"{DB_DIR}/{'a' * 300}.bson".encode()),
     "has a component of 305 bytes (at most 255)"),
    (_gnu_longname(f"{DB_DIR}/{'a' * 300}.bson".encode()) + header(b"trunc", 1) + pad(b"1"),
     "has a component of 305 bytes (at most 255)"),
    (header(f"{DB_DIR}/t.bson".encode(), 1, mtime=b"\x80" + (2**70).to_bytes(11, "big")) + pad(b"1"),
     f"member '{DB_DIR}/t.bson' at byte {{at}} has mtime {2**70}, not a time (0 to year 9999)"),
    (entry(f"{DB_DIR}/n.bson", b"1", mtime=b"nan"),
     f"member '{DB_DIR}/n.bson' at byte {{at}} has mtime nan, not a time (0 to year 9999)"),
    (entry(f"{DB_DIR}/caf\xe9.bson".encode("latin-1"), b"1"),
     f"the member name b'{DB_DIR}/caf\\xe9.bson' at byte {{at}} is not UTF-8"),
], ids=["pax-300-byte-name", "gnu-300-byte-name", "mtime-2**70", "pax-mtime-nan", "latin-1-name"])
def test_what_crashed_tarfile_is_one_rst010_line(tmp_path: Path, member: bytes, expected: str):
    layout = dump_members(COUNTS)
    at = sum(len(m) for m in layout.members)
    message = _refused(tmp_path, tar(*layout.members, member))
    assert message.startswith("RST010 the backup is truncated or corrupt: ")
    assert expected.format(at=at) in message


def test_a_backup_that_cannot_fit_the_temp_dir_is_refused_before_extracting(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch):
    layout = dump_members(COUNTS)
    real = shutil.disk_usage
    monkeypatch.setattr(archive.shutil, "disk_usage", lambda p: real(p)._replace(free=4096))  # a full disk
    message = _refused(tmp_path, tar(*layout.members), archive.NoSpace)
    assert message == (f"infra not enough space in {tmp_path} to extract the backup: it needs {9 * 4096:,} bytes, "
                       "4,096 are free (set TMPDIR to a larger disk)")


def test_a_decompression_bomb_is_refused_before_it_is_written(tmp_path: Path):
    layout = dump_members(COUNTS)
    bomb = entry(f"{DB_DIR}/project.bson.pad", bytes(8 * 2**20))
    src_size = len(gzip.compress(tar(*layout.members, bomb)))
    message = _refused(tmp_path, tar(*layout.members, bomb), archive.UnsafeArchive)
    assert message.startswith(f"RST011 refused archive: its members up to '{DB_DIR}/project.bson.pad' already expand "
                              "to ")
    assert f"more than 100 times its {src_size:,} compressed bytes ([restore] max_expansion_ratio)" in message
    # The cap is a setting: the same archive extracts under a higher one.
    _extract(tmp_path, tar(*layout.members, bomb), max_expansion_ratio=2000)


def test_a_bomb_is_refused_at_its_header_before_its_data_is_decompressed(tmp_path: Path):
    """A header declaring 8 GiB, with the data missing: refused for its size, not found truncated after reading."""
    layout = dump_members(COUNTS)
    bomb = header(f"{DB_DIR}/project.bson.pad".encode(), 8**11 - 1) + bytes(BLOCK)
    message = _refused(tmp_path, tar(*layout.members, bomb), archive.UnsafeArchive)
    assert message.startswith(f"RST011 refused archive: its members up to '{DB_DIR}/project.bson.pad' already expand "
                              "to 8,589,9")  # 8 GiB and the dump's few bytes


# --- the drill itself: RST010 at the offset, not RST001 ---------------------------------------------------------

def test_the_drill_reports_a_zeroed_header_as_rst010_not_a_missing_collection(drill: Drill):  # noqa: F811
    counts = backup_counts(0)
    layout = dump_members(counts)
    victim = layout.names.index(f"{DB_DIR}/project.bson")
    at = layout.offsets[victim]
    raw = tar(*layout.members)
    key = drill.put(0, body=gzip.compress(raw[:at] + bytes(BLOCK) + raw[at + BLOCK:]))
    assert STAMP in key
    result = drill.run_with_uri("--env", drill.env)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*[[]RST010[]] s3://{drill.bucket}/{key}: the backup is truncated or corrupt: "
                                 f"a zero block at byte {at} where a member header was expected*"])
    assert "RST001" not in result.stdout.str() and "Traceback" not in result.stdout.str()
    [record] = drill.records()
    assert record.details["verdict"] == "broken" and drill.leftovers() == []
