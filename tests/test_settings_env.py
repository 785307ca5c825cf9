"""Every setting can be set from the environment in its type's one documented form (cti/settings.py,
config/cti.yaml's header): scalars as themselves, lists as JSON or comma-separated, maps as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from cti.settings import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "config" / "cti.yaml"


def rendered(value: Any, lists: str = "comma") -> str:
    """``value`` written as the documented environment form of its type (``lists``: comma or json)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return json.dumps(value.model_dump(mode="json"), ensure_ascii=False)
    if isinstance(value, dict):
        return json.dumps({k: v.model_dump(mode="json") if isinstance(v, BaseModel) else v
                           for k, v in value.items()}, ensure_ascii=False)
    if isinstance(value, list):
        return ",".join(str(v) for v in value) if lists == "comma" else json.dumps(value, ensure_ascii=False)
    return str(value)


def shipped_keys() -> list[tuple[str, str | None]]:
    """(section, key) for every key of every section; (name, None) for a top-level key."""
    out: list[tuple[str, str | None]] = []
    for name, field in Settings.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            out += [(name, key) for key in field.annotation.model_fields]
        else:
            out.append((name, None))
    return out


def variable(section: str, key: str | None) -> str:
    return f"CTI_{section}_{key}".upper() if key else f"CTI_{section}".upper()


def value_of(settings: Settings, section: str, key: str | None) -> Any:
    node = getattr(settings, section)
    return getattr(node, key) if key else node


def check_config(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cti.cli", "check-config", str(path)], cwd=ROOT,
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", **env})


@pytest.mark.parametrize("lists", ["comma", "json"])
def test_given_an_empty_file_when_every_shipped_setting_comes_from_the_environment_then_each_reads_back_equal(
        tmp_path, lists):
    shipped = load_settings(SHIPPED, environ={})
    env = {variable(s, k): rendered(value_of(shipped, s, k), lists) for s, k in shipped_keys()}
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    loaded = load_settings(empty, environ=env)
    differ = {variable(s, k): (value_of(loaded, s, k), value_of(shipped, s, k)) for s, k in shipped_keys()
              if value_of(loaded, s, k) != value_of(shipped, s, k)}
    assert differ == {}
    done = check_config(empty, env)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("section", "key"), shipped_keys(), ids=lambda v: str(v))
def test_given_the_shipped_file_when_one_setting_is_set_from_the_environment_then_it_loads_equal(section, key):
    shipped = load_settings(SHIPPED, environ={})
    value = value_of(shipped, section, key)
    loaded = load_settings(SHIPPED, environ={variable(section, key): rendered(value)})
    assert value_of(loaded, section, key) == value


@pytest.mark.parametrize(("var", "raw", "section", "key", "expected"), [
    # the three of the issue: comma-separated, JSON and a single value
    ("CTI_OUTBOUND_TEST_DIAL_NUMBERS", "12315, 12369", "outbound", "test_dial_numbers", ["12315", "12369"]),
    ("CTI_OUTBOUND_FOLLOWUP_HOURS", '["09:00-12:00", "14:00-20:00"]', "outbound", "followup_hours",
     ["09:00-12:00", "14:00-20:00"]),
    ("CTI_OUTBOUND_LINKAGE_NUMBERS", "110", "outbound", "linkage_numbers", ["110"]),
    ("CTI_OUTBOUND_DO_NOT_CALL", "", "outbound", "do_not_call", []),
    ("CTI_TICKETS_RETRY_SCHEDULE", "1,2.5", "tickets", "retry_schedule", [1.0, 2.5]),
    # a map replaces the file's map whole (the 1h window is gone)
    ("CTI_MONITOR_WINDOWS", '{"5m": 300}', "monitor", "windows", {"5m": 300.0}),
    ("CTI_CALLS_SPY_OPTIONS", '{"listen": "q", "whisper": "qw", "barge": "qB"}', "calls", "spy_options",
     {"listen": "q", "whisper": "qw", "barge": "qB"}),
    ("CTI_RECORDINGS_ENABLED", "false", "recordings", "enabled", False),
    ("CTI_OUTBOUND_RETRY_SPACING", "90.5", "outbound", "retry_spacing", 90.5),
    ("CTI_FLOWS_SOUNDS_DIR", "/var/lib/asterisk/sounds", "flows", "sounds_dir", Path("/var/lib/asterisk/sounds")),
])
def test_given_a_value_unlike_the_file_when_set_from_the_environment_then_it_wins(var, raw, section, key, expected):
    loaded = load_settings(SHIPPED, environ={var: raw})
    assert value_of(loaded, section, key) == expected


def test_given_a_nested_section_as_json_when_set_from_the_environment_then_it_wins():
    loaded = load_settings(SHIPPED, environ={"CTI_TICKETS_LIGHTS": '{"yellow": 0.6, "orange": 0.9}',
                                             "CTI_TICKETS_TIME_LIMITS": '{"default": {"answer_days": 7}}'})
    assert (loaded.tickets.lights.yellow, loaded.tickets.lights.orange) == (0.6, 0.9)
    assert list(loaded.tickets.time_limits) == ["default"] and loaded.tickets.time_limits["default"].answer_days == 7


@pytest.mark.parametrize(("var", "raw", "expected"), [
    ("CTI_MONITOR_WINDOWS", "15m=900", "monitor.windows (from CTI_MONITOR_WINDOWS): expects a JSON object"),
    ("CTI_MONITOR_WINDOWS", '{"15m": 900', "monitor.windows (from CTI_MONITOR_WINDOWS): not valid JSON"),
    ("CTI_MONITOR_WINDOWS", '{"15m": "soon"}', "monitor.windows.15m (from CTI_MONITOR_WINDOWS)"),
    ("CTI_TICKETS_RETRY_SCHEDULE", "5,later", "tickets.retry_schedule.1 (from CTI_TICKETS_RETRY_SCHEDULE)"),
    ("CTI_AGI_ALLOW", "10.0.0.1,nowhere", "agi.allow (from CTI_AGI_ALLOW)"),
    ("CTI_RECORDINGS_ENABLED", "maybe", "recordings.enabled (from CTI_RECORDINGS_ENABLED)"),
])
def test_given_a_wrong_value_in_the_environment_then_the_message_names_the_key_and_the_variable(
        tmp_path, var, raw, expected):
    with pytest.raises(ConfigError) as err:
        load_settings(SHIPPED, environ={var: raw})
    assert expected in str(err.value)
    done = check_config(SHIPPED, {var: raw})
    assert done.returncode == 2 and expected in done.stderr
