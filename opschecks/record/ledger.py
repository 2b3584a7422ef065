"""The ledger: every run of every check, in place of the team's spreadsheet.

Two stores, one interface (``append``, ``query``, ``latest``):

- ``SqliteLedger``: a local SQLite file (WAL, busy timeout) so pytest-xdist
  workers and concurrent runs on one machine append without losing records;
- ``S3Ledger``: a shared store at ``s3://bucket/prefix`` where every record is
  its own object, named by check, env, start time, outcome and a unique id.
  Concurrent writers never touch the same key, so no append can overwrite
  another (no read-modify-write, no locks), and a retried PUT rewrites the
  same key, so retries never duplicate a record. Listing the keys is the index.

A location is a path (SQLite) or an ``s3://`` URI; ``append(location, record)``
and ``query(location, ...)`` pick the store.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, unquote

import boto3
from botocore.config import Config as BotoConfig

from opschecks import aws
from opschecks.findings import Finding
from opschecks.record.settings import LedgerSettings


@dataclass(frozen=True)
class Record:
    check: str  # the check's id without parameters, e.g. "checks/test_backups.py::test_backup_is_fresh"
    env: str
    outcome: str  # passed, failed, skipped, error
    started: dt.datetime  # UTC
    duration_s: float
    runner: str  # user@host
    details: dict[str, Any] = field(default_factory=dict)
    cadences: tuple[str, ...] = ()  # the check's cadence markers (daily, fortnightly, monthly, sprint)
    run_id: str = ""  # the pytest run that produced it (shared by its xdist workers)
    findings: tuple[Finding, ...] = ()  # what it found wrong: how the next run tells new from still failing
    id: str = field(default_factory=lambda: uuid.uuid4().hex)  # unique: a replayed append is not a new record


@dataclass(frozen=True)
class Latest:
    """What ``due`` needs of a task (check x env): its newest run and its newest passing run, both at or before
    the moment asked for, its failing streak up to that moment, and the newest record stamped later than that
    moment (a runner's clock ahead)."""

    last_run: Record | None  # None: every record of the task is from the future
    last_pass: Record | None
    future: Record | None = None
    failing_since: dt.datetime | None = None  # the first failed/error run after the last pass (None: not failing)
    failures: int = 0  # failed/error runs since the last pass

    @property
    def any(self) -> Record:
        """A record of the task (its check, env, cadences): the newest run, else the one from the future."""
        return self.last_run or self.future


class Ledger(Protocol):
    location: str  # the file path or s3:// URI, for messages

    def append(self, record: Record) -> None: ...

    def query(self, check: str | None = None, env: str | None = None, outcome: str | None = None,
              limit: int | None = None, until: dt.datetime | None = None) -> list[Record]:
        """Records matching the filters, newest first; ``until``: none started after it (a runner whose clock is
        ahead wrote them), as ``latest`` reads them."""
        ...

    def latest(self, until: dt.datetime | None = None) -> list[Latest]: ...

    @property
    def skipped(self) -> list[str]:
        """Objects under the store's location that are not records, seen by the reads so far (skipped)."""
        ...


def open_ledger(location: Path | str, settings: LedgerSettings | None = None) -> Ledger:
    """The store at ``location``: an ``s3://bucket/prefix`` URI or a SQLite file path."""
    if str(location).startswith("s3://"):
        settings = settings or LedgerSettings()
        session = boto3.Session(profile_name=settings.aws_profile, region_name=settings.aws_region)
        return S3Ledger(str(location), aws.client(session, "s3", _S3_RETRIES))
    return SqliteLedger(Path(location))


def shared_location(settings: LedgerSettings) -> Path | str:
    """Where to read the history from: the shared store when there is one, else the local file."""
    return settings.s3_uri or Path(settings.path)


def open_history(settings: LedgerSettings) -> Ledger:
    """The store every reader uses (drill history, ``due``, ``history``, run-to-run comparisons): the shared
    store when ``s3_uri`` is set, with the ledger's own credentials, else the local file. A throwaway CI runner
    or CronJob pod has an empty local file, so reading it there would make every run look like the first."""
    return open_ledger(shared_location(settings), settings)


def append(location: Path | str, record: Record) -> None:
    open_ledger(location).append(record)


def query(location: Path | str, check: str | None = None, env: str | None = None, outcome: str | None = None,
          limit: int | None = None) -> list[Record]:
    """Records matching the filters, newest first."""
    return open_ledger(location).query(check=check, env=env, outcome=outcome, limit=limit)


def _to_json(record: Record) -> str:
    data = asdict(record)
    data["started"] = _utc(record.started).isoformat()
    return json.dumps(data, sort_keys=True, default=str)


def _from_json(text: str | bytes) -> Record:
    data = json.loads(text)
    return Record(**{**data, "started": dt.datetime.fromisoformat(data["started"]),
                     "cadences": tuple(data.get("cadences", ())), "findings": _findings(data.get("findings", []))})


def _findings(items: list[dict[str, str]]) -> tuple[Finding, ...]:
    return tuple(Finding(**item) for item in items)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.timezone.utc)


# --- SQLite ---------------------------------------------------------------------------------------

# How long an append waits for a ledger another process holds locked before it keeps the record in the spool.
_LOCK_WAIT_S = 10.0
_locked_before: set[Path] = set()  # ledgers found locked in this process: later appends do not wait again


class Spooled(Exception):
    """The ledger stayed locked: the record was kept in its spool file, which the next append merges."""

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
# Columns added after the first release; files written before them gain them on open.
_ADDED_COLUMNS = {"cadences": "TEXT NOT NULL DEFAULT ''", "run_id": "TEXT NOT NULL DEFAULT ''",
                  "record_id": "TEXT", "findings": "TEXT NOT NULL DEFAULT '[]'"}
_COLUMNS = "check_name, env, outcome, started, duration_s, runner, details, cadences, run_id, record_id, findings"


@dataclass(frozen=True)
class SqliteLedger:
    path: Path

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def skipped(self) -> list[str]:
        return []  # its table holds records only

    @contextmanager
    def _connect(self, timeout_s: float = _LOCK_WAIT_S) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: each INSERT is its own transaction; schema changes take the write lock explicitly.
        conn = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            if not self._schema_current(conn):
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _SCHEMA.split(";"):
                        conn.execute(statement)
                    present = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
                    for column, decl in _ADDED_COLUMNS.items():
                        if column not in present:
                            conn.execute(f"ALTER TABLE runs ADD COLUMN {column} {decl}")
                    conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS runs_record_id ON runs (record_id)")
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            yield conn
        finally:
            conn.close()

    @staticmethod
    def _schema_current(conn: sqlite3.Connection) -> bool:
        present = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(runs)")} if present else set()
        return set(_ADDED_COLUMNS) <= present and "runs_record_id" in indexes

    @property
    def spool(self) -> Path:
        return self.path.with_name(self.path.name + ".spool")

    def append(self, record: Record) -> None:
        """Insert ``record`` (and any records an earlier locked append spooled); when another process keeps the
        ledger locked for ``_LOCK_WAIT_S``, keep it in the spool file instead and raise Spooled: never lost."""
        # Concurrent writers can see SQLITE_BUSY without the busy timeout applying (switching a new file to
        # WAL, or a read lock that must upgrade): retry the whole append, which the unique record id
        # makes idempotent, for as long as the timeout would have waited (not again once found locked).
        wait_s = 0.0 if self.path in _locked_before else _LOCK_WAIT_S
        deadline = time.monotonic() + wait_s
        delay = 0.01
        while True:
            try:
                self._insert([record], wait_s, merge_spool=True)
                _locked_before.discard(self.path)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc):
                    raise
                if time.monotonic() > deadline:
                    break
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        _locked_before.add(self.path)
        with self._spool_locked("a") as spool:
            spool.write(_to_json(record) + "\n")
        raise Spooled(f"locked by another process for {_LOCK_WAIT_S:g} s: the record is kept in {self.spool}, "
                      "merged by the next append")

    @contextmanager
    def _spool_locked(self, mode: str) -> Iterator[Any]:
        """The spool file, under an exclusive lock: a writer never appends while a merge reads and empties it."""
        with open(self.spool, mode, encoding="utf-8") as spool:
            fcntl.flock(spool, fcntl.LOCK_EX)
            yield spool

    def _insert(self, records: list[Record], wait_s: float, merge_spool: bool = False) -> None:
        if merge_spool and self.spool.exists():
            with self._spool_locked("r+") as spool:
                kept = [_from_json(line) for line in spool.read().splitlines() if line.strip()]
                self._insert([*kept, *records], wait_s)  # one transaction: all of them, or none and the spool stays
                spool.truncate(0)
            return
        with self._connect(wait_s) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._insert_rows(conn, records)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    @staticmethod
    def _insert_rows(conn: sqlite3.Connection, records: list[Record]) -> None:
        # The unique record id makes a replayed append a no-op rather than a duplicate.
        conn.executemany(
            f"INSERT OR IGNORE INTO runs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(record.check, record.env, record.outcome, _utc(record.started).isoformat(), record.duration_s,
              record.runner, json.dumps(record.details, sort_keys=True, default=str),
              " ".join(record.cadences), record.run_id, record.id,
              json.dumps([asdict(f) for f in record.findings])) for record in records],
        )

    def query(self, check: str | None = None, env: str | None = None, outcome: str | None = None,
              limit: int | None = None, until: dt.datetime | None = None) -> list[Record]:
        if not self.path.exists():
            return []
        where, params = _where(check=check, env=env, outcome=outcome)
        if until is not None:
            where += f"{' AND' if where else ' WHERE'} started <= ?"
            params.append(_utc(until).isoformat())
        sql = f"SELECT {_COLUMNS} FROM runs{where} ORDER BY started DESC, id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._connect() as conn:
            return [_row_record(row) for row in conn.execute(sql, params)]

    def latest(self, until: dt.datetime | None = None) -> list[Latest]:
        if not self.path.exists():
            return []
        bound = _utc(until).isoformat() if until is not None else None
        with self._connect() as conn:
            runs = self._newest(conn, until=bound)
            passes = self._newest(conn, outcome="passed", until=bound)
            future = self._newest(conn, after=bound) if bound is not None else {}
            streaks = self._streaks(conn, until=bound)
        return [Latest(runs.get(task), passes.get(task), future.get(task), *_streak(runs.get(task), streaks.get(task)))
                for task in sorted(runs.keys() | future.keys())]

    @staticmethod
    def _streaks(conn: sqlite3.Connection, until: str | None = None) -> dict[tuple[str, str], tuple[dt.datetime, int]]:
        """Per task: the first failed/error run after its last pass, and how many there were, both up to ``until``."""
        bound, params = (" AND started <= ?", [until]) if until is not None else ("", [])
        sql = ("SELECT check_name, env, MIN(started), COUNT(*) FROM runs AS r WHERE outcome IN ('failed', 'error')"
               f"{bound} AND started > COALESCE((SELECT MAX(started) FROM runs AS p WHERE p.check_name = r.check_name"
               f" AND p.env = r.env AND p.outcome = 'passed'{bound}), '') GROUP BY check_name, env")
        return {(check, env): (dt.datetime.fromisoformat(since), count)
                for check, env, since, count in conn.execute(sql, params * 2)}

    @staticmethod
    def _newest(conn: sqlite3.Connection, outcome: str | None = None, until: str | None = None,
                after: str | None = None) -> dict[tuple[str, str], Record]:
        where, params = _where(outcome=outcome)
        for op, bound in (("<=", until), (">", after)):
            if bound is not None:
                # Every start time is written as UTC isoformat, so the text compares in time order.
                where += (" AND" if where else " WHERE") + f" started {op} ?"
                params.append(bound)
        sql = (f"SELECT {_COLUMNS} FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY check_name, env"
               f" ORDER BY started DESC, id DESC) AS rank FROM runs{where}) WHERE rank = 1")
        return {(r.check, r.env): r for r in map(_row_record, conn.execute(sql, params))}


def _streak(last_run: Record | None, streak: tuple[dt.datetime, int] | None) -> tuple[dt.datetime | None, int]:
    """A task is failing when its newest run failed; then its streak counts the failures since its last pass."""
    if last_run is None or last_run.outcome not in ("failed", "error") or streak is None:
        return None, 0
    return streak


def _where(**filters: str | None) -> tuple[str, list[str]]:
    columns = {"check": "check_name", "env": "env", "outcome": "outcome"}
    used = {columns[name]: value for name, value in filters.items() if value is not None}
    if not used:
        return "", []
    return " WHERE " + " AND ".join(f"{column} = ?" for column in used), list(used.values())


def _row_record(row: tuple) -> Record:
    check, env, outcome, started, duration_s, runner, details, cadences, run_id, record_id, findings = row
    return Record(check=check, env=env, outcome=outcome, started=dt.datetime.fromisoformat(started),
                  duration_s=duration_s, runner=runner, details=json.loads(details),
                  cadences=tuple(cadences.split()), run_id=run_id, findings=_findings(json.loads(findings)),
                  id=record_id or "")


# --- S3 ---------------------------------------------------------------------------------------------

_S3_RETRIES = BotoConfig(retries={"mode": "adaptive", "max_attempts": 10}, connect_timeout=5, read_timeout=30)
_STAMP = "%Y%m%dT%H%M%S.%fZ"  # sorts as text in time order
# A record's object name (S3Ledger.append); anything else under the prefix is someone else's (an export, a README)
_RECORD_NAME = re.compile(r"(?P<started>\d{8}T\d{6}\.\d{6}Z)_(?P<outcome>passed|failed|error|skipped)_[^/]+\.json")


@dataclass(frozen=True)
class _Key:
    key: str
    check: str
    env: str
    started: str
    outcome: str


class S3Ledger:
    """One JSON object per record: ``<prefix>/<check>/<env>/<started>_<outcome>_<id>.json``."""

    def __init__(self, uri: str, s3: Any) -> None:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        self.location = uri
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.s3 = s3
        self._skipped: dict[str, None] = {}  # ordered, each key once however often it is listed

    @property
    def skipped(self) -> list[str]:
        return list(self._skipped)

    def append(self, record: Record) -> None:
        name = f"{_utc(record.started).strftime(_STAMP)}_{record.outcome}_{record.id}.json"
        self.s3.put_object(Bucket=self.bucket, Key=self._task_prefix(record.check, record.env) + name,
                           Body=_to_json(record).encode(), ContentType="application/json")

    def query(self, check: str | None = None, env: str | None = None, outcome: str | None = None,
              limit: int | None = None, until: dt.datetime | None = None) -> list[Record]:
        prefix = self.prefix
        if check is not None:
            prefix = self._task_prefix(check, env) if env is not None else prefix + _segment(check) + "/"
        bound = _utc(until).strftime(_STAMP) if until is not None else None
        keys = [k for k in self._keys(prefix)
                if (env is None or k.env == env) and (outcome is None or k.outcome == outcome)
                and (bound is None or k.started <= bound)]
        keys.sort(key=lambda k: k.started, reverse=True)
        return self._fetch(keys[:limit] if limit is not None else keys)

    def latest(self, until: dt.datetime | None = None) -> list[Latest]:
        bound = _utc(until).strftime(_STAMP) if until is not None else None
        runs: dict[tuple[str, str], _Key] = {}
        passes: dict[tuple[str, str], _Key] = {}
        future: dict[tuple[str, str], _Key] = {}
        failures: dict[tuple[str, str], list[str]] = {}
        for k in self._keys(self.prefix):
            task = (k.check, k.env)
            if bound is not None and k.started > bound:
                if task not in future or k.started > future[task].started:
                    future[task] = k
                continue
            if k.outcome in ("failed", "error"):
                failures.setdefault(task, []).append(k.started)
            if task not in runs or k.started > runs[task].started:
                runs[task] = k
            if k.outcome == "passed" and (task not in passes or k.started > passes[task].started):
                passes[task] = k
        wanted = list({k.key: k for k in [*runs.values(), *passes.values(), *future.values()]}.values())
        records = dict(zip((k.key for k in wanted), self._fetch(wanted)))

        def record(keys: dict[tuple[str, str], _Key], task: tuple[str, str]) -> Record | None:
            return records[keys[task].key] if task in keys else None

        result = []
        for t in sorted(runs.keys() | future.keys()):
            after = sorted(s for s in failures.get(t, []) if t not in passes or s > passes[t].started)
            streak = (dt.datetime.strptime(after[0], _STAMP).replace(tzinfo=dt.timezone.utc), len(after)) if after else None
            result.append(Latest(record(runs, t), record(passes, t), record(future, t),
                                 *_streak(record(runs, t), streak)))
        return result

    def _task_prefix(self, check: str, env: str) -> str:
        return f"{self.prefix}{_segment(check)}/{_segment(env)}/"

    def _keys(self, prefix: str) -> Iterator[_Key]:
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                parts = obj["Key"][len(self.prefix):].split("/")
                name = _RECORD_NAME.fullmatch(parts[-1]) if len(parts) == 3 else None
                if name is None:  # not a record: skipped, and named once by the command that read it
                    self._skipped[obj["Key"]] = None
                    continue
                yield _Key(obj["Key"], unquote(parts[0]), unquote(parts[1]), name["started"], name["outcome"])

    def _fetch(self, keys: list[_Key]) -> list[Record]:
        def get(k: _Key) -> Record:
            return _from_json(self.s3.get_object(Bucket=self.bucket, Key=k.key)["Body"].read())

        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(get, keys))


def _segment(value: str) -> str:
    return quote(value, safe="")
