"""Fetch a backup tarball from S3 and unpack it without trusting it.

A backup is untrusted input: a corrupt upload, a truncated transfer or a
hostile archive must give a clear failure naming the object, and nothing may be
written outside the drill's temp dir. Extraction uses tarfile's ``data`` filter
and, before it, refuses outright what a mongodump tarball never contains:
absolute paths, ``..`` components, links and device files (the ``data`` filter
would silently rewrite some of them instead).

tarfile alone is lenient (it stops silently at a corrupt header, as if the archive ended), so the
decompressed stream is first walked block by block (opschecks.areas.restore.tarscan), which also sizes the extraction
against the temp dir's free space and the expansion cap before anything is written.
"""

from __future__ import annotations

import gzip
import shutil
import tarfile
import threading
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from boto3.exceptions import RetriesExceededError

from opschecks.areas.restore import tarscan
from opschecks.errors import Unreachable
from opschecks.areas.restore.settings import DEFAULT_MAX_EXPANSION_RATIO

_FS_BLOCK = 4096  # what each file costs at least on disk


class BrokenArchive(Exception):
    """The backup object is not a readable tarball; the message names it."""

    code = "RST010"


class UnsafeArchive(BrokenArchive):
    """The backup holds a member that could write outside the extraction dir."""

    code = "RST011"


class NoSpace(Unreachable):
    """The temp dir cannot hold the extracted backup: the host's problem, not the backup's (no verdict)."""


def download(s3: Any, bucket: str, key: str, dest: Path, progress: Callable[[int], None] | None = None) -> int:
    """Download with boto3's managed transfer (multipart, retried) and check the size against the object."""
    expected = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
    try:
        s3.download_file(bucket, key, str(dest), Callback=progress)
    except RetriesExceededError as exc:
        # s3transfer retries a download whose body breaks off (reset, cut short) and then raises this, whose
        # message names neither the object nor the endpoint.
        last = exc.last_exception
        raise Unreachable(f"S3 download of s3://{bucket}/{key} from {s3.meta.endpoint_url} broke off part way, "
                          f"every attempt: {type(last).__name__}: {' '.join(str(last).split())}") from None
    got = dest.stat().st_size
    if got != expected:
        raise BrokenArchive(f"downloaded {got} bytes but the object has {expected}")
    return got


def extract(archive: Path, dest: Path, max_expansion_ratio: float = DEFAULT_MAX_EXPANSION_RATIO) -> None:
    """Unpack the ``.tar.gz`` ``archive`` into ``dest``: walk it strictly (nothing written), then extract it."""
    listing = _scan(archive, max_expansion_ratio)
    _check_space(listing, dest)
    extracted: list[int] = []

    def refuse_unsafe(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
        extracted.append(member.offset)
        return _refuse_unsafe(member, path)

    try:
        with gzip.open(archive, "rb") as gz:
            with tarfile.open(fileobj=gz, mode="r|") as tar:
                tar.extractall(dest, filter=refuse_unsafe)
    except (tarfile.ReadError, tarfile.StreamError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise BrokenArchive(f"the backup is truncated or corrupt: {exc or type(exc).__name__}") from None
    except tarfile.FilterError as exc:
        raise UnsafeArchive(f"refused archive member: {exc}") from None
    walked = [m.offset for m in listing.members]
    if extracted != walked:  # tarfile read the stream differently from the walk: trust neither
        at = next((a for a, b in zip(extracted, walked) if a != b), None)
        raise BrokenArchive(f"the backup is truncated or corrupt: tarfile read {len(extracted)} members but the "
                            f"archive holds {len(walked)} (first difference at byte {at})")


def _scan(archive: Path, max_expansion_ratio: float) -> tarscan.Listing:
    """The strict walk, to the gzip trailer (its CRC catches a corrupted middle); a bomb stops it early."""
    compressed = archive.stat().st_size

    def cap(listing: tarscan.Listing) -> None:
        if listing.total_size > max_expansion_ratio * compressed:
            raise UnsafeArchive(f"refused archive: its members up to {listing.members[-1].name!r} already expand to "
                                f"{listing.total_size:,} bytes, more than {max_expansion_ratio:g} times its "
                                f"{compressed:,} compressed bytes ([restore] max_expansion_ratio)")

    try:
        with gzip.open(archive, "rb") as gz:
            return tarscan.scan(gz, cap)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise BrokenArchive(f"the backup is truncated or corrupt: {exc or type(exc).__name__}") from None
    except tarscan.TarError as exc:
        raise BrokenArchive(f"the backup is truncated or corrupt: {exc}") from None
    except tarscan.DuplicateMember as exc:
        raise UnsafeArchive(str(exc)) from None


def _check_space(listing: tarscan.Listing, dest: Path) -> None:
    where = next(p for p in (dest, *dest.parents) if p.exists())
    needed = sum(-(-max(m.size, 1) // _FS_BLOCK) * _FS_BLOCK for m in listing.members)
    free = shutil.disk_usage(where).free
    if needed > free:
        raise NoSpace(f"not enough space in {where} to extract the backup: it needs {needed:,} bytes, "
                      f"{free:,} are free (set TMPDIR to a larger disk)")


def _refuse_unsafe(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
    parts = PurePosixPath(member.name).parts
    if member.name.startswith(("/", "\\")) or (parts and parts[0].endswith(":")):
        reason = "absolute path"
    elif ".." in parts:
        reason = "'..' in path"
    elif member.issym() or member.islnk():
        reason = f"link to {member.linkname!r}"
    elif member.isdev():
        reason = "device or FIFO"
    else:
        return tarfile.data_filter(member, path)
    raise UnsafeArchive(f"refused archive member {member.name!r} ({reason})")


class TransferProgress:
    """boto3 transfer callback that writes ``label: 12.0 of 48.0 MiB (25%)`` at each whole percent.

    boto3 calls it from its worker threads with the bytes just transferred.
    """

    def __init__(self, label: str, total: int, write: Callable[[str], None]) -> None:
        self.label, self.total, self.write = label, total, write
        self.done = 0
        self.shown = -1
        self._lock = threading.Lock()

    def __call__(self, amount: int) -> None:
        with self._lock:
            self.done += amount
            percent = 100 if self.total <= 0 else min(100, self.done * 100 // self.total)
            if percent == self.shown:
                return
            self.shown = percent
            end = "\n" if percent == 100 else ""
            self.write(f"\r{self.label}: {self.done / 2**20:.1f} of {self.total / 2**20:.1f} MiB ({percent}%){end}")
