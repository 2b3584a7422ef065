"""The config file: defaults, merging, and one-line errors for everything a person can get wrong."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from opschecks.config import load, resolve_path
from opschecks.record.settings import LedgerSettings
from opschecks.schema import ConfigError
from opschecks.areas.pods.settings import PodSettings
from opschecks.areas.aws_usage.settings import UsageSettings
from opschecks.areas.backups.settings import BackupSettings
from opschecks.areas.restore.settings import RestoreSettings
from opschecks.areas.upload_service.settings import UploadSettings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "opschecks.toml"
    path.write_text(text)
    return path


def test_defaults_follow_the_checklist(tmp_path: Path) -> None:
    config = load(write(tmp_path, "[env.dev]\n[env.staging]\n[env.prod]\n"))
    dev = config.envs["dev"]
    assert list(config.envs) == ["dev", "staging", "prod"]
    assert (dev.backup_bucket, dev.aws_region, dev.backup_prefix) == ("ingest-db-backup", "us-east-1", "dev")
    assert dev.namespaces == ["default", "kube-system", "dev-environment"]
    assert dev.settings(RestoreSettings).database == "admin"
    assert dev.settings(RestoreSettings).collections == ["biomaterial", "bundleManifest", "file", "process", "project", "protocol",
                                       "submissionEnvelope"]
    assert dev.settings(RestoreSettings).min_counts == {"submissionEnvelope": 100}
    assert dev.settings(BackupSettings).retention_days == 90
    assert (dev.aws_account_id, dev.protected) == (None, None)


@pytest.mark.parametrize(("name", "table", "why"), [
    ("prod", "", "its name looks like production"),
    ("production", "", "its name looks like production"),
    ("prd", "", "its name looks like production"),
    ("live", "", "its name looks like production"),
    ("eu-prod-2", "", "its name looks like production"),
    ("PROD_EU", "", "its name looks like production"),
    ("sandbox", "protected = true", "it says protected = true"),
    ("dev", 'aws_account_id = "999999999999"', "its account is also protected env live's"),
    ("prod", "protected = false", None),
    ("dev", "", None),
    # Fail closed: a name that is neither production-looking nor a known non-production one is protected.
    ("product-demo", "", "its name is not a known non-production one"),
    ("delivery", "", "its name is not a known non-production one"),
    ("delivery", "protected = false", None),
])
def test_protection_is_a_property_by_name_declaration_or_shared_account(tmp_path: Path, name: str, table: str,
                                                                          why: str | None) -> None:
    from opschecks import protection

    other = '[env.live]\naws_account_id = "999999999999"\n' if name != "live" else ""
    config = load(write(tmp_path, f"[env.{name}]\n{table}\n{other}"))
    guard = protection.guard(config, config.envs[name])
    assert guard.why_protected is None if why is None else guard.why_protected.startswith(why)


def test_aws_account_id_must_be_twelve_digits(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"env.dev.aws_account_id: expected 12 digits, found '12345'"):
        load(write(tmp_path, '[env.dev]\naws_account_id = "12345"\n'))


def test_env_tables_override_defaults_key_by_key(tmp_path: Path) -> None:
    config = load(write(tmp_path, """
[defaults]
aws_region = "eu-west-2"
[defaults.backups]
grace_hours = 3
retention_days = 30
[env.dev]
aws_profile = "ingest-dev"
backup_prefix = "backups/dev"
[env.dev.backups]
grace_hours = 6
[env.prod]
"""))
    dev, prod = config.envs["dev"], config.envs["prod"]
    assert (dev.aws_region, dev.aws_profile, dev.backup_prefix) == ("eu-west-2", "ingest-dev", "backups/dev")
    assert (dev.settings(BackupSettings).grace_hours, dev.settings(BackupSettings).retention_days) == (6.0, 30)
    assert (prod.settings(BackupSettings).grace_hours, prod.aws_profile) == (3.0, None)


def test_waivers_parse_dates(tmp_path: Path) -> None:
    config = load(write(tmp_path, """
[env.dev.pods]
waivers = [{ pattern = "ingest-exporter-*", reason = "CrashLoopBackOff", expires = 2026-12-31, justification = "INGEST-123" }]
"""))
    waiver = config.envs["dev"].settings(PodSettings).waivers[0]
    assert waiver.expires == dt.date(2026, 12, 31) and waiver.resource == "ingest-exporter-*"  # the old keys, read


@pytest.mark.parametrize(("text", "message"), [
    ("[env.dev]\naws_regoin = 'x'\n", "env.dev: unknown key 'aws_regoin'"),
    ("[env.dev.backups]\ngrace_hours = 'two'\n", "env.dev.backups.grace_hours: expected a number, found str 'two'"),
    ("[env.dev.backups]\nsize_baseline = 7.5\n", "env.dev.backups.size_baseline: expected an integer"),
    ("[env.dev]\nnamespaces = 'default'\n", "env.dev.namespaces: expected a list"),
    ("[env.dev]\nskip = ['podz']\n", "env.dev.skip: unknown area 'podz'"),
    ("[env.dev.pods]\nwaivers = [{ pattern = 'x', reason = 'y', expires = 'soon', justification = 'z' }]\n",
     "env.dev.pods.waivers[0].expires: expected a date like 2026-12-31"),
    ("[env.dev.pods]\nwaivers = [{ pattern = 'x', reason = 'y', justification = 'z' }]\n",
     "env.dev.pods.waivers[0]: missing required key 'expires'"),
    ("[defaults]\n", "no environments configured"),
    # A mistake in [defaults] is reported there, not under the first env that inherits it.
    ("[defaults]\nbackup_buckett = 'x'\n[env.dev]\n", "opschecks.toml: defaults: unknown key 'backup_buckett'"),
    ("[defaults.backups]\ngrace_hourz = 2\n[env.dev]\n", "opschecks.toml: defaults.backups: unknown key 'grace_hourz'"),
    ("[defaults]\nbackups = { grace_hours = 'two' }\n[env.dev]\n",
     "opschecks.toml: defaults.backups.grace_hours: expected a number"),
    ("[defaults]\nname = 'x'\n[env.dev]\n", "opschecks.toml: defaults: unknown key 'name'"),
    ("[env.dev]\n[cadence]\nsprint_days = 0\n", "opschecks.toml: cadence.sprint_days: expected at least 1 day, found 0"),
    ("[env.dev]\n[ledger]\ns3_uri = 'ledger'\n", "opschecks.toml: ledger.s3_uri: expected s3://bucket/prefix"),
    ("[env.dev]\n[cadence]\nsprint_start = '2024-01-01'\n",
     "cadence.sprint_start: expected a date like 2026-12-31, found str '2024-01-01' (write it without quotes: 2024-01-01)"),
    ("[env.dev]\nkube_context = '" + "x" * 200 + "'\n[env.dev.backups]\ngrace_hours = '" + "y" * 200 + "'\n",
     "env.dev.backups.grace_hours: expected a number, found str of 200 characters"),
    ("[envs.dev]\n", "unknown top-level table 'envs'"),
    ("[env.dev\n", "is not valid TOML"),
])
def test_invalid_config_is_one_line_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, text))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_partial_upload_table_in_defaults_is_completed_by_the_env(tmp_path: Path) -> None:
    config = load(write(tmp_path, "[defaults.upload_service]\nname_prefixes = ['upload-']\n"
                                  "[env.dev.upload_service]\nsetup_command = ['up']\nteardown_command = ['down']\n"))
    assert config.envs["dev"].settings(UploadSettings).name_prefixes == ["upload-"]


def test_a_directory_or_binary_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^config file .* is a directory, not a TOML file \(use --config PATH"):
        load(tmp_path)
    binary = tmp_path / "backup.tar.gz"
    binary.write_bytes(b"\x1f\x8b\x08\x00\xff\xfe\x00")
    with pytest.raises(ConfigError, match=r"^config file .*backup.tar.gz is not a text file \(not UTF-8\)"):
        load(binary)


def test_missing_file_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file .*nope.toml not found \(use --config PATH, or --sandbox"):
        load(tmp_path / "nope.toml")


def test_unknown_environment_lists_the_configured_ones(tmp_path: Path) -> None:
    config = load(write(tmp_path, "[env.dev]\n[env.prod]\n"))
    assert [e.name for e in config.select(["prod", "prod"])] == ["prod"]
    assert [e.name for e in config.select([])] == ["dev", "prod"]
    with pytest.raises(ConfigError, match=r"unknown environment 'qa' \(configured in .*: dev, prod\)"):
        config.select(["qa"])


def test_config_path_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPSCHECKS_CONFIG", raising=False)
    assert resolve_path(None) == Path("opschecks.toml")
    monkeypatch.setenv("OPSCHECKS_CONFIG", "/etc/ops.toml")
    assert resolve_path(None) == Path("/etc/ops.toml")
    assert resolve_path("mine.toml") == Path("mine.toml")


def test_the_shipped_config_loads() -> None:
    config = load(Path(__file__).parent.parent / "opschecks.toml")
    assert set(config.envs) == {"dev", "staging", "prod"}


def test_a_device_fifo_or_huge_file_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    # /dev/zero would be read until memory runs out; a FIFO would block the open until a writer came.
    with pytest.raises(ConfigError, match=r"^config file /dev/zero is not a regular file \(a device, FIFO or socket\)"):
        load(Path("/dev/zero"))
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"is not a regular file"):
        load(fifo)
    huge = tmp_path / "huge.toml"
    huge.write_bytes(b"# " + b"x" * (1 << 20) + b"\n")
    with pytest.raises(ConfigError, match=r"^config file .*huge.toml is larger than 1024 KiB"):
        load(huge)


def test_a_byte_order_mark_is_read_as_the_text_it_starts(tmp_path: Path) -> None:
    path = tmp_path / "opschecks.toml"
    path.write_bytes("\ufeff[env.dev]\n".encode())  # as a Windows editor saves it
    assert list(load(path).envs) == ["dev"]


@pytest.mark.parametrize("name", ["", " ", " dev"])
def test_an_environment_needs_a_real_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match=r"an environment needs a name without surrounding spaces"):
        load(write(tmp_path, f'[env."{name}"]\n'))


def test_an_area_table_under_its_earlier_name_is_read_with_a_one_line_note(tmp_path: Path) -> None:
    """[env.<name>.usage] and .upload were the tables' names before the areas list; the area's name is the one
    spelling now (issue 28), the old one is read the same, with a note printed at start."""
    path = write(tmp_path, "[defaults.usage]\nmax_growth_percent = 40.0\n"
                           "[env.dev.upload]\nsetup_command = ['up']\nteardown_command = ['down']\n"
                           "name_prefixes = ['upload-']\n")
    config = load(path)
    dev = config.envs["dev"]
    assert dev.settings(UsageSettings).max_growth_percent == 40.0
    assert dev.configured(UploadSettings) and dev.settings(UploadSettings).setup_command == ["up"]
    assert config.notes == (
        f"{path}: defaults.usage: read as the 'aws_usage' table, the area's name (rename the table; the old name "
        "will stop being read)",
        f"{path}: env.dev.upload: read as the 'upload_service' table, the area's name (rename the table; the old "
        "name will stop being read)")


def test_an_area_table_under_both_names_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"env.dev: both 'usage' and 'aws_usage' tables: keep 'aws_usage'"):
        load(write(tmp_path, "[env.dev.usage]\n[env.dev.aws_usage]\n"))


def test_settings_are_given_by_class_and_an_opt_in_area_says_how_to_configure_it(tmp_path: Path) -> None:
    dev = load(write(tmp_path, "[env.dev.pods]\nrestart_limit = 7\n")).envs["dev"]
    assert dev.settings(PodSettings).restart_limit == 7
    assert dev.settings(BackupSettings) == BackupSettings()  # no table: the area's defaults
    assert not dev.configured(UploadSettings)
    with pytest.raises(ConfigError, match=r"^env.dev: the upload_service area is not configured \(add an "
                                          r"\[env.dev.upload_service\] table; see docs/upload_service.md\)$"):
        dev.settings(UploadSettings)
    changed = dev.with_settings(BackupSettings(grace_hours=1.0))
    assert changed.settings(BackupSettings).grace_hours == 1.0 and changed.settings(PodSettings).restart_limit == 7
    with pytest.raises(TypeError, match="settings class of no area"):
        dev.with_settings(LedgerSettings())


def test_the_settings_tuple_is_not_a_key_of_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"env.dev: unknown key 'area_settings' \(known: .*aws_usage.*\)"):
        load(write(tmp_path, "[env.dev]\narea_settings = []\n"))
