"""Walk the raw 512-byte blocks of a decompressed tar stream before tarfile extracts it.

tarfile is lenient where a backup must not be: it stops silently at a header that fails its checksum (as if
the archive ended there), accepts a stream without its end-of-archive marker, lets a later member of the same
path replace an earlier one, and crashes on an mtime beyond time_t or ``nan``. This walker reads the same bytes
to the POSIX ustar/pax layout (and GNU's long-name headers) and refuses all of that, naming the byte offset, so
that a broken backup is RST010 here and never a misleading "collection missing" after an incomplete extraction.
It only reads: extraction stays tarfile's (with its ``data`` filter).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import BinaryIO

BLOCK = 512
_ZERO = bytes(BLOCK)
_NO_DATA = (b"1", b"2", b"3", b"4", b"5", b"6")  # links, devices, directories, FIFOs: tarfile skips no data
_EXTENDED = (b"x", b"g", b"L", b"K")
_MAX_EXTENDED = 2**20  # a pax or long-name header larger than this is not a name or a time
_MAX_MTIME = 253402300799  # 9999-12-31T23:59:59Z: beyond it os.utime overflows or no filesystem stores it
_MAX_COMPONENT = 255  # NAME_MAX: a longer path component cannot be created (ENAMETOOLONG)


class TarError(Exception):
    """The tar stream is corrupt, truncated or unreadable; ``offset`` is the byte offset in the decompressed stream."""


class DuplicateMember(Exception):
    """Two members have the same path after normalisation (one would silently replace the other)."""


@dataclass(frozen=True)
class Member:
    offset: int  # of its first header (pax or long-name header included), as tarfile's TarInfo.offset
    name: str
    size: int
    is_dir: bool


@dataclass
class Listing:
    members: list[Member] = field(default_factory=list)
    total_size: int = 0  # declared bytes of all regular members


def scan(stream: BinaryIO, on_member: Callable[[Listing], None] | None = None) -> Listing:
    """Read ``stream`` to its end; ``on_member`` sees the listing after each member (to stop a bomb early)."""
    listing = Listing()
    seen: dict[str, Member] = {}
    globals_: dict[str, bytes] = {}
    pending: dict[str, bytes] = {}
    offset = 0
    start: int | None = None
    while True:
        block = _read(stream, BLOCK, offset, "where a member header or the end-of-archive marker was expected")
        if block == _ZERO:
            after = _read(stream, BLOCK, offset + BLOCK, "after a zero block (the end-of-archive marker is two)")
            if after == _ZERO:
                break
            raise TarError(f"a zero block at byte {offset} where a member header was expected, followed by more data "
                           "(a zeroed or lost header)")
        _check_sum(block, offset)
        start = offset if start is None else start
        kind = block[156:157]
        size = _number(block[124:136], offset, "size")
        if kind in _EXTENDED:
            if not 0 <= size <= _MAX_EXTENDED:
                raise TarError(f"the extended header at byte {offset} declares {size} bytes")
            data = _read(stream, _padded(size), offset + BLOCK, f"inside the extended header at byte {offset}")[:size]
            if kind in (b"x", b"g"):
                (pending if kind == b"x" else globals_).update(_pax(data, offset))
            else:
                pending["path" if kind == b"L" else "linkpath"] = data.split(b"\0", 1)[0]
            offset += BLOCK + _padded(size)
            continue
        headers = globals_ | pending
        raw_name = headers.get("path") or _ustar_name(block)
        name = _name(raw_name, start)
        if kind == b"\0" and name.endswith("/"):  # pre-POSIX tars marked directories by the slash alone (as tarfile)
            kind = b"5"
        if "size" in headers:
            size = _pax_number(headers["size"], int, start, "size")
        mtime = _pax_number(headers["mtime"], float, start, "mtime") if "mtime" in headers else \
            _number(block[136:148], offset, "mtime")
        if not (math.isfinite(mtime) and 0 <= mtime <= _MAX_MTIME):
            raise TarError(f"member {name!r} at byte {start} has mtime {mtime}, not a time (0 to year 9999)")
        if kind == b"S":
            raise TarError(f"member {name!r} at byte {start} is a GNU sparse file, which a backup never holds")
        if size < 0 or (kind in _NO_DATA and size):
            raise TarError(f"member {name!r} at byte {start} declares {size} bytes of data for type {kind!r}")
        member = Member(start, name, size, kind == b"5")
        key = PurePosixPath(name).as_posix()  # 'a//b', './a', 'a/' are the paths 'a/b', 'a', 'a'
        if key in seen:
            first = seen[key]
            raise DuplicateMember(f"refused archive member {name!r} at byte {start}: the path {key!r} is already the "
                                  f"{'directory' if first.is_dir else 'file'} {first.name!r} at byte {first.offset}")
        seen[key] = member
        listing.members.append(member)
        offset += BLOCK
        if kind not in _NO_DATA:
            listing.total_size += size
        if on_member:  # before its data is decompressed: a bomb's first header is enough
            on_member(listing)
        if kind not in _NO_DATA:
            _skip(stream, _padded(size), offset, f"inside member {name!r} (header at byte {start}, {size} bytes declared)")
            offset += _padded(size)
        pending, start = {}, None
    _zeros_to_end(stream, offset + 2 * BLOCK)
    return listing


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _read(stream: BinaryIO, n: int, offset: int, where: str) -> bytes:
    data = stream.read(n)
    if len(data) < n:
        raise TarError(f"the tar stream ends at byte {offset + len(data)} {where}: truncated "
                       "(no end-of-archive marker)")
    return data


def _skip(stream: BinaryIO, n: int, offset: int, where: str) -> None:
    while n:
        got = len(stream.read(min(n, 2**20)))
        if not got:
            raise TarError(f"the tar stream ends at byte {offset} {where}: truncated (no end-of-archive marker)")
        n, offset = n - got, offset + got


def _zeros_to_end(stream: BinaryIO, offset: int) -> None:
    """tar pads its end-of-archive marker with zeros to a record; anything else after it is a lost member."""
    while chunk := stream.read(2**20):
        if chunk.count(0) != len(chunk):
            at = offset + next(i for i, b in enumerate(chunk) if b)
            raise TarError(f"data at byte {at}, after the end-of-archive marker (a zeroed header before it?)")
        offset += len(chunk)


def _check_sum(block: bytes, offset: int) -> None:
    stored = _number(block[148:156], offset, "checksum", checksum=True)
    unsigned = sum(block[:148]) + 8 * 0x20 + sum(block[156:])
    signed = unsigned - 256 * sum(1 for b in block[:148] + block[156:] if b >= 128)  # old tars summed signed chars
    if stored not in (unsigned, signed):
        raise TarError(f"the member header at byte {offset} fails its checksum (stored {stored:o}, computed "
                       f"{unsigned:o}): corrupt")


def _number(raw: bytes, offset: int, what: str, checksum: bool = False) -> int:
    if raw[:1] in (b"\x80", b"\xff") and not checksum:  # GNU base-256, for sizes and times octal cannot hold
        value = int.from_bytes(raw[1:], "big")
        return value - 256 ** (len(raw) - 1) if raw[0] == 0xFF else value
    text = raw.split(b"\0", 1)[0].strip(b" ")
    try:
        return int(text, 8) if text else 0
    except ValueError:
        if checksum:
            raise TarError(f"the member header at byte {offset} fails its checksum (field {raw!r}): corrupt "
                           "or not a header") from None
        raise TarError(f"the member header at byte {offset} has an invalid {what} field {raw!r}") from None


def _pax(data: bytes, offset: int) -> dict[str, bytes]:
    """POSIX pax records ``"%d %s=%s\\n"``, the length counting the whole record."""
    records: dict[str, bytes] = {}
    pos = 0
    while pos < len(data) and data[pos:].strip(b"\0"):
        length_text, _, _ = data[pos:pos + 20].partition(b" ")
        try:
            length = int(length_text)
        except ValueError:
            length = 0
        record = data[pos:pos + length]
        keyword, eq, value = record[len(length_text) + 1:-1].partition(b"=")
        if length <= len(length_text) + 1 or len(record) < length or not record.endswith(b"\n") or not eq:
            raise TarError(f"the pax header at byte {offset} has a malformed record at its byte {pos}")
        records[keyword.decode("utf-8", "replace")] = value
        pos += length
    return records


def _pax_number(raw: bytes, kind: type[int] | type[float], offset: int, what: str) -> float:
    try:
        return kind(raw.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        raise TarError(f"the pax header of the member at byte {offset} has an invalid {what} {raw!r}") from None


def _ustar_name(block: bytes) -> bytes:
    name = block[:100].split(b"\0", 1)[0]
    prefix = block[345:500].split(b"\0", 1)[0]  # whatever the magic, as tarfile reads it
    return prefix + b"/" + name if prefix else name


def _name(raw: bytes, offset: int) -> str:
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TarError(f"the member name {raw!r} at byte {offset} is not UTF-8") from None
    longest = max((len(part) for part in raw.split(b"/")), default=0)
    if longest > _MAX_COMPONENT:
        raise TarError(f"the member name {name[:60]!r}... at byte {offset} has a component of {longest} bytes "
                       f"(at most {_MAX_COMPONENT})")
    return name
