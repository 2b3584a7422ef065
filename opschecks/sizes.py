"""Byte counts as people read them (1.5 GiB), for every area's messages and tables: one formatter, as for ages
(opschecks/timefmt.py)."""

from __future__ import annotations


def human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    raise AssertionError("unreachable")
