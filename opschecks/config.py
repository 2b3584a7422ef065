"""Load the suite's TOML configuration: the environments and each area's settings.

Layout (see opschecks.toml)::

    [defaults]            # keys shared by every environment; [env.<name>] overrides them
    [defaults.backups]    # per-area tables merge key by key
    [env.dev]             # aws_region, aws_profile, backup_bucket, backup_prefix, kube_context, namespaces, skip
    [env.dev.pods]        # an area's settings, under its name (opschecks/areas/__init__.py lists them)
    [ledger]              # where runs are recorded
    [cadence]             # sprint length and start, for `python -m opschecks due`
    [alerts]              # the webhook that hears about failures
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

# The areas list (each area's record and settings leaf) and the record's settings: no area's logic, and no area
# named here, so no import circle (tests/test_imports.py) and adding an area is one line in that list.
from opschecks import areas, waivers
from opschecks.areas.area import Area
from opschecks.record.settings import AlertSettings, CadenceSettings, LedgerSettings
from opschecks.schema import ConfigError, build, check_partial, read_toml

DEFAULT_PATH = "opschecks.toml"
CONFIG_ENV_VAR = "OPSCHECKS_CONFIG"
AREAS = areas.NAMES  # the names `skip` accepts: the areas list
S = TypeVar("S")


@dataclass(frozen=True)
class EnvConfig:
    name: str
    aws_region: str = "us-east-1"
    aws_profile: str | None = None  # None: boto3's own chain (AWS_PROFILE, keys, SSO, instance role)
    aws_account_id: str | None = None  # required before any write; checked with STS (opschecks/protection.py)
    protected: bool | None = None  # None: protected when the name looks like production (opschecks/protection.py)
    backup_bucket: str = "ingest-db-backup"
    backup_prefix: str = ""  # default: the environment's name
    kube_context: str | None = None  # None: the kubeconfig's current context
    namespaces: list[str] = field(default_factory=list)  # default: default, kube-system, <env>-environment
    skip: list[str] = field(default_factory=list)  # areas disabled for this env (see AREAS)
    # Seconds to wait for an AWS or Kubernetes API to connect, and for each answer: a silent endpoint fails a
    # check after two such waits (a slow but answering one is fine).
    api_timeout_s: float = 15.0
    # Each area's settings, one instance per class, read from [env.<name>.<area>]; not a TOML key. An area
    # missing here has its defaults (an opt-in one is not configured).
    area_settings: tuple[Any, ...] = ()

    def settings(self, cls: type[S]) -> S:
        """This env's settings of the area whose settings class is ``cls``, e.g. ``env.settings(PodSettings)``."""
        found = next((s for s in self.area_settings if type(s) is cls), None)
        if found is not None:
            return found
        area = _area_of(cls)
        if area.opt_in:
            raise ConfigError(f"env.{self.name}: the {area.name} area is not configured "
                              f"(add an [env.{self.name}.{area.name}] table; see {area.docs_page})")
        return cls()

    def configured(self, cls: type) -> bool:
        """Whether this env has the area's table: an opt-in area (the upload drill) runs only where it has."""
        return not _area_of(cls).opt_in or any(type(s) is cls for s in self.area_settings)

    def with_settings(self, *settings: Any) -> EnvConfig:
        """A copy of this env with these areas' settings in place of its own."""
        classes = {type(s) for s in settings}
        for cls in classes:
            _area_of(cls)  # a settings class of no area is a mistake, not a silent extra
        return replace(self, area_settings=(*(s for s in self.area_settings if type(s) not in classes), *settings))

    def all_waivers(self, config_path: Path) -> list[waivers.Waiver]:
        """Every waiver this env holds, of every area whose settings declare waivers (a ``waivers`` list of the
        one model and/or a ``waivers_file``): what "waivers expiring" in Needs attention lists."""
        found: list[waivers.Waiver] = []
        for area in areas.ALL:
            if not self.configured(area.settings):
                continue
            settings = self.settings(area.settings)
            found += [w for w in getattr(settings, "waivers", ()) if isinstance(w, waivers.Waiver)]
            found += waivers.configured(getattr(settings, "waivers_file", None), config_path)
        return found

    @property
    def app_namespace(self) -> str:
        return f"{self.name}-environment"


@dataclass(frozen=True)
class Config:
    path: Path
    envs: dict[str, EnvConfig]
    ledger: LedgerSettings = field(default_factory=LedgerSettings)
    cadence: CadenceSettings = field(default_factory=CadenceSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    notes: tuple[str, ...] = ()  # what was read but is written the old way: one line each, shown at start

    def select(self, names: list[str] | None) -> list[EnvConfig]:
        """The environments named on the command line, or all of them, in config order."""
        if not names:
            return list(self.envs.values())
        unknown = [n for n in names if n not in self.envs]
        if unknown:
            raise ConfigError(
                f"unknown environment {unknown[0]!r} (configured in {self.path}: {', '.join(self.envs)})"
            )
        return [self.envs[n] for n in dict.fromkeys(names)]


def _area_of(cls: type) -> Area:
    area = next((a for a in areas.ALL if a.settings is cls), None)
    if area is None:
        raise TypeError(f"{cls.__name__} is the settings class of no area (opschecks/areas/__init__.py)")
    return area


def project_root(start: Path | None = None) -> Path:
    """The checkout's root: the nearest directory from ``start`` (default: the working directory) upwards that
    holds opschecks.toml or pyproject.toml, so commands work from any subdirectory; else ``start``."""
    start = (start or Path.cwd()).resolve()
    return next((d for d in (start, *start.parents) if (d / DEFAULT_PATH).is_file() or (d / "pyproject.toml").is_file()),
                start)


def resolve_path(option: str | None, root: Path | None = None) -> Path:
    """--config (relative to the working directory, as any command-line path), else $OPSCHECKS_CONFIG (set by
    the sandbox), else opschecks.toml at the project root (``root``, default: found from the working directory),
    written relative to the working directory."""
    if option or os.environ.get(CONFIG_ENV_VAR):
        return Path(option or os.environ[CONFIG_ENV_VAR])
    return Path(os.path.relpath((root or project_root()) / DEFAULT_PATH))


def load(path: Path, root: Path | None = None) -> Config:
    """The config at ``path``; a relative ledger path is taken from the project root ``root`` when given
    (else from the working directory), so a run from a subdirectory writes the same ledger."""
    config = parse(read_toml(path, "config file", " (use --config PATH, or --sandbox for the local stack)"), path)
    if root is not None and not Path(config.ledger.path).is_absolute():
        config = replace(config, ledger=replace(config.ledger, path=str(root / config.ledger.path)))
    return config


def parse(data: dict, path: Path) -> Config:
    unknown = sorted(set(data) - {"defaults", "env", "ledger", "cadence", "alerts"})
    if unknown:
        raise ConfigError(
            f"{path}: unknown top-level table {unknown[0]!r} (known: defaults, env, ledger, cadence, alerts)"
        )
    notes: list[str] = []
    defaults = data.get("defaults", {})
    if isinstance(defaults, dict):
        defaults = _renamed_tables(defaults, f"{path}: defaults", notes)
        # Checked on their own first, so a mistake in them is reported under [defaults], not under the first env.
        for area in areas.ALL:
            if area.name in defaults:
                check_partial(area.settings, defaults[area.name], f"{path}: defaults.{area.name}")
        defaults_only = {k: v for k, v in defaults.items() if k not in AREAS}
    else:
        defaults_only = defaults
    check_partial(EnvConfig, defaults_only, f"{path}: defaults", exclude=("name", "area_settings"), also=AREAS)
    envs = data.get("env")
    if not isinstance(envs, dict) or not envs:
        raise ConfigError(f"{path}: no environments configured (add an [env.<name>] table)")
    parsed = {name: _env(name, defaults, table, path, notes) for name, table in envs.items()}
    try:
        ledger = build(LedgerSettings, data.get("ledger", {}), f"{path}: ledger")
        cadence = build(CadenceSettings, data.get("cadence", {}), f"{path}: cadence")
        alerts = build(AlertSettings, data.get("alerts", {}), f"{path}: alerts")
    except ConfigError as exc:  # a settings class's own check (__post_init__) does not know the file
        raise ConfigError(str(exc) if str(exc).startswith(f"{path}: ") else f"{path}: {exc}") from None
    return Config(path=path, envs=parsed, ledger=ledger, cadence=cadence, alerts=alerts, notes=tuple(notes))


def _env(name: str, defaults: dict, table: dict, path: Path, notes: list[str]) -> EnvConfig:
    where = f"{path}: env.{name}"
    if not name.strip() or name != name.strip():  # it names S3 prefixes, namespaces and report rows
        raise ConfigError(f"{path}: env.{name!r}: an environment needs a name without surrounding spaces")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table")
    merged = _merge(defaults, _renamed_tables(table, where, notes))
    merged["name"] = name
    _read_old_waivers(merged, where, notes)
    tables = {area: merged.pop(area.name) for area in areas.ALL if area.name in merged}
    env = build(EnvConfig, merged, where, exclude=("area_settings",), also=AREAS)
    env = replace(env, area_settings=tuple(build(area.settings, tables.get(area, {}), f"{where}.{area.name}")
                                           for area in areas.ALL if area in tables or not area.opt_in))
    for area in areas.ALL:
        settings = env.settings(area.settings) if env.configured(area.settings) else None
        for i, waiver in enumerate(getattr(settings, "waivers", ())):
            waivers.checked(waiver, f"{where}.{area.name}.waivers[{i}]")
    if env.aws_account_id is not None and not re.fullmatch(r"\d{12}", env.aws_account_id):
        raise ConfigError(f"{where}.aws_account_id: expected 12 digits, found {env.aws_account_id!r}")
    bad_skip = sorted(set(env.skip) - set(AREAS))
    if bad_skip:
        raise ConfigError(f"{where}.skip: unknown area {bad_skip[0]!r} (known: {', '.join(AREAS)})")
    return replace(
        env,
        backup_prefix=env.backup_prefix or name,
        namespaces=env.namespaces or ["default", "kube-system", env.app_namespace],
    )


def _renamed_tables(table: dict, where: str, notes: list[str]) -> dict:
    """An area's table under its earlier name ([env.<name>.usage], .upload) read under the area's name, with a note."""
    renamed = dict(table)
    for area in areas.ALL:
        if area.old_table is not None and area.old_table in renamed:
            if area.name in renamed:
                raise ConfigError(f"{where}: both {area.old_table!r} and {area.name!r} tables: keep {area.name!r} "
                                  f"(the area's name since the areas list), remove {area.old_table!r}")
            renamed[area.name] = renamed.pop(area.old_table)
            notes.append(f"{where}.{area.old_table}: read as the {area.name!r} table, the area's name (rename the "
                         "table; the old name will stop being read)")
    return renamed


def _read_old_waivers(merged: dict, where: str, notes: list[str]) -> None:
    """An area's waivers written in the old keys (the pods' pattern/reason) are read in the one model's
    (opschecks/waivers.py), with a note each."""
    for area in areas.ALL:
        table = merged.get(area.name)
        if isinstance(table, dict) and isinstance(table.get("waivers"), list):
            converted = [waivers.legacy_waiver(entry, f"{where}.{area.name}.waivers[{i}]", area.docs_page)
                         for i, entry in enumerate(table["waivers"])]
            merged[area.name] = {**table, "waivers": [entry for entry, _ in converted]}
            notes += [note for _, note in converted if note]


def _merge(defaults: dict, table: dict) -> dict:
    merged = dict(defaults)
    for key, value in table.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged
