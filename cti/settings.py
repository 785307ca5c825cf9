"""Settings: ``config/cti.yaml``, overridden by ``CTI_<SECTION>_<KEY>`` environment variables.

Validated once at start; a wrong type, an unknown key or an unusable path stops the start with a
message naming the key. ``cti check-config`` runs the same validation.

One environment form per setting type (``env_value``; documented in config/cti.yaml's header and the
README's Configuration section):

- a scalar (text, number of seconds, boolean, path, choice) as itself: ``CTI_AMI_PORT=5038``,
  ``CTI_RECORDINGS_ENABLED=false``; an empty value for an optional path means "not set";
- a list as JSON (``CTI_FLOWS_WORKING_HOURS='["08:30-12:00","13:30-17:30"]'``) or, for a list of
  scalars, comma-separated (``CTI_OUTBOUND_TEST_DIAL_NUMBERS=12315,12369``; empty: the empty list);
- a map or a nested section as a JSON object (``CTI_MONITOR_WINDOWS='{"15m": 900, "1h": 3600}'``).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from cti.calls.settings import CallsSettings
from cti.dispositions.settings import DispositionsSettings
from cti.outbound.settings import OutboundSettings
from cti.settings_base import Section
from cti.tickets.settings import TicketsSettings
from ivr_flows.settings import FlowsSettings
from queue_monitor.settings import MonitorSettings
from recordings.settings import RecordingsSettings

DEFAULT_CONFIG = Path("config/cti.yaml")
ENV_PREFIX = "CTI_"
ENV_CONFIG = "CTI_CONFIG"  # path of the settings file itself
TEST_PREFIX = "CTI_TEST_"  # the test suite's own variables (CTI_TEST_ASTERISK): never settings


class ConfigError(Exception):
    """The settings cannot be used; the message names each bad key."""




class AmiSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(5038, ge=1, le=65535)
    username: str = "cti"
    secret: str = Field("cti-secret", min_length=1)
    action_timeout: float = Field(10.0, gt=0)
    connect_timeout: float = Field(5.0, gt=0)
    ping_interval: float = Field(10.0, gt=0)
    reconnect_min: float = Field(0.5, gt=0)
    reconnect_max: float = Field(30.0, gt=0)


class AgiSettings(Section):
    bind: str = "127.0.0.1"
    port: int = Field(4573, ge=0, le=65535)
    allow: list[str] = ["127.0.0.1"]
    command_timeout: float = Field(30.0, gt=0)
    shutdown_grace: float = Field(10.0, ge=0)

    @field_validator("allow", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value

    @field_validator("allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return value


class DatabaseSettings(Section):
    url: str = "sqlite:///var/cti.db"


class LogSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"   # json: one object per line for log collectors (cti/logs.py)


class HttpSettings(Section):
    """HTTP API and wallboard; who may use which route is cti/roles.py's table, credentials cti/auth.py."""

    bind: str = "127.0.0.1"
    port: int = Field(8345, ge=0, le=65535)
    token: str = ""  # an admin credential in plain text (older versions' one token); see credentials
    credentials: dict[Literal["viewer", "supervisor", "admin", "integration"], list[str]] = {}
    agent_pins: dict[str, list[str]] = {}   # agent id -> scrypt hashes of its PIN(s) (cti credentials pin)
    session_secret: str = ""        # HMAC key of agent sessions; empty: made once in data_dir/.session-secret
    session_hours: float = Field(12.0, gt=0, le=24 * 7)
    refusal_log_interval: float = Field(60.0, gt=0)   # seconds: refused requests are logged once per interval

    @field_validator("credentials")
    @classmethod
    def _hashed(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        from cti.auth import check_hash_form
        for hashes in value.values():
            for item in hashes:
                check_hash_form(item)
        return value

    @field_validator("agent_pins")
    @classmethod
    def _pins(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        from cti.auth import check_pin_form
        for agent, hashes in value.items():
            if not re.fullmatch(r"[0-9A-Za-z_-]{1,32}", agent):
                raise ValueError(f"agent id {agent!r} must be 1-32 letters, digits, '-' or '_'")
            for item in hashes:
                check_pin_form(item)
        return value




DEFAULT_DATA_DIR = Path("var")


def _rebased(value: Any, data_dir: Path) -> Any:
    """A file under var/ (a path or an SQLite URL) moved under ``data_dir``; None if not one."""
    if isinstance(value, Path) and value.parts[:1] == (DEFAULT_DATA_DIR.name,):
        return data_dir.joinpath(*value.parts[1:])
    if isinstance(value, str):
        scheme, sep, rest = value.partition(":///")
        if sep and scheme.startswith("sqlite") and rest.startswith(f"{DEFAULT_DATA_DIR}/"):
            return f"{scheme}:///{data_dir / rest[len(DEFAULT_DATA_DIR.name) + 1:]}"
    return None


class Settings(Section):
    data_dir: Path = DEFAULT_DATA_DIR
    ami: AmiSettings = AmiSettings()
    agi: AgiSettings = AgiSettings()
    database: DatabaseSettings = DatabaseSettings()
    log: LogSettings = LogSettings()
    http: HttpSettings = HttpSettings()
    monitor: MonitorSettings = MonitorSettings()
    flows: FlowsSettings = FlowsSettings()
    tickets: TicketsSettings = TicketsSettings()
    calls: CallsSettings = CallsSettings()
    recordings: RecordingsSettings = RecordingsSettings()
    outbound: OutboundSettings = OutboundSettings()
    dispositions: DispositionsSettings = DispositionsSettings()
    specialists: Path = Path("config/specialists.yaml")   # the specialist directory (cti/specialists.py)

    @field_validator("data_dir")
    @classmethod
    def _writable_dir(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError(f"{value} exists and is not a directory")
        probe = value if value.exists() else value.parent
        while not probe.exists():
            probe = probe.parent
        if not os.access(probe, os.W_OK):
            raise ValueError(f"{value} is not writable")
        return value

    @model_validator(mode="after")
    def _files_follow_data_dir(self) -> Settings:
        """Files under var/ (SQLite databases, recordings) live in data_dir, wherever that is."""
        if self.data_dir == DEFAULT_DATA_DIR:
            return self
        for name in type(self).model_fields:
            section = getattr(self, name)
            if not isinstance(section, BaseModel):
                continue
            moved = {key: new for key in type(section).model_fields
                     if (new := _rebased(getattr(section, key), self.data_dir)) is not None}
            if moved:
                self.__dict__[name] = section.model_copy(update=moved)   # frozen: set once, while validating
        return self


def _shape(annotation: Any) -> str:
    """``"map"`` (dict or nested model), ``"list"`` (of scalars), ``"json_list"`` (of maps) or ``"scalar"``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _shape(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        shapes = {_shape(a) for a in get_args(annotation) if a is not type(None)}
        return shapes.pop() if len(shapes) == 1 else "scalar"
    if origin is dict or (isinstance(annotation, type) and issubclass(annotation, (dict, BaseModel))):
        return "map"
    if origin in (list, tuple, set, frozenset):
        items = [a for a in get_args(annotation) if a is not Ellipsis]
        return "list" if all(_shape(a) == "scalar" for a in items) else "json_list"
    return "scalar"


def env_value(annotation: Any, raw: str) -> Any:
    """The value of environment text ``raw`` for a setting typed ``annotation`` (the module's forms).

    A scalar stays text (pydantic converts it as it converts YAML text); a list or map given as JSON is
    decoded; a list of scalars may be comma-separated. Raises ValueError saying the expected form.
    """
    shape = _shape(annotation)
    if shape == "scalar":
        return raw
    text = raw.strip()
    if text[:1] in ("[", "{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc.msg} at character {exc.pos})") from None
    if shape == "list":
        return [item.strip() for item in text.split(",") if item.strip()]
    expected = "a JSON object, e.g. {\"key\": 1}" if shape == "map" else "a JSON list of objects"
    raise ValueError(f"expects {expected}")


def _env_overrides(environ: dict[str, str]) -> tuple[dict[str, Any], dict[tuple[str, ...], str], list[str],
                                                       list[str]]:
    """Map CTI_SECTION_KEY variables onto the settings tree.

    Returns (values, sources, unknown names, problems): each value already in its type's form (see
    ``env_value``), sources maps a key path to its variable, problems name the variable and the key.
    """
    values: dict[str, Any] = {}
    sources: dict[tuple[str, ...], str] = {}
    known: dict[str, tuple[tuple[str, ...], Any]] = {}
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for key, sub in annotation.model_fields.items():
                known[f"{ENV_PREFIX}{name}_{key}".upper()] = ((name, key), sub.annotation)
        else:
            known[f"{ENV_PREFIX}{name}".upper()] = ((name,), annotation)
    unknown, problems = [], []
    for var, raw in environ.items():
        if not var.startswith(ENV_PREFIX) or var == ENV_CONFIG or var.startswith(TEST_PREFIX):
            continue
        if var not in known:
            unknown.append(var)
            continue
        path, annotation = known[var]
        try:
            value = env_value(annotation, raw)
        except ValueError as exc:
            problems.append(f"{'.'.join(path)} (from {var}): {exc}, got {raw!r}")
            continue
        sources[path] = var
        node = values
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return values, sources, unknown, problems


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """The file's sections with the environment's keys put in; a key's value is replaced whole (a map
    from the environment is the new map, not merged into the file's)."""
    out = dict(base)
    for key, value in over.items():
        section = out.get(key)
        out[key] = {**section, **value} if isinstance(value, dict) and isinstance(section, dict) else value
    return out


def load_settings(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read, merge and validate the settings; raise :class:`ConfigError` listing every problem."""
    environ = dict(os.environ if environ is None else environ)
    explicit = path is not None or ENV_CONFIG in environ
    path = Path(path or environ.get(ENV_CONFIG) or DEFAULT_CONFIG)
    data: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
        data = loaded or {}
    elif explicit:
        raise ConfigError(f"{path}: settings file not found")
    overrides, sources, unknown, env_problems = _env_overrides(environ)
    problems = [f"{var}: unknown setting (no such key in {path})" for var in sorted(unknown)] + env_problems
    try:
        settings = Settings.model_validate(_merge(data, overrides))
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(str(p) for p in err["loc"])
            key = ".".join(loc)
            # an item of a list or map set from the environment names the variable of the whole value
            source = next((sources[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in sources), None)
            where = f" (from {source})" if source else ""
            got = f", got {err['input']!r}" if err["type"] != "extra_forbidden" else ""
            message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{key}{where}: {message}{got}")
        settings = None
    if problems:
        raise ConfigError(f"{path}: invalid settings:\n  " + "\n  ".join(problems))
    return settings
