"""Build typed settings dataclasses from TOML tables, with one-line errors.

Each area module declares its settings as a dataclass (its schema, as a Cloud
Custodian filter does); this module turns a TOML table into that dataclass and
rejects unknown keys and wrong types naming the exact key, so a typo in the
config is an error rather than a silently ignored threshold.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(Exception):
    """The configuration is missing or invalid; the message is one line for the user."""


MAX_TOML_BYTES = 1 << 20  # a config or waivers file is a few KB; /dev/zero or a mistaken dump is not read whole


def read_toml(path: Path, what: str, hint: str = "") -> dict[str, Any]:
    """The TOML file at ``path``; missing, not a regular file, too large or malformed is a one-line ConfigError
    naming it as ``what``. Only a regular file is opened: a FIFO would block the open until a writer came."""
    try:
        if path.is_dir():
            raise ConfigError(f"{what} {path} is a directory, not a TOML file{hint}")
        if path.exists() and not path.is_file():
            raise ConfigError(f"{what} {path} is not a regular file (a device, FIFO or socket){hint}")
        with path.open("rb") as fh:
            data = fh.read(MAX_TOML_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} not found{hint}") from None
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_TOML_BYTES:
        raise ConfigError(f"{what} {path} is larger than {MAX_TOML_BYTES // 1024} KiB: is it the right file?")
    try:
        # A byte-order mark (Windows editors) is not TOML, but it is not a mistake in the file's content either.
        return tomllib.loads(data.decode("utf-8").removeprefix("\ufeff"))
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path} is not a text file (not UTF-8): is it the right file?") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}") from None


def build(cls: type[T], table: Any, where: str, exclude: tuple[str, ...] = (), also: tuple[str, ...] = ()) -> T:
    """Return ``cls`` built from ``table``; ``where`` names the table in errors (e.g. ``env.dev.pods``).
    ``exclude``: fields the table may not set (filled by the caller); ``also``: keys the caller took out of the
    table before (named among the known ones in errors)."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table, found {_kind(table)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and f.name not in exclude}
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted([*fields, *also]))})")
    values = {}
    for name, field in fields.items():
        if name in table:
            values[name] = _convert(hints[name], table[name], f"{where}.{name}")
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}: missing required key {name!r}")
    return cls(**values)


def check_partial(cls: type, table: Any, where: str, exclude: tuple[str, ...] = (), also: tuple[str, ...] = ()) -> None:
    """Check the keys and types of ``table`` against ``cls`` without requiring its required keys: for a table
    of defaults that other tables complete, so its mistakes are reported where they are (``exclude``, ``also``:
    as for ``build``)."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table, found {_kind(table)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls) if f.init and f.name not in exclude}
    unknown = sorted(set(table) - fields)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted([*fields, *also]))})")
    for name, value in table.items():
        hint = _dataclass_in(hints[name])
        if hint is not None and isinstance(value, dict):
            check_partial(hint, value, f"{where}.{name}")
        else:
            _convert(hints[name], value, f"{where}.{name}")


def _dataclass_in(hint: Any) -> type | None:
    """The settings dataclass ``hint`` names (also as ``X | None``), else None."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    return next((o for o in options if dataclasses.is_dataclass(o)), None)


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if value is None:
            return None
        errors = []
        for option in options:
            try:
                return _convert(option, value, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0])
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, found {_kind(value)}")
        item = args[0]
        converted = [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return converted if origin is list else tuple(converted)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, found {_kind(value)}")
        return {str(k): _convert(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        return build(hint, value, where)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, found {_kind(value)}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, found {_kind(value)}")
        return value
    if hint is dt.date:
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            raise ConfigError(f"{where}: expected a date like 2026-12-31, found {_kind(value)}{_unquote(value)}")
        return value
    if hint in (str, bool):
        if not isinstance(value, hint):
            raise ConfigError(f"{where}: expected {'a string' if hint is str else 'true or false'}, found {_kind(value)}")
        return value
    if hint is Any:
        return value
    raise TypeError(f"unsupported settings type {hint!r} at {where}")


def _unquote(value: Any) -> str:
    """A hint when a date was written as a string: TOML dates are bare."""
    try:
        dt.date.fromisoformat(value.strip())
    except (AttributeError, ValueError):
        return ""
    return f" (write it without quotes: {value.strip()})"


def _kind(value: Any) -> str:
    """The value as found, quoted whole when short; described instead of cut when long."""
    shown = f"{type(value).__name__} {value!r}"
    if len(shown) <= 80:
        return shown
    size = f"{len(value)} characters" if isinstance(value, str) else f"{len(value)} items" \
        if isinstance(value, (list, dict)) else "a long value"
    return f"{type(value).__name__} of {size}"
