"""Fetch a backup tarball from S3 and unpack it without trusting it.

A backup is untrusted input: a corrupt upload, a truncated transfer or a
hostile archive must give a clear failure naming the object, and nothing may be
written outside the drill's temp dir. Extraction uses tarfile's ``data`` filter
and, before it, refuses outright what a mongodump tarball never contains:
absolute paths, ``..`` components, links and device files (the ``data`` filter
would silently rewrite some of them instead).
"""

from __future__ import annotations

import gzip
import tarfile
import threading
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any


class BrokenArchive(Exception):
    """The backup object is not a readable tarball; the message names it."""

    code = "RST010"


class UnsafeArchive(BrokenArchive):
    """The backup holds a member that could write outside the extraction dir."""

    code = "RST011"


def download(s3: Any, bucket: str, key: str, dest: Path, progress: Callable[[int], None] | None = None) -> int:
    """Download with boto3's managed transfer (multipart, retried) and check the size against the object."""
    expected = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
    s3.download_file(bucket, key, str(dest), Callback=progress)
    got = dest.stat().st_size
    if got != expected:
        raise BrokenArchive(f"downloaded {got} bytes but the object has {expected}")
    return got


def extract(archive: Path, dest: Path) -> None:
    """Unpack the ``.tar.gz`` ``archive`` into ``dest``, reading it once, front to back."""
    try:
        with gzip.open(archive, "rb") as gz:
            with tarfile.open(fileobj=gz, mode="r|") as tar:
                tar.extractall(dest, filter=_refuse_unsafe)
            # tar stops at its end-of-archive blocks; reading on to the gzip trailer verifies its CRC,
            # so a corrupted middle fails here instead of restoring garbage.
            while gz.read(2**20):
                pass
    except (tarfile.ReadError, tarfile.StreamError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise BrokenArchive(f"the backup is truncated or corrupt: {exc or type(exc).__name__}") from None
    except tarfile.FilterError as exc:
        raise UnsafeArchive(f"refused archive member: {exc}") from None


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
