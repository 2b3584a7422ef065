"""Trend plots for the report: each environment's backup sizes, and each restored collection's count over past drills.

PNG bytes from matplotlib's object API (no pyplot: no global state, no display);
the bucket's CloudWatch plot lives with its judgement in opschecks/areas/aws_usage/usage.py.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from opschecks.areas.backups.backups import Backup

SIZE = (6.4, 3.0)  # inches at 100 dpi: 640 px wide, the report's figure width


def backup_sizes(backups: Sequence[Backup], title: str) -> bytes:
    """Each backup's size (MiB) by the time it was taken."""
    fig = Figure(figsize=SIZE, dpi=100)
    ax = fig.subplots()
    ax.plot([b.taken for b in backups], [b.size / 2**20 for b in backups], marker="o", markersize=3)
    ax.set_ylabel("size (MiB)")
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=10)
    _dates(ax, [b.taken for b in backups])
    return _png(fig)


def restore_counts(drills: Sequence[tuple[dt.datetime, Mapping[str, int | None]]], title: str) -> bytes:
    """One line per collection: its restored document count at each drill (oldest first)."""
    return _per_collection(drills, title, "documents")


def content_ages(drills: Sequence[tuple[dt.datetime, Mapping[str, float | None]]], title: str) -> bytes:
    """One line per collection: the age of its newest restored document at the dump start, per drill (issue 27)."""
    return _per_collection(drills, title, "content age at the dump start (h)")


def _per_collection(drills: Sequence[tuple[dt.datetime, Mapping[str, float | None]]], title: str,
                    ylabel: str) -> bytes:
    fig = Figure(figsize=SIZE, dpi=100)
    ax = fig.subplots()
    names = sorted({name for _, counts in drills for name in counts})
    for name in names:
        points = [(when, counts[name]) for when, counts in drills if counts.get(name) is not None]
        ax.plot([w for w, _ in points], [c for _, c in points], marker="o", label=name)
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=10)
    if names:  # beside the plot, not over the lines
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    _dates(ax, [when for when, _ in drills])
    return _png(fig)


def _dates(ax: Any, moments: Sequence[dt.datetime]) -> None:
    if moments and max(moments) - min(moments) < dt.timedelta(hours=1):  # the first drill: a day either side
        ax.set_xlim(min(moments) - dt.timedelta(days=1), max(moments) + dt.timedelta(days=1))
    locator = AutoDateLocator(maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.grid(alpha=0.3)


def _png(fig: Figure) -> bytes:
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
