"""Settings: the shipped file, env overrides, and `cti check-config` on good and bad files."""

import subprocess
import sys
from pathlib import Path

import pytest

from cti.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[1]


def check_config(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cti.cli", "check-config", str(path)], cwd=ROOT,
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", **(env or {})})


def test_shipped_settings_are_valid():
    s = load_settings(ROOT / "config" / "cti.yaml", environ={})
    assert (s.ami.host, s.ami.port, s.agi.bind, s.agi.port) == ("127.0.0.1", 5038, "127.0.0.1", 4573)
    assert s.agi.allow == ["127.0.0.1"]


def test_environment_overrides_the_file():
    s = load_settings(ROOT / "config" / "cti.yaml",
                      environ={"CTI_AMI_HOST": "10.1.2.3", "CTI_AMI_PORT": "15038",
                               "CTI_AGI_ALLOW": "10.1.2.3, 10.9.0.0/16", "CTI_LOG_LEVEL": "DEBUG"})
    assert (s.ami.host, s.ami.port, s.log.level) == ("10.1.2.3", 15038, "DEBUG")
    assert s.agi.allow == ["10.1.2.3", "10.9.0.0/16"]


def test_data_dir_moves_every_file_under_var_and_keeps_other_paths(tmp_path):
    s = load_settings(ROOT / "config" / "cti.yaml", environ={"CTI_DATA_DIR": str(tmp_path),
                                                             "CTI_OUTBOUND_DATABASE_URL": "sqlite+aiosqlite:///other/o.db"})
    assert s.monitor.database_url == f"sqlite+aiosqlite:///{tmp_path}/monitor.db"
    assert s.tickets.database_url == f"sqlite+aiosqlite:///{tmp_path}/cti.db"
    assert s.recordings.capture_dir == tmp_path / "recordings" / "spool"
    assert s.recordings.catalogue == tmp_path / "recordings" / "catalogue.db"
    assert s.outbound.database_url == "sqlite+aiosqlite:///other/o.db"           # not under var/: as given
    assert s.flows.calendar_override == Path("config/calendar-override.yaml")
    default = load_settings(ROOT / "config" / "cti.yaml", environ={})
    assert default.monitor.database_url == "sqlite+aiosqlite:///var/monitor.db"


def test_check_config_accepts_the_shipped_file():
    done = check_config(ROOT / "config" / "cti.yaml")
    assert done.returncode == 0, done.stderr
    assert "settings OK" in done.stdout


@pytest.mark.parametrize(("text", "expected"), [
    ("ami:\n  port: five\n", "ami.port: Input should be a valid integer"),
    ("ami:\n  hots: 1.2.3.4\n", "ami.hots: unknown key"),
    ("colour: blue\n", "colour: unknown key"),
    ("outbound:\n  timezone: Asia/Shanghia\n", "outbound.timezone: Value error, 'Asia/Shanghia' is not a known time zone"),
    ("agi:\n  allow: [127.0.0.1, not-an-ip]\n", "'not-an-ip' is not an IP address"),
    ("data_dir: /proc/1/no/such/dir\n", "data_dir: Value error, /proc/1/no/such/dir is not writable"),
    ("log:\n  level: LOUD\n", "log.level: Input should be"),
    ("ami: [1, 2\n", "not valid YAML"),
    ("- a\n- b\n", "top level must be a mapping"),
])
def test_check_config_names_the_bad_key(tmp_path, text, expected):
    path = tmp_path / "cti.yaml"
    path.write_text(text)
    done = check_config(path)
    assert done.returncode == 2
    assert expected in done.stderr


def test_check_config_names_a_bad_environment_variable(tmp_path):
    path = tmp_path / "cti.yaml"
    path.write_text("ami:\n  port: 5038\n")
    done = check_config(path, env={"CTI_AMI_PORT": "0x", "CTI_AMI_PROT": "1"})
    assert done.returncode == 2
    assert "ami.port (from CTI_AMI_PORT)" in done.stderr
    assert "CTI_AMI_PROT: unknown setting" in done.stderr


def test_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.yaml", environ={})


def test_given_the_test_suites_own_variables_then_settings_ignore_them_but_still_refuse_a_typo():
    root = Path(__file__).resolve().parents[1]
    env = {"CTI_TEST_ASTERISK": "/srv/asterisk-lab", "CTI_TEST_REQUIRE_ASTERISK": "1"}
    assert load_settings(root / "config/cti.yaml", env).ami.port == 5038
    with pytest.raises(ConfigError, match="CTI_AMI_PROT"):
        load_settings(root / "config/cti.yaml", {**env, "CTI_AMI_PROT": "1"})
