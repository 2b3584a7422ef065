"""The ledger: every run of every check, in place of the team's spreadsheet.

An append-only SQLite file (WAL, busy timeout) so that pytest-xdist workers and
concurrent runs on one machine append without losing records.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class LedgerSettings:
    path: str = "reports/ledger.sqlite"


@dataclass(frozen=True)
class Record:
    check: str  # the check's name without parameters, e.g. "test_backup_fresh"
    env: str
    outcome: str  # passed, failed, skipped, error
    started: dt.datetime  # UTC
    duration_s: float
    runner: str  # user@host
    details: dict[str, Any] = field(default_factory=dict)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    check_name TEXT NOT NULL,
    env TEXT NOT NULL,
    outcome TEXT NOT NULL,
    started TEXT NOT NULL,
    duration_s REAL NOT NULL,
    runner TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_check_env ON runs (check_name, env, started);
"""


@contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)
        yield conn
    finally:
        conn.close()


def append(path: Path, record: Record) -> None:
    with _connect(path) as conn, conn:
        conn.execute(
            "INSERT INTO runs (check_name, env, outcome, started, duration_s, runner, details)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                record.check,
                record.env,
                record.outcome,
                record.started.astimezone(dt.timezone.utc).isoformat(),
                record.duration_s,
                record.runner,
                json.dumps(record.details, sort_keys=True, default=str),
            ),
        )


def query(path: Path, check: str | None = None, env: str | None = None, outcome: str | None = None,
          limit: int | None = None) -> list[Record]:
    """Records matching the filters, newest first."""
    if not path.exists():
        return []
    clauses, params = [], []
    for column, value in (("check_name", check), ("env", env), ("outcome", outcome)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    sql = "SELECT check_name, env, outcome, started, duration_s, runner, details FROM runs"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY started DESC, id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    with _connect(path) as conn:
        rows = conn.execute(sql, params).fetchall()
    return [
        Record(check=c, env=e, outcome=o, started=dt.datetime.fromisoformat(s), duration_s=d, runner=r,
               details=json.loads(j))
        for c, e, o, s, d, r, j in rows
    ]
