"""Fetching and unpacking a backup: managed download with a size check and progress, safe extraction."""

from __future__ import annotations

import io
import tarfile
import uuid
from pathlib import Path

import pytest

from opschecks.areas.restore import archive
from opschecks.sandbox.dumps import backup_tarball

COUNTS = {"project": 3, "submissionEnvelope": 5}


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


def test_extracts_a_backup_tarball(tmp_path: Path):
    src = tmp_path / "b.tar.gz"
    src.write_bytes(backup_tarball("2026-01-02T00_00", COUNTS))
    archive.extract(src, tmp_path / "out")
    db_dir = tmp_path / "out/data/db/dump/2026-01-02T00_00/admin"
    assert sorted(p.name for p in db_dir.iterdir()) == [
        "project.bson", "project.metadata.json", "submissionEnvelope.bson", "submissionEnvelope.metadata.json"]


@pytest.mark.parametrize(("member", "reason"), [
    (_member("/tmp/evil"), "absolute path"),
    (_member("data/../../evil"), "'..' in path"),
    (_member("../evil"), "'..' in path"),
    (_member("data/link", tarfile.SYMTYPE, "/etc/passwd"), "link to '/etc/passwd'"),
    (_member("data/inside-link", tarfile.SYMTYPE, "sibling"), "link to 'sibling'"),
    (_member("data/hard", tarfile.LNKTYPE, "data/file"), "link to 'data/file'"),
    (_member("data/null", tarfile.CHRTYPE), "device or FIFO"),
    (_member("data/fifo", tarfile.FIFOTYPE), "device or FIFO"),
], ids=["absolute", "dotdot-inner", "dotdot", "symlink-out", "symlink-in", "hardlink", "chardev", "fifo"])
def test_refuses_unsafe_members_and_writes_nothing_outside(tmp_path: Path, member: tarfile.TarInfo, reason: str):
    data = None if member.issym() or member.islnk() or member.isdev() else b"pwned"
    src = tmp_path / "slip.tar.gz"
    src.write_bytes(_tar([(_member("data/file"), b"ok"), (member, data)]))
    dest = tmp_path / "box" / "out"
    dest.parent.mkdir()
    with pytest.raises(archive.UnsafeArchive) as err:
        archive.extract(src, dest)
    assert err.value.code == "RST011"
    assert f"refused archive member {member.name!r} ({reason})" in str(err.value)
    assert not Path("/tmp/evil").exists() and not (tmp_path / "evil").exists() and not (tmp_path / "box/evil").exists()
    written = {p.relative_to(dest).as_posix() for p in dest.rglob("*")}
    assert written <= {"data", "data/file"}


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_gzip_fails_clearly(tmp_path: Path, cut: float):
    whole = backup_tarball("2026-01-02T00_00", COUNTS)
    src = tmp_path / "t.tar.gz"
    src.write_bytes(whole[: int(len(whole) * cut)])
    with pytest.raises(archive.BrokenArchive) as err:
        archive.extract(src, tmp_path / "out")
    assert err.value.code == "RST010"
    assert str(err.value).startswith("the backup is truncated or corrupt: ")


def test_corrupt_gzip_fails_clearly(tmp_path: Path):
    whole = bytearray(backup_tarball("2026-01-02T00_00", COUNTS))
    whole[200:400] = bytes(200)
    src = tmp_path / "c.tar.gz"
    src.write_bytes(bytes(whole))
    with pytest.raises(archive.BrokenArchive, match="truncated or corrupt"):
        archive.extract(src, tmp_path / "out")


def test_download_checks_size_and_reports_progress(sandbox, tmp_path: Path):
    s3 = sandbox.s3()
    bucket = f"restore-dl-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    body = backup_tarball("2026-01-02T00_00", {"submissionEnvelope": 2000})
    s3.put_object(Bucket=bucket, Key="dev/2026-01-02T00_00.tar.gz", Body=body)
    lines: list[str] = []
    progress = archive.TransferProgress("dev backup", len(body), lines.append)
    size = archive.download(s3, bucket, "dev/2026-01-02T00_00.tar.gz", tmp_path / "b.tar.gz", progress)
    assert size == len(body) == (tmp_path / "b.tar.gz").stat().st_size
    assert lines[-1].endswith("(100%)\n") and lines[-1].startswith("\rdev backup: ")
    assert len(lines) <= 101


def test_transfer_progress_writes_each_percent_once():
    lines: list[str] = []
    progress = archive.TransferProgress("k", 4 * 2**20, lines.append)
    for _ in range(8):
        progress(2**19)
    progress(0)
    assert lines == [f"\rk: {i / 2:.1f} of 4.0 MiB ({i * 100 // 8}%)" + ("\n" if i == 8 else "") for i in range(1, 9)]
