"""``python -m opschecks due|history|export|sandbox|cleanup|summary|codes``: the ledger's view, the sheet, the sandbox for a
newcomer, and the two commands that act on a run's output.

    python -m opschecks due [--config PATH | --sandbox] [--env NAME] [--fail-on-overdue] [--checks DIR]
    python -m opschecks history CHECK [-n N] [--env NAME] [--config PATH | --sandbox]
    python -m opschecks export [--csv PATH] [--google-sheet ID [--worksheet TAB]] [--env NAME]
                               [--config PATH | --sandbox]
    python -m opschecks sandbox [--shift-days N]
    python -m opschecks cleanup PLAN [--config PATH] [--yes]    (opschecks/areas/aws_usage/cleanup.py)
    python -m opschecks summary RUN_JSON                        (opschecks/record/summary.py)
    python -m opschecks codes > docs/codes.md                   (opschecks/codes.py)

``due``, ``history`` and ``export`` read the shared ledger (``[ledger] s3_uri``)
when configured, else the local SQLite file; with ``--sandbox``, the sandbox's
config and its ledger (``reports/sandbox-ledger.sqlite``, what the last
finished ``pytest --sandbox`` recorded). Exit status: 0, 1 when ``--fail-on-overdue``
finds an overdue task, 2 for a bad config, an unknown check, an unreachable
ledger or sheet, and for an internal error (a bug: its traceback, then one
line), so an error never reads as the verdict "overdue". Objects under the S3
ledger's prefix that are not records are skipped, named in one line on stderr.
``sandbox`` runs until Ctrl-C or SIGTERM (opschecks/sandbox/cli.py).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sqlite3
import sys
import tempfile
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from opschecks import clock, codes
from opschecks.areas.aws_usage import cleanup
from opschecks.areas.e2e import e2e
from opschecks.record import due, export, ledger, summary
from opschecks.config import Config, load, project_root, resolve_path
from opschecks.errors import describe
from opschecks.schema import ConfigError


def main(argv: Sequence[str] | None = None, now: dt.datetime | None = None, sheets_transport: Any = None) -> int:
    """``sheets_transport``: a requests adapter for the Google calls of ``export`` (the tests' stand-in)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] and argv[0] in _OWN_PARSERS:  # a command with its own arguments and exit statuses
        return _OWN_PARSERS[argv[0]](argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "sandbox":
        from opschecks.sandbox import load_stack

        try:
            load_stack()  # the servers' code: only for this command; one line when the extra is missing
        except ConfigError as exc:
            print(f"opschecks: {exc}", file=sys.stderr)
            return 2
        from opschecks.sandbox import cli

        return cli.run(args.shift_days)
    root = project_root()  # config, ledger and checklist from the checkout's root, from any subdirectory
    with contextlib.ExitStack() as scope:
        return _read_ledger(args, root, scope, now, sheets_transport)


def _read_ledger(args: argparse.Namespace, root: Path, scope: contextlib.ExitStack, now: dt.datetime | None,
                 sheets_transport: Any) -> int:
    config = None
    try:
        clock.refuse_outside_sandbox(args.sandbox)
        config = load(_sandbox_config(root, scope) if args.sandbox else resolve_path(args.config, root), root)
        envs = [e.name for e in config.select(args.env)]
        store = ledger.open_ledger(ledger.shared_location(config.ledger), config.ledger)
        try:
            if args.command == "due":
                checks = Path(args.checks) if args.checks else Path(os.path.relpath(root / "checks"))
                return _due(store, config, envs, now or clock.now(), args.fail_on_overdue, checks, root, args.sandbox)
            if args.command == "export":
                return _export(store, envs if args.env else None, args, sheets_transport)
            return _history(store, args.check, envs if args.env else None, args.n)
        finally:
            _note_skipped(store)
    except ConfigError as exc:
        print(f"opschecks: {exc}", file=sys.stderr)
        return 2
    except (sqlite3.Error, OSError) as exc:  # the local ledger: corrupt, truncated, not SQLite, or not readable
        where = f"ledger {ledger.shared_location(config.ledger)}" if config is not None else "reading the config"
        print(f"opschecks: {where}: {ledger_problem(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:
        sheet_line = export.describe_sheet_error(exc) if args.command == "export" and args.google_sheet else None
        if sheet_line is not None:
            print(f"opschecks: sheet {args.google_sheet}: {sheet_line}", file=sys.stderr)
            return 2
        line = describe(exc)
        if line is None:  # a bug, not a verdict: exit 2, never 1 (--fail-on-overdue's "overdue")
            traceback.print_exc()
            print(f"opschecks: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
        print(f"opschecks: ledger {ledger.shared_location(config.ledger)}: {line}", file=sys.stderr)
        return 2


def ledger_problem(exc: sqlite3.Error | OSError) -> str:
    """One line for a local ledger that cannot be read or written."""
    if isinstance(exc, OSError):
        return f"cannot read or write it: {exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
    text = str(exc)
    if isinstance(exc, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
        return (f"not a readable SQLite ledger ({text}): truncated, corrupt or another kind of file; move it "
                "aside or restore it from a copy")
    return f"SQLite: {text}"


def _note_skipped(store: ledger.Ledger, shown: int = 3) -> None:
    skipped = store.skipped
    if skipped:
        more = f" and {len(skipped) - shown} more" if len(skipped) > shown else ""
        print(f"opschecks: ledger {store.location}: skipped {len(skipped)} object(s) that are not records: "
              f"{', '.join(skipped[:shown])}{more}", file=sys.stderr)


def _codes(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="python -m opschecks codes", description="The finding codes' glossary as Markdown "
                            "(docs/codes.md).").parse_args(argv)
    print(codes.markdown(), end="")
    return 0


_OWN_PARSERS: dict[str, Callable[[list[str]], int]] = {"cleanup": cleanup.main, "summary": summary.main,
                                                        "codes": _codes}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m opschecks", description="The checklist's ledger.")
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_mutually_exclusive_group()
    where.add_argument("--config", metavar="PATH",
                       help="the suite's TOML config (default: $OPSCHECKS_CONFIG, else opschecks.toml)")
    where.add_argument("--sandbox", action="store_true",
                       help="the sandbox's config and ledger (reports/sandbox-ledger.sqlite: what the last "
                            "finished pytest --sandbox recorded)")
    common.add_argument("--env", action="append", default=[], metavar="NAME",
                        help="only this environment (repeatable)")
    commands = parser.add_subparsers(dest="command", required=True)
    due_cmd = commands.add_parser("due", parents=[common], help="each task, when it last passed, due or overdue")
    due_cmd.add_argument("--fail-on-overdue", action="store_true", help="exit 1 when any task is overdue")
    due_cmd.add_argument("--checks", metavar="DIR",
                         help="the checklist whose tasks are listed even if never run (default: the project's checks/)")
    history = commands.add_parser("history", parents=[common], help="the last runs of a check")
    history.add_argument("check", help="a check id (checks/test_x.py::test_y) or just its test name")
    history.add_argument("-n", type=int, default=10, help="how many runs (default 10)")
    export_cmd = commands.add_parser("export", parents=[common], help="the ledger as rows: a CSV file, a Google sheet")
    export_cmd.add_argument("--csv", metavar="PATH", help="write every run, one row each, to this CSV file")
    export_cmd.add_argument("--google-sheet", metavar="ID", help="append the runs not yet there to this Google sheet "
                            f"(as the service account in ${export.CREDENTIALS_ENV_VAR})")
    export_cmd.add_argument("--worksheet", metavar="TAB", help="the sheet's tab (default: the first)")
    sandbox = commands.add_parser("sandbox", help="keep the sandbox up, print the variables that point tools at it; "
                                                  "Ctrl-C or SIGTERM stops it")
    sandbox.add_argument("--shift-days", type=float, default=None, metavar="N",
                         help="seed and judge the sandbox N days later (sets OPSCHECKS_CLOCK_SHIFT_DAYS)")
    # Listed for --help only: main() hands their arguments to their own parsers.
    commands.add_parser("cleanup", help="delete the unused resources of a saved plan that a fresh scan still flags")
    commands.add_parser("summary", help="a run's JSON as Markdown (for $GITHUB_STEP_SUMMARY)")
    commands.add_parser("codes", help="every finding code with its severity and first step, as Markdown")
    return parser


def _sandbox_config(root: Path, scope: contextlib.ExitStack) -> Path:
    """The config ``pytest --sandbox`` runs with (its servers' addresses aside), in a temp dir for this command;
    its ledger is the one ``pytest --sandbox`` writes under the project root."""
    from opschecks.sandbox import load_stack

    stack = load_stack()  # the servers' code: only for --sandbox (a ConfigError names the missing extra)
    ledger = root / stack.LEDGER
    if not ledger.exists():
        print(f"opschecks: no sandbox run recorded yet in {ledger} (run pytest --sandbox first)", file=sys.stderr)
    folder = Path(scope.enter_context(tempfile.TemporaryDirectory(prefix="opschecks-sandbox-config-")))
    path = folder / "opschecks.toml"
    path.write_text(stack.config_text("http://127.0.0.1:1", ledger))  # no server: due and history only read the ledger
    return path


def _due(store: ledger.Ledger, config: Config, envs: list[str], now: dt.datetime, fail_on_overdue: bool,
         checks: Path, root: Path, sandbox: bool = False) -> int:
    if checks.is_dir():
        if str(root) not in sys.path:  # the checkout's pytest plugins (fixtures/), as pytest's pythonpath has them
            sys.path.insert(0, str(root))
        from fixtures.tasks import collect

        checklist = [(t.check, t.env, t.cadences) for t in collect(checks, config.path, envs)]
    else:
        checklist = None
        print(f"opschecks: no checklist at {checks}/: listing the tasks in the ledger, with the cadence of their "
              "last record", file=sys.stderr)
    latest = store.latest(until=now)
    tasks, notes = _on_change(due.tasks(latest, now, config.cadence, envs, checklist), latest, config, sandbox)
    rows = [(t.check, t.env, t.cadence, _when(t.last_pass), f"{_when(t.last_run)} {t.last_outcome}".rstrip(),
             _due_by(t, config), t.state.upper() if t.failing_since is None else t.state.replace("failing", "FAILING", 1))
            for t in tasks]
    print(_table(("CHECK", "ENV", "CADENCE", "LAST PASSED", "LAST RUN", "DUE BY", "STATE"), rows))
    for note in notes:
        print(note)
    for t in tasks:
        if t.future is not None:
            print(f"opschecks: {t.check} [{t.env}]: a record stamped {_when(t.future)}, after now, is ignored "
                  "(the clock of the runner that wrote it is ahead)", file=sys.stderr)
    states = Counter("failing" if t.failing_since else t.state for t in tasks)
    print(f"\n{len(tasks)} tasks: {states['failing']} failing, {states['overdue']} overdue, {states['due']} due, "
          f"{states['ok']} ok (as of {_when(now)})")
    return 1 if fail_on_overdue and any(t.status == "overdue" for t in tasks) else 0


def _due_by(task: due.Task, config: Config) -> str:
    if task.last_run is None:  # never run: overdue already, not by the end of a window still to come
        return "now"
    if task.cadence == due.ON_CHANGE:
        return "now" if task.status != "done" else "on a change"
    end = task.window.end if task.status != "done" else due.window(task.cadence, task.window.end, config.cadence).end
    return _when(end)


def _on_change(tasks: list[due.Task], latest: list[ledger.Latest],
               config: Config, sandbox: bool = False) -> tuple[list[due.Task], list[str]]:
    """Passed e2e tasks become due where a major change (new images) happened since their pass; one note each.
    With ``--sandbox`` nothing is compared: the sandbox that ran them has stopped (there is no cluster to read),
    and every sandbox run deploys the same images."""
    passes = {(item.any.check, item.any.env): item.last_pass for item in latest}
    result, notes = [], []
    if sandbox:
        if any(t.cadence == due.ON_CHANGE and t.status == "done" for t in tasks):
            notes.append("opschecks: --sandbox: passed e2e tasks stay ok (the sandbox's images are the same every "
                         "run, and its cluster has stopped)")
        return due.ordered(tasks), notes
    for task in tasks:
        if task.cadence == due.ON_CHANGE and task.status == "done":
            last_pass = passes.get((task.check, task.env))
            why = e2e.major_changes(config.envs[task.env], last_pass.details.get("images") if last_pass else None)
            if why:
                task = replace(task, status="due")
                notes.append(f"{task.check} [{task.env}] is due: {why}")
        result.append(task)
    return due.ordered(result), notes


def _export(store: ledger.Ledger, envs: list[str] | None, args: argparse.Namespace, transport: Any) -> int:
    if not args.csv and not args.google_sheet:
        raise ConfigError("export: say where: --csv PATH and/or --google-sheet ID")
    records = [r for r in store.query() if envs is None or r.env in envs]
    if args.csv:
        count = export.write_csv(Path(args.csv), records)
        print(f"opschecks: wrote {count} runs to {args.csv}")
    if args.google_sheet:
        worksheet = export.open_worksheet(args.google_sheet, args.worksheet, transport=transport)
        added = export.append_to_sheet(worksheet, records)
        print(f"opschecks: appended {added} new runs to sheet {args.google_sheet} "
              f"({len(records) - added} already there)")
    return 0


def _history(store: ledger.Ledger, check: str, envs: list[str] | None, n: int) -> int:
    check_id = _resolve(store, check)
    if check_id is None:
        print(f"opschecks: no runs of {check!r} in the ledger", file=sys.stderr)
        return 2
    runs = store.query(check=check_id, limit=None if envs else n)
    runs = [r for r in runs if envs is None or r.env in envs][:n]
    rows = [(_when(r.started), r.env, r.outcome, f"{r.duration_s:.1f}s", r.runner, r.run_id,
             json.dumps(r.details, sort_keys=True, default=str)[:100]) for r in runs]
    print(check_id)
    print(_table(("STARTED", "ENV", "OUTCOME", "DURATION", "RUNNER", "RUN", "DETAILS"), rows))
    return 0


def _resolve(store: ledger.Ledger, check: str) -> str | None:
    """A full check id, from itself or from its bare test name (test_backup_is_fresh)."""
    if "::" in check:
        return check
    known = sorted({item.any.check for item in store.latest()})
    matches = [c for c in known if c.endswith(f"::{check}")]
    if len(matches) > 1:
        raise ConfigError(f"{check!r} names several checks: {', '.join(matches)}")
    return matches[0] if matches else None


def _when(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M") if moment else "never"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    return "\n".join("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip()
                     for row in [header, *rows])


if __name__ == "__main__":
    sys.exit(main())
