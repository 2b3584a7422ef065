"""HTML fragments for the report: the tables each check attaches to its row, and the inline trend figures.

No script: tables longer than ``PREVIEW_ROWS`` show their first rows and keep
the rest behind a ``<details>`` "show all", which every browser opens natively.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

PREVIEW_ROWS = 20


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A titled HTML table; cells are escaped, None shows as a dash; past 20 rows the rest is collapsed."""
    rows = list(rows)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    shown = _table(head, rows[:PREVIEW_ROWS])
    if len(rows) > PREVIEW_ROWS:
        shown += (f'<details class="opschecks-more"><summary>show all {len(rows)} rows '
                  f"({len(rows) - PREVIEW_ROWS} more)</summary>{_table(head, rows[PREVIEW_ROWS:])}</details>")
    return f'<div class="opschecks-table"><p><b>{html.escape(title)}</b></p>{shown}</div>'


def _table(head: str, rows: Sequence[Sequence[Any]]) -> str:
    body = "".join(
        "<tr>" + "".join(f"<td>{'—' if v is None else html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    return (f'<table border="1" cellpadding="3" style="border-collapse:collapse">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def figure(title: str, png_base64: str, caption: str = "", details: str = "", details_label: str = "") -> str:
    """An inline plot at a readable size, its caption, and (collapsed behind it) the numbers it was drawn from."""
    more = (f'<details class="opschecks-more"><summary>{html.escape(details_label)}</summary>{details}</details>'
            if details else "")
    return (f'<figure class="opschecks-figure"><img alt="{html.escape(title)}" src="data:image/png;base64,{png_base64}">'
            f"<figcaption>{html.escape(caption)}</figcaption>"
            f"{more}</figure>")
