"""HTML fragments for the report: the small tables each check attaches to its row."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A titled HTML table; cells are escaped, None shows as a dash."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{'—' if v is None else html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    return (
        f'<div class="opschecks-table"><p><b>{html.escape(title)}</b></p>'
        f'<table border="1" cellpadding="3" style="border-collapse:collapse">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )
